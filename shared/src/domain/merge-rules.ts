/**
 * THE merge rules, stated once. The warehouse dialects turn these into SQL (`warehouse/dialect.ts`); the
 * test oracle and the chaos harness use the same functions, so SQL and model cannot drift apart.
 *
 * 1. Order: an event's version is (eventCreationUnixTime, Kinesis sequence number); the newest version of a claim wins.
 *    Duplicates of one event (same eventId) are one event.
 * 2. Newest INSERT/MODIFY → upsert the full image (a MODIFY without its INSERT still creates the row).
 *    Newest REMOVE → delete the row and keep a tombstone with its version, so older events arriving later never
 *    resurrect the claim. A REMOVE of an unknown claim leaves only a tombstone.
 * 3. An event not newer than what the destination (or the tombstone) already holds changes nothing.
 */

/** Widths that make the decimal version parts compare correctly as fixed-width text. */
export const VERSION_WIDTH = { eventCreationUnixTime: 20, sequenceNumber: 64 } as const;

/** The parts of a version, in comparison order. */
export interface Versioned {
  readonly eventCreationUnixTime: string;
  readonly sequenceNumber: string;
}

/** A version as one fixed-width string: comparing two keys compares two versions. */
export const versionKey = (event: Versioned): string =>
  event.eventCreationUnixTime.padStart(VERSION_WIDTH.eventCreationUnixTime, '0') +
  event.sequenceNumber.padStart(VERSION_WIDTH.sequenceNumber, '0');

/** Negative when `a` is older than `b`, positive when newer; ties broken by event id so the order is total. */
export const compareEvents = (a: Versioned & { eventId: string }, b: Versioned & { eventId: string }): number => {
  const ka = versionKey(a);
  const kb = versionKey(b);
  if (ka !== kb) return ka < kb ? -1 : 1;
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
};

/** What the merge does with the newest staged event of a claim. */
export type MergeAction = 'upsert' | 'delete' | 'stale';

/**
 * The decision for the newest staged event of one claim, given the version the destination row and the tombstone
 * hold (undefined when there is none).
 */
export const decide = (eventName: 'INSERT' | 'MODIFY' | 'REMOVE', eventKey: string, destKey: string | undefined, tombstoneKey: string | undefined): MergeAction => {
  if (tombstoneKey !== undefined && !(eventKey > tombstoneKey)) return 'stale';
  if (destKey !== undefined && !(eventKey > destKey)) return 'stale';
  return eventName === 'REMOVE' ? 'delete' : 'upsert';
};
