/**
 * What the chaos harness's `backfill` fault expects from the Scan pages it saw, without a stack: one snapshot per item
 * per read (a page read again after a crash, same request time, is one read), an item only a cut read returned as
 * optional, the newer of stream event and snapshot as the row's newest event, an oversized item quarantined. Expected
 * ids and versions are recomputed here from the documented formulas (docs/backfill.md), not with the shared helpers.
 */
import { createHash } from 'node:crypto';
import type { WireItem } from '@claims-cdc/shared';
import { addReadsToLedger, type PageRead } from '../src/chaos/backfill';
import type { Ledger, NewestEvent } from '../src/chaos/sources';
import { OVERSIZED_ATTRIBUTE } from '../src/chaos/workload';

const TABLE = 'InsuranceClaims';
const MARGIN_MS = 1000;
const T = 1_767_000_000_000;

/** The documented id: `snapshot-` + the first 40 hex digits of SHA-256("snapshot:<reader>:<request ms>:<claim id>"). */
const idOf = (segment: number, requestedAtMs: number, claimId: string) =>
  `snapshot-${createHash('sha256').update(`snapshot:segment-${segment}:${requestedAtMs}:${claimId}`).digest('hex').slice(0, 40)}`;
/** The documented version: (request time − margin) in µs. */
const microsOf = (requestedAtMs: number) => String((requestedAtMs - MARGIN_MS) * 1000);

const item = (claimId: string, extra: Record<string, { S: string }> = {}): WireItem => ({ claim_id: { S: claimId }, claim_status: { S: 'SUBMITTED' }, ...extra }) as WireItem;
const page = (segment: number, requestedAtMs: number, ids: string[]): PageRead => ({ segment, requestedAtMs, sentAtMs: requestedAtMs + 1, items: ids.map((id) => item(id)) });

const ledger = (newest: Array<[string, NewestEvent]> = []): Ledger => ({
  changeRecords: 0,
  byEventName: { INSERT: 0, MODIFY: 0, REMOVE: 0 },
  historyIds: new Set(),
  quarantined: [],
  removeEventIds: new Map(),
  newest: new Map(newest),
  duplicates: 0,
  copies: new Map(),
});

describe('chaos backfill: what the reads must leave', () => {
  it('a page read again with its recorded request time is one read: each item once', () => {
    // Prepare: the crash cut the first read of segment 0's page; the resumed run read it again with the same time.
    const l = ledger();
    // Act
    const counts = addReadsToLedger(l, [page(0, T, ['CLM-A', 'CLM-B']), page(1, T + 5, ['CLM-C']), page(0, T, ['CLM-A', 'CLM-B']), page(0, T + 40, ['CLM-D'])], TABLE, MARGIN_MS);
    // Assess
    expect([...l.historyIds].sort()).toEqual([idOf(0, T, 'CLM-A'), idOf(0, T, 'CLM-B'), idOf(1, T + 5, 'CLM-C'), idOf(0, T + 40, 'CLM-D')].sort());
    expect(l.mayHistoryIds ?? new Set()).toEqual(new Set());
    expect(counts).toEqual({ pages: 4, pagesReread: 1, itemsRead: 6, oversizedReads: 0 });
  });

  it('an item only the cut read returned (removed before the read again) may be in history; one read on two pages is two reads', () => {
    // Prepare
    const l = ledger();
    // Act: CLM-B gone when the page is read again; CLM-C pushed from the first page to the next one.
    addReadsToLedger(l, [page(0, T, ['CLM-A', 'CLM-B']), page(0, T, ['CLM-A']), page(0, T + 9, ['CLM-C']), page(1, T + 2, ['CLM-C'])], TABLE, MARGIN_MS);
    // Assess
    expect([...(l.mayHistoryIds ?? [])]).toEqual([idOf(0, T, 'CLM-B')]);
    expect(l.historyIds.has(idOf(0, T, 'CLM-B'))).toBe(false);
    expect(l.historyIds.has(idOf(0, T + 9, 'CLM-C')) && l.historyIds.has(idOf(1, T + 2, 'CLM-C'))).toBe(true);
  });

  it.each([
    { name: 'stream event older than the snapshot version: the snapshot is newest', streamMicros: String((T - MARGIN_MS) * 1000 - 1), snapshotWins: true },
    { name: 'stream event at the snapshot version: the stream event (any sequence number sorts above "")', streamMicros: microsOf(T), snapshotWins: false },
    { name: 'stream event inside the margin: the stream event', streamMicros: String((T - 10) * 1000), snapshotWins: false },
  ])('$name', ({ streamMicros, snapshotWins }) => {
    // Prepare
    const stream: NewestEvent = { eventId: 'shardId-000000000000:1', eventName: 'MODIFY', micros: streamMicros, sequenceNumber: '49' };
    const l = ledger([['CLM-A', stream]]);
    // Act
    addReadsToLedger(l, [page(0, T, ['CLM-A', 'CLM-Z'])], TABLE, MARGIN_MS);
    // Assess: CLM-Z has no stream event at all, so its snapshot is its newest.
    expect(l.newest.get('CLM-A')).toEqual(snapshotWins ? { eventId: idOf(0, T, 'CLM-A'), eventName: 'SNAPSHOT', micros: microsOf(T), sequenceNumber: '' } : stream);
    expect(l.newest.get('CLM-Z')).toEqual({ eventId: idOf(0, T, 'CLM-Z'), eventName: 'SNAPSHOT', micros: microsOf(T), sequenceNumber: '' });
  });

  it('the later of two reads of one claim is its snapshot candidate', () => {
    // Prepare
    const l = ledger();
    // Act
    addReadsToLedger(l, [page(1, T + 30, ['CLM-A']), page(0, T, ['CLM-A'])], TABLE, MARGIN_MS);
    // Assess
    expect(l.newest.get('CLM-A')?.eventId).toBe(idOf(1, T + 30, 'CLM-A'));
  });

  it('an oversized item read is expected in quarantine as too-large (its INSERT record at the snapshot version), not in history', () => {
    // Prepare
    const big = item('CLM-BIG', { [OVERSIZED_ATTRIBUTE]: { S: 'x'.repeat(300_000) } });
    const l = ledger();
    // Act
    const counts = addReadsToLedger(l, [{ segment: 0, requestedAtMs: T, sentAtMs: T, items: [big, item('CLM-A')] }], TABLE, MARGIN_MS);
    // Assess
    expect(counts.oversizedReads).toBe(1);
    expect(l.historyIds).toEqual(new Set([idOf(0, T, 'CLM-A')]));
    expect(l.quarantined).toHaveLength(1);
    expect(l.quarantined[0]?.reason).toBe('too-large');
    const record = JSON.parse(Buffer.from(l.quarantined[0]!.payload, 'base64').toString('utf8')) as { eventName: string; eventID: string; dynamodb: { NewImage: WireItem; ApproximateCreationDateTime: number } };
    expect(record.eventName).toBe('INSERT');
    expect(record.eventID).toBe(idOf(0, T, 'CLM-BIG'));
    expect(record.dynamodb.NewImage).toEqual(big);
    expect(String(record.dynamodb.ApproximateCreationDateTime)).toBe(microsOf(T));
  });
});
