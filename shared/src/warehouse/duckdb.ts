import { randomUUID } from 'node:crypto';
import { type DuckDBAppender, type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { type ClaimRow, ROW_COLUMNS } from '../domain/columns';
import { DIALECTS } from './dialect';
import { Mutex } from './mutex';
import { createViews } from './views';
import { messageOf, scrubbedWarehouseError, scrubWarehouseMessage } from './scrub';
import { type MergeResult, type MergeStepHook, NOTHING_MERGED, type ResultRow, type StageResult, type Warehouse, WarehouseError, type WarehouseStatus, WarehouseDataError } from './port';

const dialect = DIALECTS.duckdb;
const LOAD_TABLE = 'claims_cdc_load_batch';
const CHECKPOINT_THRESHOLD = '1GB';

const toJsonValue = (value: unknown): string | number | boolean | null => {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return String(value);
};

const appendCell = (appender: DuckDBAppender, type: string, value: string | number | null | undefined): void => {
  if (value === null || value === undefined) appender.appendNull();
  else if (type === 'FLOAT') appender.appendDouble(Number(value));
  else if (type === 'INTEGER') appender.appendBigInt(BigInt(Math.trunc(Number(value))));
  else appender.appendVarchar(String(value));
};

// DuckDB's error classes for values it cannot take (a bad cast, a number out of range): the data, not the database.
const DATA_ERROR = /^(Conversion|Invalid Input|Out of Range) Error/;

/** A stage failure as a {@link WarehouseDataError} when the rows caused it; other errors pass through for a retry. */
const classifyStageError = (error: unknown): unknown => {
  const message = messageOf(error);
  if (!DATA_ERROR.test(message)) return scrubbedWarehouseError(error);
  return new WarehouseDataError(`duckdb refused a row: ${scrubWarehouseMessage(message)}`);
};

/** Options for {@link DuckDbWarehouse}. */
export interface DuckDbOptions {
  /** A file path, or ':memory:'. */
  readonly path: string;
  /** Opens an existing file for reading only (`claims-cdc sql --db`): no statement can change it. */
  readonly readOnly?: boolean;
}

/**
 * The embedded warehouse. It runs the same statements, in the same order and transactions, as the Snowflake
 * adapter (both come from `Dialect`), so what the DuckDB tests prove about merge semantics holds for that SQL.
 *
 * DuckDB allows one writer process; within the process, stages are serialized and merges are serialized
 * (a second merge waits, then finds only what was staged since). A stage may run while a merge is in flight:
 * the merge only touches the rows it claimed when it started.
 */
export class DuckDbWarehouse implements Warehouse {
  readonly #stageLock = new Mutex();
  readonly #mergeLock = new Mutex();
  #stageConnection?: DuckDBConnection;
  #mergeConnection?: DuckDBConnection;
  #queryConnection?: DuckDBConnection;

  private constructor(readonly instance: DuckDBInstance) {}

  /**
   * Opens (or creates) the database file. File access from SQL is off for the instance's lifetime (DuckDB cannot
   * turn it back on): no statement can read or write a file or attach another database (`COPY … TO`, `read_csv`,
   * `read_text`, `ATTACH`), so no query can copy PHI out of the warehouse. The pipeline reads no file through SQL
   * (stage appends rows, merge works on tables), and DuckDB's own database, WAL and spill files are not affected.
   */
  static async open(options: DuckDbOptions): Promise<DuckDbWarehouse> {
    try {
      // A merge rewrites rows scattered over the whole destination; with DuckDB's 16 MB default the COMMIT of nearly
      // every large merge would also run a full checkpoint. Checkpoint less often (and always on close).
      const config: Record<string, string> = { checkpoint_threshold: CHECKPOINT_THRESHOLD, enable_external_access: 'false' };
      if (options.readOnly) config.access_mode = 'READ_ONLY';
      return new DuckDbWarehouse(await DuckDBInstance.create(options.path, config));
    } catch (error) {
      const message = scrubWarehouseMessage(messageOf(error));
      if (/lock/i.test(message)) throw new WarehouseError(`warehouse ${options.path} is locked by another process (DuckDB allows one writer): ${message}`);
      throw new WarehouseError(`cannot open warehouse ${options.path}: ${message}`);
    }
  }

  async init(): Promise<void> {
    const connection = await this.#connection('query');
    // The views too: on Snowflake they come from 04-views.sql, here nobody else would create them.
    for (const sql of [...dialect.createTables(), ...dialect.compatibility(), ...createViews(dialect)]) await connection.run(sql);
    const stage = await this.#connection('stage');
    await stage.run(`CREATE TEMP TABLE IF NOT EXISTS ${LOAD_TABLE} (${dialect.loadTableColumns()})`);
  }

  async stage(rows: readonly ClaimRow[]): Promise<StageResult> {
    if (rows.length === 0) return { received: 0, staged: 0 };
    return this.#stageLock.run(() => this.#stage(rows).catch((error: unknown) => Promise.reject(classifyStageError(error))));
  }

  async #stage(rows: readonly ClaimRow[]): Promise<StageResult> {
    const connection = await this.#connection('stage');
    await connection.run(`DELETE FROM ${LOAD_TABLE}`);
    const appender = await connection.createAppender(LOAD_TABLE, 'main', 'temp');
    try {
      for (const row of rows) {
        for (const column of ROW_COLUMNS) appendCell(appender, column.type, row[column.name]);
        appender.endRow();
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    const [toStaging, toHistory] = dialect.stageFrom(LOAD_TABLE, new Date().toISOString());
    const staged = await this.#transaction(connection, async () => {
      const result = await connection.run(toStaging as string);
      await connection.run(toHistory as string);
      return Number(result.rowsChanged);
    });
    return { received: rows.length, staged };
  }

  async merge(hook?: MergeStepHook): Promise<MergeResult> {
    return this.#mergeLock.run(async () => {
      const connection = await this.#connection('merge');
      const runId = randomUUID();
      const statements = dialect.merge(runId, new Date().toISOString());
      return this.#transaction(connection, async () => {
        const claimed = Number((await connection.run(statements.claim)).rowsChanged);
        if (claimed === 0) return NOTHING_MERGED;
        await hook?.('claimed');
        const stats = (await connection.runAndReadAll(statements.stats)).getRowObjectsJS()[0] ?? {};
        await hook?.('planned');
        const [toDestination, toTombstones, deleteClaimed] = statements.apply;
        await connection.run(toDestination as string);
        await connection.run(toTombstones as string);
        await hook?.('applied');
        await connection.run(deleteClaimed as string);
        await hook?.('deleted');
        const count = (key: string): number => Number(stats[key] ?? 0);
        return {
          runId,
          events: count('events'),
          claims: count('claims'),
          inserted: count('inserted'),
          updated: count('updated'),
          deleted: count('deleted'),
          tombstonedOnly: count('tombstonedOnly'),
          stale: count('stale'),
          duplicates: count('duplicates'),
        };
      });
    });
  }

  /** Runs a query; a failure is a {@link WarehouseError} whose message quotes no value (see `scrubWarehouseMessage`). */
  async query(sql: string): Promise<ResultRow[]> {
    try {
      const reader = await (await this.#connection('query')).runAndReadAll(sql);
      return reader.getRowObjectsJS().map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, toJsonValue(v)])));
    } catch (error) {
      throw scrubbedWarehouseError(error);
    }
  }

  async status(): Promise<WarehouseStatus> {
    const [row] = await this.query(dialect.status());
    const n = (key: string): number => Number(row?.[key] ?? 0);
    return {
      staged: n('staged'),
      history: n('history'),
      destination: n('destination'),
      tombstones: n('tombstones'),
      oldestStagedMicros: row?.oldestStagedMicros === null || row?.oldestStagedMicros === undefined ? null : Number(row.oldestStagedMicros),
    };
  }

  async close(): Promise<void> {
    await this.#mergeLock.run(async () => undefined);
    await this.#stageLock.run(async () => undefined);
    for (const connection of [this.#stageConnection, this.#mergeConnection, this.#queryConnection]) connection?.closeSync();
    this.instance.closeSync();
  }

  async #connection(kind: 'stage' | 'merge' | 'query'): Promise<DuckDBConnection> {
    if (kind === 'stage') return (this.#stageConnection ??= await this.instance.connect());
    if (kind === 'merge') return (this.#mergeConnection ??= await this.instance.connect());
    return (this.#queryConnection ??= await this.instance.connect());
  }

  async #transaction<T>(connection: DuckDBConnection, body: () => Promise<T>): Promise<T> {
    await connection.run('BEGIN TRANSACTION');
    try {
      const result = await body();
      await connection.run('COMMIT');
      return result;
    } catch (error) {
      await connection.run('ROLLBACK');
      throw error;
    }
  }
}
