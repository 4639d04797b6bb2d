/**
 * The checks after the drain. Every comparison is row by row or id by id, and every message names claim ids,
 * event ids, column names and counts only — never a value (they are PHI).
 */
import { createHash } from 'node:crypto';
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ALL_COLUMNS, TABLES, toClaimRow, type ClaimRow, type ColumnSpec, type WireItem } from '@claims-cdc/shared';
import { marshallImage } from '@claims-cdc/shared/test-support/change-records';
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import type { QuarantineEntryWithPayload } from '../quarantine';
import type { RunningStack } from '../stack';
import { canonicalJson } from './exact-json';
import type { Ledger } from './sources';

/** One line of the result table. */
export interface Check {
  readonly name: string;
  readonly expected: string;
  readonly actual: string;
  readonly ok: boolean;
  /** Claim ids / event ids / column names that explain a miss (no values). */
  readonly details?: readonly string[];
}

/**
 * The columns compared between the destination and the source items: everything the registry derives from the item
 * image (the 32 quickstart columns minus the two event columns, plus the raw image). Event metadata (which event won,
 * when it was loaded) is not a property of the item and is checked through history instead.
 */
export const COMPARED_COLUMNS: readonly ColumnSpec[] = ALL_COLUMNS.filter((c) => c.source.kind === 'image' || c.source.kind === 'rawImage');

const isJsonColumn = (c: ColumnSpec): boolean => c.type === 'JSON' || (c.source.kind === 'image' && c.source.encode === 'json');

/**
 * A value as compared: numbers as numbers (the FLOAT/INTEGER columns hold doubles and 64-bit integers), JSON as
 * canonical JSON text — keys sorted (key order is not data), every number's literal text kept, so a raw image or
 * JSON column that lost a digit differs — the rest as text.
 */
function normalize(column: ColumnSpec, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (column.type === 'FLOAT' || column.type === 'INTEGER') return Number(value);
  if (isJsonColumn(column)) {
    try {
      return canonicalJson(String(value));
    } catch {
      return `unparseable:${String(value).length}`;
    }
  }
  return String(value);
}

/** The compared values of a row, in registry order. */
const valuesOf = (row: Record<string, unknown>): unknown[] => COMPARED_COLUMNS.map((c) => normalize(c, row[c.name]));

const hashOf = (values: unknown[]): string => createHash('sha256').update(JSON.stringify(values)).digest('hex');

/**
 * The row the registry makes of an item in DynamoDB JSON (the same `toClaimRow` the transform runs on a stream
 * record's image): its raw image is the item's exact JSON (`itemJson`), every number's digits kept.
 */
export const rowOfWireItem = (item: WireItem): ClaimRow =>
  toClaimRow({ eventId: '-', eventName: 'INSERT', claimId: String(item.claim_id?.S), eventCreationUnixTime: '0', sequenceNumber: '', newImage: item });

/** The row of a plain (model) item: marshalled as the SDK writes it (`NumberValue` keeps its digits), then as above. */
export const rowOfItem = (item: Record<string, unknown>): ClaimRow => rowOfWireItem(marshallImage(item));

/** Rows by claim id: each row's compared values and their hash. */
export type HashedRows = Map<string, { hash: string; values: unknown[] }>;

const hashRows = (rows: Iterable<ClaimRow>): HashedRows => {
  const out: HashedRows = new Map();
  for (const row of rows) {
    const values = valuesOf(row);
    out.set(String(row.claimId), { hash: hashOf(values), values });
  }
  return out;
};

/** Source items (plain, as the workload model keeps them), hashed: claim id → { hash, values }. */
export function hashItems(items: Iterable<Record<string, unknown>>): HashedRows {
  return hashRows([...items].map(rowOfItem));
}

/** Source items in DynamoDB JSON (a table scan), hashed. */
export function hashWireItems(items: Iterable<WireItem>): HashedRows {
  return hashRows([...items].map(rowOfWireItem));
}

/** Destination rows, hashed. Timestamps are read as ISO text with microseconds (the item's own format). */
export async function hashDestination(warehouse: Warehouse): Promise<HashedRows> {
  const select = COMPARED_COLUMNS.map((c) => (c.type === 'TIMESTAMP_NTZ' ? `strftime(${c.name}, '%Y-%m-%dT%H:%M:%S.%fZ') AS ${c.name}` : c.name));
  const rows = await warehouse.query(`SELECT ${select.join(', ')} FROM ${TABLES.destination}`);
  const out: HashedRows = new Map();
  for (const row of rows) {
    const values = valuesOf(row);
    out.set(String(row.claimId), { hash: hashOf(values), values });
  }
  return out;
}

