import type { Bind, ConnectionOptions } from 'snowflake-sdk';
import { type ClaimRow, type ColumnSpec, ROW_COLUMNS } from '../domain/columns';
import { DIALECTS } from './dialect';
import { field, runMergeTransaction, statusFrom, toJsonValue } from './merge-run';
import { Mutex } from './mutex';
import {
  type CallOptions,
  type MergeResult,
  type MergeStepHook,
  type ResultRow,
  type StageResult,
  type Warehouse,
  WarehouseDeadlineError,
  WarehouseError,
  type WarehouseStatus,
} from './port';
import { loadSnowflakeKeyPair, type SnowflakeKeySource } from './snowflake-credentials';
import { PHI_READER_ROLE } from './snowflake-masking';
import { deadlineError, SnowflakeSession } from './snowflake-session';

const dialect = DIALECTS.snowflake;
/** Per-session temporary table a batch is bound into before it is moved, in one transaction, to staging and history. */
export const SNOWFLAKE_LOAD_TABLE = 'claims_cdc_load_batch';

/**
 * Default bind limit per request (rows × columns), the server's default CLIENT_STAGE_ARRAY_BINDING_THRESHOLD.
 * Above it the driver would upload the binds to a stage with PUT instead of sending them inline.
 */
export const DEFAULT_ARRAY_BINDING_THRESHOLD = 65_280;

/** Seconds a statement waits for a lock when the call has no deadline (Snowflake's default is 12 hours). */
export const DEFAULT_LOCK_TIMEOUT_SECONDS = 120;

/**
 * How long a ROLLBACK may run past the deadline of a call that ran out of time; the session is logged out after it
 * whatever happens (see `SnowflakeSession.close` for the logout's own bound). The callers' margin covers both.
 */
export const ROLLBACK_GRACE_MS = 2_000;

/**
 * The probe run first in every merge transaction: the masking policies (`snowflake-masking.ts`) show clear PHI only
 * when this is TRUE, so it tells, before anything is written, whether the MERGE would read real values or masks.
 */
export const PHI_READER_PROBE = `SELECT IS_ROLE_IN_SESSION('${PHI_READER_ROLE}') AS phiReader`;

/** Options for {@link SnowflakeWarehouse}. */
export interface SnowflakeOptions {
  /** Account identifier (`orgname-accountname`, or the locator). */
  readonly account: string;
  /** The (service) user whose RSA_PUBLIC_KEY matches the key pair. */
  readonly username: string;
  readonly database: string;
  readonly schema: string;
  readonly warehouse: string;
  readonly role: string;
  /** Full endpoint URL; the driver derives it from `account` when absent. Tests point it at a local fake. */
  readonly accessUrl?: string;
  /** Where the private key and its passphrase come from. */
  readonly keySource: SnowflakeKeySource;
  /** Binds per INSERT request (rows × columns); batches are split so each request stays at or below it. */
  readonly arrayBindingThreshold?: number;
  /**
   * Seconds a statement waits for a lock before failing (Snowflake's default is 12 hours, longer than any Lambda).
   * Default {@link DEFAULT_LOCK_TIMEOUT_SECONDS}; a call with a deadline lowers it to the time it has left.
   */
  readonly lockTimeoutSeconds?: number;
  /** Epoch milliseconds; the merge's commit time for its freshness figures (tests fix it). Default `Date.now`. */
  readonly clock?: () => number;
}

type SessionKind = 'stage' | 'merge' | 'query';

/**
 * Values are bound as text (or NULL): the driver types each bind column from the FIRST row's value, so a
 * FLOAT column whose first value happens to be whole would be sent as FIXED. Text is converted by the load table's
 * declared column types. Numbers are normalised the way the DuckDB adapter's appender does.
 */
const bindValue = (column: ColumnSpec, value: string | number | null | undefined): Bind => {
  if (value === null || value === undefined) return null;
  if (column.type === 'FLOAT') return String(Number(value));
  if (column.type === 'INTEGER') {
    const n = Number(value);
    return Number.isFinite(n) ? String(Math.trunc(n)) : String(value);
  }
  return String(value);
};

