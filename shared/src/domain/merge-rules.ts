/**
 * THE merge rules and THE version order, stated once. The warehouse dialects build their SQL from these tables
 * (`warehouse/dialect.ts`: {@link VERSION_PARTS} and {@link MERGE_RULES}); the test oracle runs {@link decide} and
 * {@link versionKey}; a property test runs the SQL and the oracle side by side.
 *
 * 1. Order: an event's version is its creation time to the millisecond, then its Kinesis sequence number, then the
 *    microseconds within the millisecond (see {@link VERSION_PARTS} for why). The newest version of a claim wins.
 *    Duplicates of one event (same eventId) are one event.
 * 2. Newest INSERT/MODIFY → upsert the full image (a MODIFY without its INSERT still creates the row).
 *    Newest REMOVE → delete the row and keep a tombstone with its version, so older events arriving later never
 *    resurrect the claim. A REMOVE of an unknown claim leaves only a tombstone.
 * 3. An event not newer than what the destination (or the tombstone) already holds changes nothing.
 */

/** Kinesis sequence numbers are decimal text of up to 128 digits (Kinesis API reference, `SequenceNumber`). */
export const MAX_SEQUENCE_DIGITS = 128;

/** eventCreationUnixTime (microseconds) as fixed-width text: 20 digits hold any 64-bit value. */
export const MICROS_DIGITS = 20;

/** One part of a version key: a slice of a zero-padded field. */
export interface VersionPart {
  readonly field: 'eventCreationUnixTime' | 'sequenceNumber';
  /** The field is left-padded with zeros to this width... */
  readonly width: number;
  /** ...then this slice of it (0-based start, length) is the part. */
  readonly start: number;
  readonly length: number;
}

/**
 * The version order, in comparison order. Why milliseconds first and microseconds last: DynamoDB streams write
 * `ApproximateCreationDateTime` in milliseconds or microseconds (`ApproximateCreationDateTimePrecision`, and a table
 * can switch), so two changes of one item in one millisecond may carry different precisions; a millisecond record's
 * time (scaled to µs, ending in 000) would otherwise sort before a microsecond record of the same millisecond that it
 * actually follows. Within a millisecond the Kinesis sequence number decides: every change of one item goes to one
 * shard (the partition key is the item's key), where sequence numbers grow with arrival order. The microseconds only
 * break the remaining ties (records without a sequence number, such as replayed files).
 */
export const VERSION_PARTS: readonly VersionPart[] = [
  { field: 'eventCreationUnixTime', width: MICROS_DIGITS, start: 0, length: MICROS_DIGITS - 3 },
  { field: 'sequenceNumber', width: MAX_SEQUENCE_DIGITS, start: 0, length: MAX_SEQUENCE_DIGITS },
  { field: 'eventCreationUnixTime', width: MICROS_DIGITS, start: MICROS_DIGITS - 3, length: 3 },
];

/** The parts of a version. */
export interface Versioned {
  readonly eventCreationUnixTime: string;
  readonly sequenceNumber: string;
}

/** A version as one fixed-width string: comparing two keys compares two versions. Inputs are checked at decode. */
export const versionKey = (event: Versioned): string =>
  VERSION_PARTS.map((p) => (event[p.field] ?? '').padStart(p.width, '0').slice(p.start, p.start + p.length)).join('');

/** Negative when `a` is older than `b`, positive when newer; ties broken by event id so the order is total. */
export const compareEvents = (a: Versioned & { eventId: string }, b: Versioned & { eventId: string }): number => {
  const ka = versionKey(a);
  const kb = versionKey(b);
  if (ka !== kb) return ka < kb ? -1 : 1;
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
};

/** What the merge does with the newest staged event of a claim. */
export type MergeAction = 'upsert' | 'delete' | 'stale';

/** The conditions the rules test, in words; each dialect and {@link decide} implement exactly these. */
export type MergeCondition = 'tombstoneNotOlder' | 'destinationNotOlder' | 'isRemove' | 'otherwise';

/** The newest staged event of one claim and the versions the destination row and the tombstone hold. */
export interface DecisionInput {
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly eventKey: string;
  readonly destinationKey?: string | undefined;
  readonly tombstoneKey?: string | undefined;
}

/** THE merge rules: the first rule whose condition holds gives the action. */
export const MERGE_RULES: ReadonlyArray<{ readonly when: MergeCondition; readonly action: MergeAction }> = [
  { when: 'tombstoneNotOlder', action: 'stale' },
  { when: 'destinationNotOlder', action: 'stale' },
  { when: 'isRemove', action: 'delete' },
  { when: 'otherwise', action: 'upsert' },
];

const HOLDS: Record<MergeCondition, (input: DecisionInput) => boolean> = {
  tombstoneNotOlder: (i) => i.tombstoneKey !== undefined && i.eventKey <= i.tombstoneKey,
  destinationNotOlder: (i) => i.destinationKey !== undefined && i.eventKey <= i.destinationKey,
  isRemove: (i) => i.eventName === 'REMOVE',
  otherwise: () => true,
};

/** The decision for the newest staged event of one claim ({@link MERGE_RULES}, evaluated in memory). */
export const decide = (input: DecisionInput): MergeAction => (MERGE_RULES.find((rule) => HOLDS[rule.when](input)) as (typeof MERGE_RULES)[number]).action;
