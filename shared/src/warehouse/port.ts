import type { ClaimRow } from '../domain/columns';

/** What one merge run did. */
export interface MergeResult {
  /** The run's id ('' when there was nothing to merge). */
  readonly runId: string;
  /** Staged events claimed and removed from staging. */
  readonly events: number;
  /** Distinct claims among them. */
  readonly claims: number;
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
  /** REMOVEs of claims the destination did not hold: only a tombstone is written. */
  readonly tombstonedOnly: number;
  /** Claims whose newest staged event was not newer than the destination or tombstone. */
  readonly stale: number;
  /**
   * Extra rows found for the claims of this run: destination rows and tombstones beyond one per claimId (keys are
   * not enforced in Snowflake; a manual load or backfill can add them). The run repaired them: one row per claim is left.
   */
  readonly duplicates: number;
  /**
   * End-to-end freshness of this run: the delay from each claimed event's creation (DynamoDB's
   * ApproximateCreationDateTime, `eventCreationUnixTime`) to the merge's commit. Null when nothing was merged.
   */
  readonly freshness: EndToEndFreshness | null;
}

/** Delays, in milliseconds (to the microsecond), from the events' creation to the commit that merged them. */
export interface EndToEndFreshness {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** What one stage call did. */
export interface StageResult {
  /** Rows received. */
  readonly received: number;
  /** New events written to staging and history (the rest were duplicates). */
  readonly staged: number;
}

/** Counts across the warehouse tables. */
export interface WarehouseStatus {
  readonly staged: number;
  readonly history: number;
  readonly destination: number;
  readonly tombstones: number;
  /** eventCreationUnixTime (µs) of the oldest unmerged event, or null when staging is empty. */
  readonly oldestStagedMicros: number | null;
}

/** A row read back from the warehouse, values converted to JSON-friendly types. */
export type ResultRow = Record<string, string | number | boolean | null>;

/** Test/chaos hook called between the steps of a merge; throwing from it simulates a crash at that point. */
export type MergeStepHook = (step: 'claimed' | 'planned' | 'applied' | 'deleted') => Promise<void> | void;

/** Bounds on one stage or merge call. */
export interface CallOptions {
  /**
   * Epoch milliseconds by which the call must have answered: committed, or failed with a {@link WarehouseDeadlineError}.
   * A Lambda passes its remaining time less a margin ({@link invocationDeadline}), so the warehouse, not the Lambda
   * timeout, ends a call that runs long, and no transaction is left open by a killed invocation. Adapters that hold
   * no server-side locks across invocations (DuckDB, embedded) may ignore it.
   */
  readonly deadline?: number;
}

/** The part of the Lambda context a deadline is computed from. */
export interface RemainingTime {
  getRemainingTimeInMillis(): number;
}

/**
 * The deadline for warehouse work in one invocation: now + the invocation's remaining time − `marginMs`. The margin
 * pays for what follows a timed-out statement (a best-effort ROLLBACK, the logout that ends the transaction) and for
 * the handler's own reply.
 */
export const invocationDeadline = (context: RemainingTime, marginMs: number, now: number = Date.now()): number => now + context.getRemainingTimeInMillis() - marginMs;

/**
 * The warehouse port: what load and merge need, whatever the warehouse. Adapters: DuckDB (embedded) and Snowflake.
 * Every method is safe to call again with the same input (at-least-once delivery).
 */
export interface Warehouse {
  /** Creates the tables (idempotent). */
  init(): Promise<void>;
  /** Stages a batch into staging and history in one transaction, idempotently by event id. */
  stage(rows: readonly ClaimRow[], options?: CallOptions): Promise<StageResult>;
  /** One merge run in one transaction (see `Dialect.merge`). */
  merge(hook?: MergeStepHook, options?: CallOptions): Promise<MergeResult>;
  /** Runs a query and returns its rows. */
  query(sql: string): Promise<ResultRow[]>;
  status(): Promise<WarehouseStatus>;
  close(options?: CloseOptions): Promise<void>;
}

/** How {@link Warehouse.close} closes. */
export interface CloseOptions {
  /**
   * `false`: close as a crash leaves the warehouse (DuckDB: no shutdown checkpoint and no compaction, so the next open
   * replays the WAL); the chaos harness's stack kill. Default `true`. Snowflake has nothing to checkpoint.
   */
  readonly checkpoint?: boolean;
}

/** The warehouse could not do what was asked (connection, SQL, transaction). Carries no row values. */
export class WarehouseError extends Error {
  override readonly name: string = 'WarehouseError';
}

/**
 * The warehouse refused the data itself (a conversion or range error), not the connection or a lock: the same rows
 * will fail again however often they are retried, so the caller isolates and quarantines them instead.
 */
export class WarehouseDataError extends WarehouseError {
  override readonly name: string = 'WarehouseDataError';
}

/**
 * A call did not answer before its {@link CallOptions.deadline}. An infrastructure failure, so retried (never
 * quarantined): the adapter rolled back best-effort and dropped the session, whose logout ends any transaction it held.
 */
export class WarehouseDeadlineError extends WarehouseError {
  override readonly name: string = 'WarehouseDeadlineError';
}

/** Empty merge result. */
export const NOTHING_MERGED: MergeResult = { runId: '', events: 0, claims: 0, inserted: 0, updated: 0, deleted: 0, tombstonedOnly: 0, stale: 0, duplicates: 0, freshness: null };
