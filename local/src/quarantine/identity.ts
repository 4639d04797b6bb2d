/**
 * Which claims and events a record is about, so a re-drive can check that the fixed record replaces the quarantined
 * one and not some other claim's (a wrong file would otherwise overwrite that claim in the destination). Read
 * leniently from the quarantined payload (it was rejected, so it may be malformed); only ids and event names are
 * kept, never values.
 */
import type { EntryOrigin, QuarantineEntryWithPayload } from './store';

/** One event a record carries: its claim, and its event id and name when the record has them. */
export interface EventIdentity {
  readonly claimId: string;
  readonly eventId?: string;
  readonly eventName?: string;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);

const parse = (json: string): unknown => {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
};

/** A stream payload is the base64 `kinesis.data`: decoded to the DynamoDB→Kinesis record's JSON text. */
export function decodedPayload(entry: QuarantineEntryWithPayload): string | undefined {
  const payload = entry.payload;
  if (payload === undefined || entry.origin.stage !== 'transform' || !/^[A-Za-z0-9+/]*={0,2}$/.test(payload) || payload.length % 4 !== 0) return payload;
  return Buffer.from(payload, 'base64').toString('utf8');
}

/**
 * The events of a record of an origin: a DynamoDB→Kinesis record (transform origin) carries one, a load-queue row
 * message one per row. Undefined when the text does not say which claim it is for.
 */
export function eventsOf(stage: EntryOrigin['stage'], json: string): EventIdentity[] | undefined {
  const value = parse(json) as Record<string, unknown> | undefined;
  if (!value || typeof value !== 'object') return undefined;
  if (stage === 'transform') {
    const keys = (value.dynamodb as { Keys?: { claim_id?: { S?: unknown } } } | undefined)?.Keys;
    const claimId = text(keys?.claim_id?.S);
    if (!claimId) return undefined;
    const eventId = text(value.eventID);
    const eventName = text(value.eventName);
    return [{ claimId, ...(eventId ? { eventId } : {}), ...(eventName ? { eventName } : {}) }];
  }
  if (stage === 'load') {
    const rows = Array.isArray(value.rows) ? (value.rows as Record<string, unknown>[]) : [];
    const events = rows.flatMap((row) => {
      const claimId = text(row?.claimId);
      if (!claimId) return [];
      const eventId = text(row.eventId);
      const eventName = text(row.eventName);
      return [{ claimId, ...(eventId ? { eventId } : {}), ...(eventName ? { eventName } : {}) }];
    });
    return events.length > 0 ? events : undefined;
  }
  return undefined;
}

const describe = (events: readonly EventIdentity[]): string =>
  events.map((e) => `claim ${e.claimId}${e.eventId ? ` event ${e.eventId}` : ''}${e.eventName ? ` (${e.eventName})` : ''}`).join(', ');

const key = (e: EventIdentity, withEvent: boolean): string => (withEvent ? `${e.claimId}\u0000${e.eventId ?? ''}\u0000${e.eventName ?? ''}` : e.claimId);

/**
 * Why the fixed record is not for the same claims and events as the quarantined entry, or undefined when it is.
 * Events are compared when the quarantined record names them (its event id and name must be kept); claim ids always.
 * The reason names claim and event ids only.
 */
export function identityMismatch(entry: QuarantineEntryWithPayload, fixed: string): string | undefined {
  const original = decodedPayload(entry);
  if (original === undefined) return `not every part of ${entry.id} has been received, so the fixed record cannot be compared with it`;
  const was = eventsOf(entry.origin.stage, original);
  if (!was) return `the quarantined record ${entry.id} does not say which claim it is for, so the fixed record cannot be compared with it`;
  const now = eventsOf(entry.origin.stage, fixed);
  if (!now) return `the fixed record does not say which claim it is for (the quarantined one is for ${describe(was)})`;
  const withEvent = was.some((e) => e.eventId !== undefined || e.eventName !== undefined);
  const same = (a: readonly EventIdentity[], b: readonly EventIdentity[]) => [...new Set(a.map((e) => key(e, withEvent)))].sort().join('\n') === [...new Set(b.map((e) => key(e, withEvent)))].sort().join('\n');
  if (same(was, now)) return undefined;
  const claimsDiffer = !same(was.map((e) => ({ claimId: e.claimId })), now.map((e) => ({ claimId: e.claimId })));
  return `the fixed record is for ${describe(now)}, but the quarantined one is for ${describe(was)}${claimsDiffer ? '' : ': keep its event id and name'}`;
}