/**
 * The Snowflake warehouse, on `snowflake-sdk` with key-pair (JWT) authentication. It runs exactly the statements
 * `DIALECTS.snowflake` produces, through the merge skeleton the DuckDB adapter runs too (`merge-run.ts`); the DuckDB
 * scenario and property tests run this merge's SQL (`mergeShape: 'cte'`), so they speak for its semantics.
 *
 * Stage, merge and ad-hoc queries each get their own session (a Snowflake transaction belongs to a session), logged
 * in on first use. Calls of one kind are serialized. A session found dead (expired, terminated, network lost) is
 * dropped and the call runs once more on a fresh login: both stage and merge are idempotent.
 */
export class SnowflakeWarehouse implements Warehouse {
  readonly #sessions = new Map<SessionKind, SnowflakeSession>();
  readonly #locks: Record<SessionKind, Mutex> = { stage: new Mutex(), merge: new Mutex(), query: new Mutex() };
  readonly #rowsPerInsert: number;
  #closed = false;

  constructor(readonly options: SnowflakeOptions) {
    const threshold = options.arrayBindingThreshold ?? DEFAULT_ARRAY_BINDING_THRESHOLD;
    if (threshold < ROW_COLUMNS.length) throw new WarehouseError(`arrayBindingThreshold must be at least ${ROW_COLUMNS.length} (one row)`);
    this.#rowsPerInsert = Math.floor(threshold / ROW_COLUMNS.length);
  }

