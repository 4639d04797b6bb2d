/**
 * THE snapshot rule: how an item read by a Scan (a backfill, or a repair by `verify --repair`) travels as a row next
 * to the stream's change events, and which version it gets so the merge rules (`merge-rules.ts`) order it correctly.
 *
 * A Scan page requested at client time T returns each item as DynamoDB holds it when the read reaches it, at or after
 * T. The snapshot row gets the version `(T − margin, sequence number '')`:
 * - a stream event written at or after T − margin has a newer version (same millisecond: any sequence number sorts
 *   above ''), so it wins over the snapshot, and the newest of those events is the item's state;
 * - a stream event written before T − margin was written before the read reached the item (as long as the client's
 *   clock is not more than `margin` ahead of DynamoDB's), so the snapshot already reflects it and wins over it;
 * - a REMOVE after the read is newer than the snapshot (a tombstone stops it); an item deleted before the Scan
 *   reached it is not returned, so nothing is resurrected.
 * Labelling a read with a version older than its content is always safe (every write after T − margin outranks it);
 * newer would not be: that is why the page's request time, not its receipt, is used, and why a re-read page keeps the
 * request time of its first read (its event ids stay the same, so the load keeps one copy).
 *
 * Pure (hashing only): the CLI's backfill, `verify --repair` and a deployed backfill function share it.
 */
import { createHash } from 'node:crypto';
import { buildWireChangeRecord, type DynamoDBKinesisRecord, type WireItem } from './change-record';
import { checkRow } from './cell-rules';
import { toChangeEvent } from './change-event';
import type { ClaimRow } from './columns';
import { RecordRejectedError } from './errors';
import { toClaimRow } from './flatten';
import type { Versioned } from './merge-rules';

/** The eventName of a snapshot row, in the load queue, the history table and (until a newer event) the destination. */
export const SNAPSHOT_EVENT_NAME = 'SNAPSHOT';

/**
 * The default clock skew tolerated between the reader's clock and DynamoDB's (and the imprecision of
 * `ApproximateCreationDateTime`): one second. NTP keeps hosts and Lambda within milliseconds; a larger margin costs
 * nothing in correctness (more stream events outrank the snapshot, and they are newer anyway).
 */
export const DEFAULT_SKEW_MARGIN_MS = 1_000;

/** The largest margin accepted: one hour (beyond that the clock is wrong, not skewed). */
export const MAX_SKEW_MARGIN_MS = 3_600_000;

/** Where one snapshot comes from: the page read that returned it. */
export interface SnapshotRead {
  /** What read it: `segment-<n>` for a backfill segment, `repair` for `verify --repair`. */
  readonly reader: string;
  /** When the page (or the item) was requested, client clock, milliseconds since the epoch. */
  readonly requestedAtMs: number;
  /** The clock skew tolerated, milliseconds ({@link DEFAULT_SKEW_MARGIN_MS}). */
  readonly marginMs: number;
}

/** The version of a snapshot read: `(requestedAt − margin)` in microseconds, sequence number `''`. */
export const snapshotVersion = (read: Pick<SnapshotRead, 'requestedAtMs' | 'marginMs'>): Versioned => {
  const micros = (read.requestedAtMs - read.marginMs) * 1000;
  if (!Number.isSafeInteger(micros) || micros <= 0) throw new RangeError('the snapshot time is not a plausible time');
  return { eventCreationUnixTime: String(micros), sequenceNumber: '' };
};

/**
 * A deterministic event id per item and read: re-sending a page (after a crash, with the request time kept in the
 * checkpoint) gives the same ids, and the load keeps each event once.
 */
export const snapshotEventId = (read: Pick<SnapshotRead, 'reader' | 'requestedAtMs'>, claimId: string): string =>
  `snapshot-${createHash('sha256').update(`snapshot:${read.reader}:${read.requestedAtMs}:${claimId}`).digest('hex').slice(0, 40)}`;

/** The item as the DynamoDB→Kinesis record of an INSERT at the snapshot's version (what a rejected snapshot is kept as). */
export const snapshotChangeRecord = (item: WireItem, tableName: string, read: SnapshotRead): DynamoDBKinesisRecord => {
  const claimId = item.claim_id;
  return buildWireChangeRecord({
    eventName: 'INSERT',
    tableName,
    keys: claimId === undefined ? {} : { claim_id: claimId },
    newImage: item,
    micros: Number(snapshotVersion(read).eventCreationUnixTime),
    eventId: snapshotEventId(read, String(claimId?.S ?? '')),
  });
};

/**
 * The snapshot row of an item: the item decoded, checked (claim schema, key, values the warehouse accepts) and
 * flattened exactly as the transform does a change, with eventName {@link SNAPSHOT_EVENT_NAME} and the snapshot version.
 *
 * @throws RecordRejectedError when the pipeline would quarantine the item's changes (the caller quarantines it).
 */
export const snapshotRow = (item: WireItem, tableName: string, read: SnapshotRead, nowMs = Date.now()): ClaimRow => {
  const record = snapshotChangeRecord(item, tableName, read);
  const row = toClaimRow(toChangeEvent(record, '', nowMs));
  return checkRow({ ...row, eventName: SNAPSHOT_EVENT_NAME });
};

/**
 * The row that deletes a claim DynamoDB no longer holds (`verify --repair` of an extra row): a REMOVE at the snapshot
 * version, so it travels and merges as any REMOVE does (a stream event newer than the read still wins).
 */
export const snapshotDeleteRow = (claimId: string, tableName: string, read: SnapshotRead, nowMs = Date.now()): ClaimRow => {
  if (claimId.length === 0) throw new RecordRejectedError('not-a-claim', 'empty claim id');
  const record = buildWireChangeRecord({
    eventName: 'REMOVE',
    tableName,
    keys: { claim_id: { S: claimId } },
    micros: Number(snapshotVersion(read).eventCreationUnixTime),
    eventId: snapshotEventId(read, claimId),
  });
  return checkRow(toClaimRow(toChangeEvent(record, '', nowMs)));
};
