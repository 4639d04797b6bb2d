import { type DuckDBAppender, type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { type ClaimRow, ROW_COLUMNS } from '../domain/columns';
import { Dialect, DIALECTS, type MergeShape } from './dialect';
import { Mutex } from './mutex';
import { createViews } from './views';
import { messageOf, scrubbedWarehouseError, scrubWarehouseMessage } from './scrub';
import { runMergeTransaction, statusFrom, toJsonValue } from './merge-run';
import { type CloseOptions, type MergeResult, type MergeStepHook, type ResultRow, type StageResult, type Warehouse, WarehouseError, type WarehouseStatus, WarehouseDataError } from './port';

const dialect = DIALECTS.duckdb;
const LOAD_TABLE = 'claims_cdc_load_batch';
/**
 * WAL size at which a COMMIT also checkpoints. A checkpoint costs about 10 ms of CPU per MB of WAL (measured: 141 MB
 * of staged rows, 1.5 s), and it lands on whichever statement crosses the threshold: at 1 GB that was a 10+ s stall
 * for a random later load or merge. 128 MB bounds it near 1.3 s, and is still above what one 100k-event merge writes,
 * so a merge rarely pays for the loads' checkpoint.
 */
const CHECKPOINT_THRESHOLD = '128MB';
/**
 * Vacuum tasks a checkpoint may run while the pipeline works: none. A vacuum compacts row groups with deleted rows
 * (every merge deletes the changed claims' destination rows), and it made the checkpoint that ran it erratic: on the
 * bench's end-to-end file, thirty merge-sized cycles (3,000 destination rows replaced each) checkpointed in
 * 74–1,568 ms with DuckDB's default of 100 tasks (with 1 or 3 tasks: the same spikes) and in 76–114 ms with none. Such
 * a spike stalls the loads and merges running with it, which decided the freshness tail. The cost of none: the
 * replaced rows' space stays in the file (about 1 MB per 3,000 updates there), and scans read past those rows, until
 * {@link DuckDbWarehouse.close} compacts them.
 */
const VACUUM_TASKS_WHILE_OPEN = '0';
/** A table created and dropped in one transaction at close, so that its checkpoint runs (see `close`). */
const COMPACTION_MARKER = 'claims_cdc_compaction_marker';

const appendCell = (appender: DuckDBAppender, type: string, value: string | number | null | undefined): void => {
  if (value === null || value === undefined) appender.appendNull();
  else if (type === 'FLOAT') appender.appendDouble(Number(value));
  else if (type === 'INTEGER') appender.appendBigInt(BigInt(Math.trunc(Number(value))));
  else appender.appendVarchar(String(value));
};

/**
 * The first row of each event id, in order: what DuckDB's load shape expects in its load table (see `LOAD_SHAPES`).
 * A repeat is the same event delivered twice (at-least-once), so its copies carry the same row; the first is kept, as
 * the SQL this replaced kept the lowest rowid.
 */
const firstPerEvent = (rows: readonly ClaimRow[]): ClaimRow[] => {
  const seen = new Set<ClaimRow[string] | undefined>();
  return rows.filter((row) => {
    if (seen.has(row.eventId)) return false;
    seen.add(row.eventId);
    return true;
  });
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
  /** Epoch milliseconds; the merge's commit time for its freshness figures (tests fix it). Default `Date.now`. */
  readonly clock?: () => number;
  /**
   * For tests: apply merges in this shape instead of DuckDB's own (`table`); `cte` runs the Snowflake merge's SQL
   * (with DuckDB's types), so the DuckDB tests prove what Snowflake runs as well as what DuckDB runs.
   */
  readonly mergeShape?: MergeShape;
  /** DuckDB's worker threads (default: one per core). See `DUCKDB_THREADS` in from-env.ts for when fewer is faster. */
  readonly threads?: number;
}

/**
 * The embedded warehouse. Its merge runs the shared skeleton (`merge-run.ts`) in the same order and transaction as
 * the Snowflake adapter; the statements come from `Dialect`, in DuckDB's merge shape (plan table, DELETE + INSERT;
 * see `MERGE_SHAPES`). The tests also run Snowflake's shape here (`mergeShape: 'cte'`), so what they prove about
 * merge semantics holds for both SQL texts.
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

  readonly #clock: () => number;
  readonly #mergeDialect: Dialect;
  readonly #compactOnClose: boolean;

  private constructor(
    readonly instance: DuckDBInstance,
    clock: () => number = () => Date.now(),
    mergeShape?: MergeShape,
    compactOnClose = false,
  ) {
    this.#clock = clock;
    this.#mergeDialect = mergeShape === undefined ? dialect : new Dialect('duckdb', mergeShape);
    this.#compactOnClose = compactOnClose;
  }

  /**
   * Opens (or creates) the database file. File access from SQL is off for the instance's lifetime (DuckDB cannot
   * turn it back on): no statement can read or write a file or attach another database (`COPY … TO`, `read_csv`,
   * `read_text`, `ATTACH`), so no query can copy PHI out of the warehouse. The pipeline reads no file through SQL
   * (stage appends rows, merge works on tables), and DuckDB's own database, WAL and spill files are not affected.
   */
  static async open(options: DuckDbOptions): Promise<DuckDbWarehouse> {
    try {
      // DuckDB's 16 MB default would checkpoint every few stage calls; see CHECKPOINT_THRESHOLD for the bound chosen.
      const config: Record<string, string> = { checkpoint_threshold: CHECKPOINT_THRESHOLD, max_vacuum_tasks: VACUUM_TASKS_WHILE_OPEN, enable_external_access: 'false' };
      if (options.readOnly) config.access_mode = 'READ_ONLY';
      if (options.threads !== undefined) config.threads = String(options.threads);
      const compactOnClose = !options.readOnly && options.path !== ':memory:';
      return new DuckDbWarehouse(await DuckDBInstance.create(options.path, config), options.clock, options.mergeShape, compactOnClose);
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
  }

  async stage(rows: readonly ClaimRow[]): Promise<StageResult> {
    if (rows.length === 0) return { received: 0, staged: 0 };
    return this.#stageLock.run(() => this.#stage(rows).catch((error: unknown) => Promise.reject(classifyStageError(error))));
  }

  async #stage(rows: readonly ClaimRow[]): Promise<StageResult> {
    const connection = await this.#connection('stage');
    // A new table per batch, not a DELETE of the last one: rows appended after a DELETE cost twice as much to flush
    // (25 µs of CPU per row against 13, measured with the appender), and the deleted rows are never reclaimed.
    await connection.run(`CREATE OR REPLACE TEMP TABLE ${LOAD_TABLE} (${dialect.loadTableColumns()})`);
    const appender = await connection.createAppender(LOAD_TABLE, 'main', 'temp');
    try {
      for (const row of firstPerEvent(rows)) {
        for (const column of ROW_COLUMNS) appendCell(appender, column.type, row[column.name]);
        appender.endRow();
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    const statements = dialect.stageFrom(LOAD_TABLE, new Date().toISOString());
    const staged = await this.#transaction(connection, async () => {
      let staged = 0;
      for (const [i, sql] of statements.sql.entries()) {
        const result = await connection.run(sql);
        if (i === statements.stagedBy) staged = Number(result.rowsChanged);
      }
      return staged;
    });
    return { received: rows.length, staged };
  }

  async merge(hook?: MergeStepHook): Promise<MergeResult> {
    return this.#mergeLock.run(async () => {
      const connection = await this.#connection('merge');
      return runMergeTransaction(
        {
          dialect: this.#mergeDialect,
          clock: this.#clock,
          run: async (_step, sql) => {
            try {
              const reader = await connection.runAndReadAll(sql);
              return { rows: reader.getRowObjectsJS(), rowsChanged: Number(reader.rowsChanged) };
            } catch (error) {
              throw scrubbedWarehouseError(error);
            }
          },
          transaction: (body) => this.#transaction(connection, body),
        },
        hook,
      );
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
    return statusFrom(row);
  }

  /**
   * Waits for the stage and merge in flight, then closes, holding both locks so none starts meanwhile (a CHECKPOINT
   * fails beside an open write transaction). A file opened for writing is compacted first: its last checkpoint runs
   * with DuckDB's default vacuum (see {@link VACUUM_TASKS_WHILE_OPEN}). This compacts what this session and any
   * session killed before its close left behind; `claims-cdc up` pays it when it stops (0.6 s for 24,000 replaced rows
   * on the bench's end-to-end file; 3–5 s after the bench's merge of 100,000 events into 1,000,000 rows).
   * `checkpoint: false` closes as a crash would: no compaction, no checkpoint. A failure is a {@link WarehouseError}
   * (the file is closed all the same; what was committed is in it or in its WAL).
   */
  async close(options: CloseOptions = {}): Promise<void> {
    try {
      await this.#mergeLock.run(() => this.#stageLock.run(() => this.#beforeClose(options)));
    } catch (error) {
      throw scrubbedWarehouseError(error);
    } finally {
      for (const connection of [this.#stageConnection, this.#mergeConnection, this.#queryConnection]) connection?.closeSync();
      this.instance.closeSync();
    }
  }

  async #beforeClose(options: CloseOptions): Promise<void> {
    if (options.checkpoint === false) {
      await (await this.#connection('query')).run('PRAGMA disable_checkpoint_on_shutdown');
      return;
    }
    if (!this.#compactOnClose) return;
    const connection = await this.#connection('query');
    await connection.run('RESET max_vacuum_tasks');
    // A checkpoint of a database with no change since the last one does nothing, and vacuums nothing: a change that
    // leaves nothing behind (one transaction, so a kill leaves nothing either) makes this one run. OR REPLACE: a
    // marker someone else left (by hand) does not stop the close.
    await this.#transaction(connection, async () => {
      await connection.run(`CREATE OR REPLACE TABLE ${COMPACTION_MARKER} (marker INTEGER)`);
      await connection.run(`DROP TABLE ${COMPACTION_MARKER}`);
    });
    await connection.run('CHECKPOINT');
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