/** Every item of the table (strongly consistent scan), in DynamoDB JSON: numbers keep their text. */
export async function scanTable(stack: RunningStack): Promise<WireItem[]> {
  const items: WireItem[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const reply = await stack.clients.dynamodb.send(
      new ScanCommand({ TableName: stack.resources.table.name, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }),
    );
    for (const item of reply.Items ?? []) items.push(item as unknown as WireItem);
    start = reply.LastEvaluatedKey;
  } while (start);
  return items;
}

/** Compares two hashed row sets; details name claim ids and the columns that differ. */
export function compareRows(
  name: string,
  expected: HashedRows,
  actual: HashedRows,
): Check {
  const missing = [...expected.keys()].filter((id) => !actual.has(id));
  const extra = [...actual.keys()].filter((id) => !expected.has(id));
  const differing: string[] = [];
  for (const [id, want] of expected) {
    const got = actual.get(id);
    if (!got || got.hash === want.hash) continue;
    const columns = COMPARED_COLUMNS.filter((_, i) => JSON.stringify(want.values[i]) !== JSON.stringify(got.values[i])).map((c) => c.name);
    differing.push(`${id} differs in ${columns.join(', ')}`);
  }
  const ok = missing.length === 0 && extra.length === 0 && differing.length === 0;
  return {
    name,
    expected: `${expected.size} rows`,
    actual: `${actual.size} rows, ${differing.length} differing, ${missing.length} missing, ${extra.length} extra`,
    ok,
    details: [...missing.slice(0, 5).map((id) => `${id} missing`), ...extra.slice(0, 5).map((id) => `${id} should not be there`), ...differing.slice(0, 5)],
  };
}

/** History holds every expected event id exactly once, and nothing else. */
export async function checkHistory(warehouse: Warehouse, ledger: Ledger): Promise<Check[]> {
  const rows = await warehouse.query(`SELECT eventId, COUNT(*) AS n FROM ${TABLES.history} GROUP BY eventId`);
  const seen = new Set<string>();
  const twice: string[] = [];
  for (const row of rows) {
    seen.add(String(row.eventId));
    if (Number(row.n) > 1) twice.push(`${String(row.eventId)} ×${String(row.n)}`);
  }
  const missing = [...ledger.historyIds].filter((id) => !seen.has(id));
  const unexpected = [...seen].filter((id) => !ledger.historyIds.has(id) && !ledger.mayHistoryIds?.has(id));
  return [
    {
      name: 'history event ids = events emitted',
      expected: `${ledger.historyIds.size} ids${ledger.mayHistoryIds?.size ? ` (+ up to ${ledger.mayHistoryIds.size} may)` : ''}`,
      actual: `${seen.size} ids, ${missing.length} missing, ${unexpected.length} unexpected`,
      ok: missing.length === 0 && unexpected.length === 0,
      details: [...missing.slice(0, 5).map((id) => `event ${id} missing`), ...unexpected.slice(0, 5).map((id) => `event ${id} was never emitted`)],
    },
    { name: 'history: no event twice', expected: '0 duplicated', actual: `${twice.length} duplicated`, ok: twice.length === 0, details: twice.slice(0, 5) },
  ];
}

/**
 * The event columns of every destination row (event id, name, creation time and — when the ledger read the stream —
 * sequence number) are those of the claim's newest change: the merge kept the newest version, not just equal data.
 */
export async function checkNewestEvents(warehouse: Warehouse, ledger: Ledger): Promise<Check> {
  const rows = await warehouse.query(`SELECT claimId, eventId, eventName, eventCreationUnixTime, sequenceNumber FROM ${TABLES.destination}`);
  const wrong: string[] = [];
  for (const row of rows) {
    const want = ledger.newest.get(String(row.claimId));
    if (!want) {
      wrong.push(`${String(row.claimId)} has no change on the stream`);
      continue;
    }
    const columns = [
      want.eventId !== row.eventId && 'eventId',
      want.eventName !== row.eventName && 'eventName',
      want.micros !== row.eventCreationUnixTime && 'eventCreationUnixTime',
      want.sequenceNumber !== undefined && !(want.sequenceNumbers ?? [want.sequenceNumber]).includes(String(row.sequenceNumber)) && 'sequenceNumber',
    ].filter(Boolean);
    if (columns.length > 0) wrong.push(`${String(row.claimId)} differs in ${columns.join(', ')} (newest event ${want.eventId})`);
  }
  return {
    name: '  rows carry their newest event (id, name, time, seq)',
    expected: `${rows.length} rows`,
    actual: `${rows.length - wrong.length} rows`,
    ok: wrong.length === 0,
    details: wrong.slice(0, 5),
  };
}