  async init(): Promise<void> {
    await this.#withSession('query', undefined, async (session) => {
      for (const sql of [...dialect.createTables(), ...dialect.compatibility()]) await session.run('create tables', sql);
    });
  }

  /**
   * DDL commits any open transaction in Snowflake, so the session's load table is (re)created and filled first,
   * outside the transaction (it is private to the session); then BEGIN, the two `stageFrom` statements, COMMIT.
   */
  async stage(rows: readonly ClaimRow[], options?: CallOptions): Promise<StageResult> {
    if (rows.length === 0) return { received: 0, staged: 0 };
    // No masking check here, unlike the merge: the load writes the clear values it was handed (binds into the
    // session's temporary load table, which carries no tag and so no policy) and reads only eventId, which is not
    // PHI, from the masked tables. A role without PHI_READER therefore stages clear values, correctly.
    return this.#withSession('stage', options?.deadline, async (session) => {
      await session.run('stage: create load table', `CREATE OR REPLACE TEMPORARY TABLE ${SNOWFLAKE_LOAD_TABLE} (${dialect.loadTableColumns()})`);
      const insert = `INSERT INTO ${SNOWFLAKE_LOAD_TABLE} VALUES (${ROW_COLUMNS.map(() => '?').join(', ')})`;
      for (let start = 0; start < rows.length; start += this.#rowsPerInsert) {
        const binds = rows.slice(start, start + this.#rowsPerInsert).map((row) => ROW_COLUMNS.map((column) => bindValue(column, row[column.name])));
        await session.run('stage: bind batch into load table', insert, binds);
      }
      const [toStaging, toHistory] = dialect.stageFrom(SNOWFLAKE_LOAD_TABLE, new Date().toISOString()).sql;
      const staged = await this.#transaction(session, 'stage', async () => {
        const result = await session.run('stage: insert into staging', toStaging as string);
        await session.run('stage: merge into history', toHistory as string);
        return result.rowsChanged;
      });
      return { received: rows.length, staged };
    });
  }

  /**
   * One merge run in one transaction. It starts by checking that the session sees clear PHI ({@link PHI_READER_PROBE}):
   * without PHI_READER the MERGE would read masked staging values and write `***MASKED***` and NULLs into the
   * destination, so the run fails with a {@link WarehouseError}, rolled back, before it writes anything.
   */
  async merge(hook?: MergeStepHook, options?: CallOptions): Promise<MergeResult> {
    return this.#withSession('merge', options?.deadline, (session) =>
      runMergeTransaction(
        {
          dialect,
          clock: this.options.clock ?? (() => Date.now()),
          run: (step, sql) => session.run(step, sql),
          transaction: (body) => this.#transaction(session, 'merge', body),
          beforeClaim: () => assertSeesClearPhi(session),
        },
        hook,
      ),
    );
  }

  /** Runs a query; column names are as Snowflake reports them (upper case unless quoted). */
  async query(sql: string): Promise<ResultRow[]> {
    const { rows } = await this.#withSession('query', undefined, (session) => session.run('query', sql));
    return rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, toJsonValue(v)])));
  }

  async status(): Promise<WarehouseStatus> {
    const [row] = await this.query(dialect.status());
    return statusFrom(row);
  }

  /** Waits for running calls, then logs every session out. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const kind of ['stage', 'merge', 'query'] as const) {
      await this.#locks[kind].run(async () => {
        await this.#sessions.get(kind)?.close();
        this.#sessions.delete(kind);
      });
    }
  }

  /**
   * Runs `body` on the kind's session, serialized with other calls of that kind. With a `deadline`, every statement
   * (and a login) is bounded by it: the session's STATEMENT_TIMEOUT_IN_SECONDS and LOCK_TIMEOUT are set to the time
   * left before anything else is sent, and a statement that has not answered by the deadline fails the call with a
   * {@link WarehouseDeadlineError}, after which the session is logged out (ending its transaction) and never reused.
   */
  async #withSession<T>(kind: SessionKind, deadline: number | undefined, body: (session: SnowflakeSession) => Promise<T>): Promise<T> {
    return this.#locks[kind].run(async () => {
      for (let attempt = 1; ; attempt += 1) {
        const session = await this.#session(kind, deadline);
        session.deadline = deadline;
        try {
          await this.#fit(session, deadline);
          return await body(session);
        } catch (error) {
          // A live session means the statement (or a hook) failed: report it. A dead one is replaced and the call
          // runs once more; one that could not roll back is replaced too (it may hold an open transaction), and so is
          // one that ran out of time (a statement may still run in it, inside the transaction): logging out ends both.
          const timedOut = error instanceof WarehouseDeadlineError;
          const died = !timedOut && !session.alive;
          if (died || timedOut || session.broken) {
            this.#sessions.delete(kind);
            await session.close();
          }
          if (!died || attempt >= 2) throw error;
        } finally {
          session.deadline = undefined;
        }
      }
    });
  }

  /**
   * Sets the session's statement and lock timeouts to what the call may spend: both at most the whole seconds left
   * before `deadline` (never 0, which Snowflake reads as "no limit" for statements), or back to the defaults for a
   * call without one. Sent only when they change; a call that has less than a second left fails before any work.
   */
  async #fit(session: SnowflakeSession, deadline: number | undefined): Promise<void> {
    const lockDefault = Math.trunc(this.options.lockTimeoutSeconds ?? DEFAULT_LOCK_TIMEOUT_SECONDS);
    let wanted: { statementTimeoutSeconds: number | undefined; lockTimeoutSeconds: number } = { statementTimeoutSeconds: undefined, lockTimeoutSeconds: lockDefault };
    if (deadline !== undefined) {
      const secondsLeft = Math.floor((deadline - Date.now()) / 1000);
      if (secondsLeft < 1) throw deadlineError('set session timeouts', deadline);
      wanted = { statementTimeoutSeconds: secondsLeft, lockTimeoutSeconds: Math.min(lockDefault, secondsLeft) };
    }
    const current = session.bounds;
    if (current !== undefined && current.statementTimeoutSeconds === wanted.statementTimeoutSeconds && current.lockTimeoutSeconds === wanted.lockTimeoutSeconds) return;
    if (wanted.statementTimeoutSeconds === undefined) {
      if (current?.statementTimeoutSeconds !== undefined) await session.run('unset statement timeout', 'ALTER SESSION UNSET STATEMENT_TIMEOUT_IN_SECONDS');
      await session.run('set lock timeout', `ALTER SESSION SET LOCK_TIMEOUT = ${wanted.lockTimeoutSeconds}`);
    } else {
      await session.run('set session timeouts', `ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = ${wanted.statementTimeoutSeconds}, LOCK_TIMEOUT = ${wanted.lockTimeoutSeconds}`);
    }
    session.bounds = wanted;
  }

  async #session(kind: SessionKind, deadline: number | undefined): Promise<SnowflakeSession> {
    if (this.#closed) throw new WarehouseError('snowflake warehouse is closed');
    const existing = this.#sessions.get(kind);
    if (existing?.alive) return existing;
    if (existing) {
      this.#sessions.delete(kind);
      await existing.close();
    }
    const keyPair = await loadSnowflakeKeyPair(this.options.keySource);
    const options: ConnectionOptions = {
      account: this.options.account,
      username: this.options.username,
      database: this.options.database,
      schema: this.options.schema,
      warehouse: this.options.warehouse,
      role: this.options.role,
      ...(this.options.accessUrl === undefined ? {} : { accessUrl: this.options.accessUrl }),
      authenticator: 'SNOWFLAKE_JWT',
      privateKey: keyPair.privateKey,
      ...(keyPair.passphrase === undefined ? {} : { privateKeyPass: keyPair.passphrase }),
      arrayBindingThreshold: this.options.arrayBindingThreshold ?? DEFAULT_ARRAY_BINDING_THRESHOLD,
      // Shows in QUERY_HISTORY which part of the pipeline ran a statement.
      queryTag: `claims-cdc:${kind}`,
    };
    const session = await SnowflakeSession.open(options, deadline);
    const lockTimeoutSeconds = Math.trunc(this.options.lockTimeoutSeconds ?? DEFAULT_LOCK_TIMEOUT_SECONDS);
    try {
      await session.run('set lock timeout', `ALTER SESSION SET LOCK_TIMEOUT = ${lockTimeoutSeconds}`, undefined, deadline);
    } catch (error) {
      await session.close();
      throw error;
    }
    session.bounds = { statementTimeoutSeconds: undefined, lockTimeoutSeconds };
    this.#sessions.set(kind, session);
    return session;
  }

  /** BEGIN; body; COMMIT — or ROLLBACK and rethrow. A session that cannot even roll back is marked broken (see `#withSession`). */
  async #transaction<T>(session: SnowflakeSession, step: string, body: () => Promise<T>): Promise<T> {
    await session.run(`${step}: begin`, 'BEGIN TRANSACTION');
    try {
      const result = await body();
      await session.run(`${step}: commit`, 'COMMIT');
      return result;
    } catch (error) {
      try {
        // After a deadline the ROLLBACK still gets a short grace; if even that runs out, the logout ends the transaction.
        const rollbackBy = session.deadline === undefined ? undefined : Math.max(session.deadline, Date.now() + ROLLBACK_GRACE_MS);
        await session.run(`${step}: rollback`, 'ROLLBACK', undefined, rollbackBy);
      } catch {
        session.broken = true;
      }
      throw error;
    }
  }
}

const isTrue = (value: unknown): boolean => value === true || value === 1 || (typeof value === 'string' && ['TRUE', '1'].includes(value.toUpperCase()));

/**
 * Fails the merge, before anything is written, when the session cannot read clear PHI ({@link PHI_READER_PROBE}). The
 * message names the role and the fix, never a value (it has read none).
 */
const assertSeesClearPhi = async (session: SnowflakeSession): Promise<void> => {
  const [row] = (await session.run('merge: check PHI_READER is in the session', PHI_READER_PROBE)).rows;
  if (isTrue(field(row, 'phiReader'))) return;
  throw new WarehouseError(
    `snowflake merge refused: role ${PHI_READER_ROLE} is not in the session (IS_ROLE_IN_SESSION('${PHI_READER_ROLE}') is not TRUE), so the ` +
      `masking policies would hand the MERGE masked staging values ('***MASKED***', NULL) to write into the destination. Nothing was merged ` +
      `(rolled back). Grant ${PHI_READER_ROLE} to the pipeline role (sql/snowflake/05-masking.sql) and the next run merges the backlog.`,
  );
};
