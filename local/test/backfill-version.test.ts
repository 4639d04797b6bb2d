/**
 * The snapshot version rule on its boundaries, through the real merge (DuckDB, the dialect's SQL) and the in-memory
 * oracle: a Scan page requested at T gives its items version (T − margin, ''), so a stream write just before T − margin
 * is overridden by the snapshot, and one at T − margin, at T or just after T wins over it, whatever the arrival order.
 */
import { type Claim, type ClaimRow, decide, versionKey } from '@claims-cdc/shared';
import { DEFAULT_SKEW_MARGIN_MS, SNAPSHOT_EVENT_NAME, snapshotDeleteRow, snapshotEventId, snapshotRow, snapshotVersion } from '@claims-cdc/shared/domain/snapshot';
import { TABLES } from '@claims-cdc/shared/warehouse/tables';
import { claims, row, TABLE_NAME, wire, withStatus } from '@claims-cdc/shared/test-support/factories';
import { openTestWarehouse } from '@claims-cdc/shared/test-support/warehouse';

const [claim] = claims(1, 31) as [Claim];
/** The page request time (ms) and the margin. */
const T = 1_764_000_000_000;
const M = DEFAULT_SKEW_MARGIN_MS;
const read = { reader: 'segment-0', requestedAtMs: T, marginMs: M };
/** The snapshot: what the Scan returned (status Approved). */
const snapshot = (): ClaimRow => snapshotRow(wire(withStatus(claim, 'Approved')), TABLE_NAME, read, T);
/** A stream MODIFY to Paid at `micros`, with a Kinesis sequence number. */
const streamModify = (micros: number): ClaimRow => row({ eventName: 'MODIFY', claim: withStatus(claim, 'Paid'), micros, eventId: `s-${micros}`, seq: '49600000000000000001' });
const streamRemove = (micros: number): ClaimRow => row({ eventName: 'REMOVE', claim, micros, eventId: `r-${micros}`, seq: '49600000000000000002' });

type Winner = 'snapshot' | 'stream';
const cases: ReadonlyArray<{ name: string; micros: number; winner: Winner }> = [
  { name: 'stream write 1 ms before T − margin (the snapshot reflects it)', micros: (T - M - 1) * 1000, winner: 'snapshot' },
  { name: 'stream write in the last microsecond before T − margin', micros: (T - M) * 1000 - 1, winner: 'snapshot' },
  { name: 'stream write exactly at T − margin', micros: (T - M) * 1000, winner: 'stream' },
  { name: 'stream write just before the page request (inside the margin)', micros: (T - 1) * 1000, winner: 'stream' },
  { name: 'stream write at the page request', micros: T * 1000, winner: 'stream' },
  { name: 'stream write just after the page request', micros: T * 1000 + 1, winner: 'stream' },
];

/** Loads rows one load at a time, merging after each, and returns the destination's status and eventName. */
async function mergeInOrder(loads: readonly ClaimRow[]): Promise<Array<Record<string, unknown>>> {
  const warehouse = await openTestWarehouse({ path: ':memory:' });
  try {
    await warehouse.init();
    for (const r of loads) {
      await warehouse.stage([r]);
      await warehouse.merge();
    }
    return await warehouse.query(`SELECT claimStatus, eventName FROM ${TABLES.destination}`);
  } finally {
    await warehouse.close();
  }
}

describe('the snapshot version rule', () => {
  it('a snapshot is versioned (T − margin) in microseconds with an empty sequence number, and named SNAPSHOT', () => {
    // Act
    const r = snapshot();
    // Assess
    expect(snapshotVersion(read)).toEqual({ eventCreationUnixTime: String((T - M) * 1000), sequenceNumber: '' });
    expect(r).toMatchObject({ eventName: SNAPSHOT_EVENT_NAME, eventCreationUnixTime: String((T - M) * 1000), sequenceNumber: '', claimStatus: 'Approved' });
  });

  it('event ids are the same for the same read of an item and differ for another read, segment or item', () => {
    // Act
    const id = snapshotEventId(read, claim.claim_id);
    // Assess
    expect(snapshot().eventId).toBe(id);
    expect(snapshotEventId({ ...read }, claim.claim_id)).toBe(id);
    expect(new Set([id, snapshotEventId({ ...read, requestedAtMs: T + 1 }, claim.claim_id), snapshotEventId({ ...read, reader: 'segment-1' }, claim.claim_id), snapshotEventId(read, 'CLM-OTHER')]).size).toBe(4);
  });

  describe.each(cases)('$name', ({ micros, winner }) => {
    const expected = winner === 'snapshot' ? { claimStatus: 'Approved', eventName: 'SNAPSHOT' } : { claimStatus: 'Paid', eventName: 'MODIFY' };

    it(`the oracle orders it: ${winner} wins`, () => {
      // Act
      const streamKey = versionKey({ eventCreationUnixTime: String(micros), sequenceNumber: '49600000000000000001' });
      const snapshotKey = versionKey(snapshotVersion(read));
      // Assess
      expect(decide({ eventName: 'INSERT', eventKey: snapshotKey, destinationKey: streamKey })).toBe(winner === 'snapshot' ? 'upsert' : 'stale');
    });

    it.each([
      ['stream first, snapshot later', 'stream-first'],
      ['snapshot first, stream later', 'snapshot-first'],
    ])(`the merge keeps the ${winner}'s image: %s`, async (_, order) => {
      // Act
      const loads = order === 'stream-first' ? [streamModify(micros), snapshot()] : [snapshot(), streamModify(micros)];
      // Assess
      expect(await mergeInOrder(loads)).toEqual([expected]);
    });
  });

  it.each([
    ['at the page request', T * 1000],
    ['at T − margin', (T - M) * 1000],
  ])('a REMOVE %s wins over the snapshot in either order (nothing is resurrected)', async (_, micros) => {
    // Act
    const removedThenSnapshot = await mergeInOrder([streamRemove(micros), snapshot()]);
    const snapshotThenRemoved = await mergeInOrder([snapshot(), streamRemove(micros)]);
    // Assess
    expect(removedThenSnapshot).toEqual([]);
    expect(snapshotThenRemoved).toEqual([]);
  });

  it('a REMOVE before T − margin is overridden by a snapshot that still holds the item (it was written again since)', async () => {
    // Act
    const result = await mergeInOrder([streamRemove((T - M) * 1000 - 1), snapshot()]);
    // Assess
    expect(result).toEqual([{ claimStatus: 'Approved', eventName: 'SNAPSHOT' }]);
  });

  it('a repair delete is a REMOVE at the snapshot version: it deletes an older row, not a newer one', async () => {
    // Act
    const olderRow = await mergeInOrder([streamModify((T - M) * 1000 - 1), snapshotDeleteRow(claim.claim_id, TABLE_NAME, read, T)]);
    const newerRow = await mergeInOrder([streamModify(T * 1000), snapshotDeleteRow(claim.claim_id, TABLE_NAME, read, T)]);
    // Assess
    expect(olderRow).toEqual([]);
    expect(newerRow).toEqual([{ claimStatus: 'Paid', eventName: 'MODIFY' }]);
  });
});