/** Removed claims stay out of the destination and each has the tombstone of its REMOVE. */
export async function checkNoResurrection(warehouse: Warehouse, destination: ReadonlyMap<string, unknown>, ledger: Ledger): Promise<Check> {
  const tombstones = new Map((await warehouse.query(`SELECT claimId, eventId FROM ${TABLES.tombstones}`)).map((r) => [String(r.claimId), String(r.eventId)]));
  const resurrected = [...ledger.removeEventIds.keys()].filter((id) => destination.has(id));
  const wrongTombstone = [...ledger.removeEventIds].filter(([id, eventId]) => tombstones.get(id) !== eventId).map(([id]) => id);
  return {
    name: 'no claim resurrected after its REMOVE',
    expected: `${ledger.removeEventIds.size} removed: 0 in destination, all tombstoned`,
    actual: `${resurrected.length} in destination, ${wrongTombstone.length} without their tombstone`,
    ok: resurrected.length === 0 && wrongTombstone.length === 0,
    details: [...resurrected.slice(0, 5).map((id) => `${id} is in the destination after its REMOVE`), ...wrongTombstone.slice(0, 5).map((id) => `${id} has no tombstone for its REMOVE`)],
  };
}

/**
 * Quarantine holds exactly the poison and oversized inputs, each with its reason and its exact raw payload. A
 * payload on the stream `copies` times (a record put again after a `stack-kill` restart: same bytes, another
 * sequence number) is one input per copy, and so one entry per copy. An entry whose origin id is in `mayOrigins` and
 * that is no expected input (`backfill`: a cut read's quarantine send, complete or not) is set aside and counted.
 */
export function checkQuarantine(
  entries: readonly QuarantineEntryWithPayload[],
  listed: Ledger['quarantined'],
  copies: ReadonlyMap<string, number> = new Map(),
  mayOrigins: ReadonlySet<string> = new Set(),
): Check[] {
  const expected = listed.flatMap((e) => Array.from({ length: copies.get(e.payload) ?? 1 }, () => e));
  const count = (list: readonly { reason: string }[], reason: string) => list.filter((e) => e.reason === reason).length;
  const wanted = new Map<string, { reason: string; what: string; matched: boolean; left: number }>();
  for (const e of listed) wanted.set(e.payload, { reason: e.reason, what: e.what, matched: false, left: copies.get(e.payload) ?? 1 });
  // An entry that may exist (a cut backfill read), complete or not, and is no input expected: set aside, counted.
  const tolerated = entries.filter((e) => mayOrigins.has(e.origin.id) && (e.payload === undefined || !wanted.has(e.payload))).length;
  entries = entries.filter((e) => !(mayOrigins.has(e.origin.id) && (e.payload === undefined || !wanted.has(e.payload))));
  const reasons = [...new Set([...expected.map((e) => e.reason), ...entries.map((e) => e.reason)])].sort();
  const problems: string[] = [];
  for (const entry of entries) {
    if (!entry.reason) problems.push(`${entry.id} has no reason`);
    if (!entry.complete || entry.payload === undefined) {
      problems.push(`${entry.id} (${entry.reason}) is missing parts of its payload`);
      continue;
    }
    const match = wanted.get(entry.payload);
    if (!match) problems.push(`${entry.id} (${entry.reason}) is not an input the harness expected to be quarantined`);
    else if (match.left === 0) problems.push(`${entry.id} (${entry.reason}) is a second entry for one input`);
    else if (match.reason !== entry.reason) problems.push(`${entry.id}: ${match.what} quarantined as ${entry.reason}, expected ${match.reason}`);
    else {
      match.left -= 1;
      match.matched = match.left === 0;
    }
  }
  for (const w of wanted.values()) if (!w.matched) problems.push(`${w.what} (${w.reason}) is not in quarantine`);
  const deliveries = entries.reduce((n, e) => n + e.deliveries, 0);
  const exact = entries.filter((e) => e.payload !== undefined && wanted.get(e.payload)?.reason === e.reason).length;
  return [
    {
      name: 'quarantine = poison + oversized injected',
      expected: `${expected.length} entries`,
      actual: `${entries.length} entries, ${exact} byte-exact (${deliveries} deliveries)${tolerated > 0 ? `; ${tolerated} more left by a cut backfill read` : ''}`,
      ok: problems.length === 0 && entries.length === expected.length,
      details: problems.slice(0, 8),
    },
    ...reasons.map((reason) => ({
      name: `  reason ${reason}`,
      expected: String(count(expected, reason)),
      actual: String(count(entries, reason)),
      ok: count(expected, reason) === count(entries, reason),
    })),
  ];
}
