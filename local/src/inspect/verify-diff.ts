/**
 * The row-by-row comparison behind `claims-cdc verify`: what the destination should hold for each DynamoDB item
 * (the item flattened by the column registry, exactly as the pipeline flattens a change) against what it holds.
 * Pure. Reports claim ids and column names only, never values: they are PHI.
 */
import {
  buildWireChangeRecord,
  checkRow,
  IMAGE_COLUMNS,
  type ColumnSpec,
  toRejection,
  type ResultRow,
  TABLES,
  toChangeEvent,
  toClaimRow,
  type WireItem,
} from '@claims-cdc/shared';

/** The columns compared: every one the registry derives from the item image (not event metadata such as eventName). */
export const COMPARED_COLUMNS: readonly ColumnSpec[] = IMAGE_COLUMNS;

/** One claim whose destination row differs from its item. */
export interface DifferingRow {
  claimId: string;
  /** Names of the columns that differ (never their values). */
  columns: string[];
}

/** What `verify` found. */
export interface VerifyReport {
  /** True when DynamoDB and the destination hold the same claims with the same values. */
  ok: boolean;
  /** Items in DynamoDB. */
  items: number;
  /** Rows in the destination. */
  destinationRows: number;
  /** Names of the compared columns. */
  columns: string[];
  /** Claims in DynamoDB that have no destination row. */
  missing: string[];
  /** Destination rows whose claim is not in DynamoDB. */
  extra: string[];
  /** Claims whose row differs, with the differing column names. */
  differing: DifferingRow[];
  /** Claims with more than one destination row. */
  duplicated: string[];
  /** Items the pipeline cannot process (it quarantines their changes), with the schema's reason; not compared. */
  unprocessable: { claimId: string; reason: string }[];
  /**
   * Items the pipeline cannot process whose quarantined change was fixed and re-driven, with the destination matching
   * the fix: not a failure, but the item in DynamoDB still needs fixing (its next change is quarantined again).
   */
  fixedByRedrive: { claimId: string; reason: string }[];
}

/** The SELECT that reads the destination for the comparison (timestamps as text: microseconds survive). */
export const destinationQuery = (): string =>
  `SELECT ${COMPARED_COLUMNS.map((c) => (c.type === 'TIMESTAMP_NTZ' ? `CAST(${c.name} AS VARCHAR) AS ${c.name}` : c.name)).join(', ')} FROM ${TABLES.destination}`;

/**
 * The destination row the pipeline makes from an item: the item becomes the record DynamoDB's stream would carry
 * for it, which is decoded and flattened by the pipeline's own functions.
 *
 * @throws RecordRejectedError when the pipeline would quarantine the item's changes.
 */
export const expectedRow = (item: WireItem, tableName: string): Record<string, string | number | null> => {
  const claimId = item.claim_id;
  // Now as the record's time: any plausible time will do (verify compares images, not versions).
  const record = buildWireChangeRecord({ eventName: 'INSERT', tableName, keys: claimId ? { claim_id: claimId } : {}, newImage: item, micros: Date.now() * 1000, eventId: 'verify' });
  return checkRow(toClaimRow(toChangeEvent(record, '')));
};

const DB_TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(?:Z|[+-]00(?::?00)?)?$/;

/** Sorted keys at every level, so two JSON texts compare by content, not by key order or spacing. */
const stableJson = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
};

/**
 * A value in a form that compares equal exactly when the destination holds what the registry says it should:
 * numbers by value (DOUBLE and BIGINT come back as numbers, text columns as text), timestamps to the nanosecond
 * whatever their text form, JSON-encoded columns by content.
 */
