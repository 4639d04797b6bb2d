import { randomUUID } from 'node:crypto';
import type { Dialect } from './dialect';
import { type EndToEndFreshness, type MergeResult, type MergeStepHook, NOTHING_MERGED, type WarehouseStatus } from './port';

/** What one statement returned, as the skeleton needs it. */
export interface StatementOutcome {
  /** Result rows (only the stats statement's are read); column names in any case. */
  readonly rows: ReadonlyArray<Record<string, unknown>>;
  readonly rowsChanged: number;
}

/**
 * What an adapter supplies to {@link runMergeTransaction}: its dialect, how to run one statement on its merge
 * connection, and its transaction (BEGIN, COMMIT, ROLLBACK and whatever the warehouse needs around them).
 */
export interface MergeDriver {
  readonly dialect: Dialect;
  /** Runs one statement; `step` names it in errors (which must carry no SQL or values). */
  run(step: string, sql: string): Promise<StatementOutcome>;
  /** Runs `body` in one transaction: commits when it returns, rolls back and rethrows when it throws. */
  transaction<T>(body: () => Promise<T>): Promise<T>;
  /** Runs first inside the transaction, before the claim (Snowflake: the PHI_READER probe). */
  readonly beforeClaim?: () => Promise<void>;
  /** Epoch milliseconds; the commit time freshness is measured to (tests fix it). */
  readonly clock: () => number;
}

/** A column of a result row, whatever its case (Snowflake upper-cases unquoted identifiers: `tombstonedOnly` → TOMBSTONEDONLY). */
export const field = (row: Record<string, unknown> | undefined, name: string): unknown => {
  if (!row) return undefined;
  if (name in row) return row[name];
  const key = Object.keys(row).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : row[key];
};

const count = (row: Record<string, unknown> | undefined, name: string): number => Number(field(row, name) ?? 0);

const numberOrNull = (value: unknown): number | null => {
  if (value === null || value === undefined) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
};

/**
 * Freshness from the stats row's creation-time percentiles and the commit time. The stats statement cannot know the
 * commit time, so it returns the claimed events' creation times instead; each delay is then commit − time, and a
 * delay percentile p is commit − the time percentile (1 − p): the median time for p50, the 1st percentile for p99,
 * the oldest time for the maximum (exact for the linear interpolation both dialects use).
 */
export const freshnessFrom = (stats: Record<string, unknown> | undefined, committedAtMs: number): EndToEndFreshness | null => {
  const p50 = numberOrNull(field(stats, 'eventMicrosP50'));
  const p01 = numberOrNull(field(stats, 'eventMicrosP01'));
  const oldest = numberOrNull(field(stats, 'oldestEventMicros'));
  if (p50 === null || p01 === null || oldest === null) return null;
  const committedMicros = committedAtMs * 1000;
  const ms = (micros: number): number => Math.round(committedMicros - micros) / 1000;
  return { p50Ms: ms(p50), p99Ms: ms(p01), maxMs: ms(oldest) };
};

/**
 * THE merge skeleton both adapters run: in one transaction, claim → (plan) → stats → apply → delete the claimed rows,
 * with the {@link MergeStepHook} points between steps; nothing claimed commits at once and reports
 * {@link NOTHING_MERGED}. The statements come from the dialect (`Dialect.merge`); the adapter supplies only
 * connection, execution and transaction, so what the DuckDB tests prove about the sequence holds for Snowflake's.
 */
export const runMergeTransaction = async (driver: MergeDriver, hook?: MergeStepHook): Promise<MergeResult> => {
  const runId = randomUUID();
  const statements = driver.dialect.merge(runId, new Date(driver.clock()).toISOString());
  const stats = await driver.transaction(async () => {
    await driver.beforeClaim?.();
    const claimed = (await driver.run('merge: claim staged rows', statements.claim)).rowsChanged;
    if (claimed === 0) return undefined;
    await hook?.('claimed');
    for (const sql of statements.plan) await driver.run('merge: build the plan', sql);
    const [row] = (await driver.run('merge: plan and count', statements.stats)).rows;
    await hook?.('planned');
    for (const step of statements.apply) await driver.run(`merge: ${step.name}`, step.sql);
    await hook?.('applied');
    await driver.run('merge: delete merged rows from staging', statements.deleteClaimed);
    await hook?.('deleted');
    return row ?? {};
  });
  if (stats === undefined) return NOTHING_MERGED;
  return {
    runId,
    events: count(stats, 'events'),
    claims: count(stats, 'claims'),
    inserted: count(stats, 'inserted'),
    updated: count(stats, 'updated'),
    deleted: count(stats, 'deleted'),
    tombstonedOnly: count(stats, 'tombstonedOnly'),
    stale: count(stats, 'stale'),
    duplicates: count(stats, 'duplicates'),
    freshness: freshnessFrom(stats, driver.clock()),
  };
};

/** `Dialect.status()`'s one row as a {@link WarehouseStatus}, whatever the case of its column names. */
export const statusFrom = (row: Record<string, unknown> | undefined): WarehouseStatus => ({
  staged: count(row, 'staged'),
  history: count(row, 'history'),
  destination: count(row, 'destination'),
  tombstones: count(row, 'tombstones'),
  oldestStagedMicros: numberOrNull(field(row, 'oldestStagedMicros')),
});

/**
 * A warehouse value as JSON: bigints as numbers when exact (else decimal text), dates as ISO text, anything else
 * non-scalar (lists, structs, VARIANTs) as JSON text, its bigints included.
 */
export const toJsonValue = (value: unknown): string | number | boolean | null => {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? toJsonValue(v) : v));
};