export const canonical = (column: ColumnSpec, value: unknown): string | null => {
  if (value === null || value === undefined) return null;
  if (column.source.kind === 'image' && column.source.encode === 'json') {
    if (typeof value !== 'string') return `json:${stableJson(value)}`;
    try {
      return `json:${stableJson(JSON.parse(value))}`;
    } catch {
      return `text:${value}`;
    }
  }
  switch (column.type) {
    case 'FLOAT': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
      // String() of a double is exact and round-trips, so equal text means equal doubles.
      return Number.isNaN(n) ? `text:${String(value)}` : `number:${String(n)}`;
    }
    case 'INTEGER': {
      if (typeof value === 'bigint') return `number:${value.toString()}`;
      if (typeof value === 'number') return `number:${Number.isInteger(value) ? BigInt(value).toString() : String(value)}`;
      return /^-?\d+$/.test(String(value)) ? `number:${BigInt(String(value)).toString()}` : `text:${String(value)}`;
    }
    case 'TIMESTAMP_NTZ': {
      const match = DB_TIMESTAMP.exec(String(value));
      return match ? `ts:${match[1]} ${match[2]}.${(match[3] ?? '').padEnd(9, '0')}` : `text:${String(value)}`;
    }
    default:
      return `text:${String(value)}`;
  }
};

/** True when the destination row (or its absence) is what a re-driven fix leads to (`null`: the fix removed the claim). */
const matchesFix = (fix: Record<string, unknown> | null, actual: ResultRow | undefined): boolean =>
  fix === null ? actual === undefined : actual !== undefined && COMPARED_COLUMNS.every((c) => canonical(c, fix[c.name]) === canonical(c, actual[c.name]));

/**
 * Compares the items of a DynamoDB scan with the destination rows (as read by {@link destinationQuery}); `redriven`
 * holds, by claim id, the row each re-driven quarantine fix leads to.
 */
export function diffRows(
  items: readonly WireItem[],
  destination: readonly ResultRow[],
  tableName: string,
  redriven: ReadonlyMap<string, Record<string, unknown> | null> = new Map(),
): VerifyReport {
  const rowsById = new Map<string, ResultRow[]>();
  for (const row of destination) {
    const id = String(row.claimId);
    rowsById.set(id, [...(rowsById.get(id) ?? []), row]);
  }
  const missing: string[] = [];
  const differing: DifferingRow[] = [];
  const unprocessable: { claimId: string; reason: string }[] = [];
  const fixedByRedrive: { claimId: string; reason: string }[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const claimId = String(item.claim_id?.S ?? '(no claim_id)');
    seen.add(claimId);
    let expected: Record<string, string | number | null>;
    try {
      expected = expectedRow(item, tableName);
    } catch (error) {
      // Whatever an item holds, verify reports it and goes on (the pipeline quarantines such an item's changes).
      const fix = redriven.get(claimId);
      const matched = fix !== undefined && matchesFix(fix, rowsById.get(claimId)?.[0]);
      (matched ? fixedByRedrive : unprocessable).push({ claimId, reason: toRejection(error).message });
      continue;
    }
    const actual = rowsById.get(claimId)?.[0];
    if (!actual) {
      missing.push(claimId);
      continue;
    }
    const columns = COMPARED_COLUMNS.filter((c) => canonical(c, expected[c.name]) !== canonical(c, actual[c.name])).map((c) => c.name);
    if (columns.length > 0) differing.push({ claimId, columns });
  }
  const extra = [...rowsById.keys()].filter((id) => !seen.has(id));
  const duplicated = [...rowsById].filter(([, rows]) => rows.length > 1).map(([id]) => id);
  const byId = (a: string, b: string) => a.localeCompare(b);
  const report = {
    items: items.length,
    destinationRows: destination.length,
    columns: COMPARED_COLUMNS.map((c) => c.name),
    missing: missing.sort(byId),
    extra: extra.sort(byId),
    differing: differing.sort((a, b) => byId(a.claimId, b.claimId)),
    duplicated: duplicated.sort(byId),
    unprocessable: unprocessable.sort((a, b) => byId(a.claimId, b.claimId)),
    fixedByRedrive: fixedByRedrive.sort((a, b) => byId(a.claimId, b.claimId)),
  };
  const ok = [report.missing, report.extra, report.differing, report.duplicated, report.unprocessable].every((list) => list.length === 0);
  return { ok, ...report };
}
