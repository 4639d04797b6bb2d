/**
 * What `claims-cdc sql` accepts, on the stack's `sql` route and on a file (`--db`): one statement that reads.
 * DuckDB parses and binds the text and says what kind of statement it is; nothing is run to find out. File access
 * is refused twice over: the warehouse instance has it turned off (`DuckDbWarehouse.open`), and so has the catalog
 * the statement is checked against, so `read_text('/etc/hostname')` or `COPY … TO 'file'` fail before they run.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { DuckDbWarehouse } from '@claims-cdc/shared/warehouse/duckdb';
import type { CloseOptions, MergeResult, MergeStepHook, ResultRow, StageResult, Warehouse, WarehouseStatus } from '@claims-cdc/shared/warehouse/port';
import { messageOf, scrubbedWarehouseError } from '@claims-cdc/shared/warehouse/scrub';

/** The statements `sql` accepts, as a user writes them. */
export const READING_STATEMENTS = 'SELECT, WITH, FROM, VALUES, EXPLAIN, DESCRIBE, SHOW, SUMMARIZE';

const ACCEPTED = `accepted: one ${READING_STATEMENTS.replace(/, (?=[A-Z]+$)/, ' or ')} statement`;

/** The statement was not run: it is not one statement that reads. Its message names the kind, never the text. */
export class QueryRefusedError extends Error {
  override readonly name = 'QueryRefusedError';
}

const COMMENTS_AND_BLANKS = /^(?:[\s;]+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/;
const EXPLAIN_KEYWORDS = /^explain\s+(?:analy[sz]e\s+)?/i;

/**
 * Throws a {@link QueryRefusedError} unless `sql` is exactly one statement that reads, and a `WarehouseError`
 * (scrubbed) when it does not parse or bind. `connection` must see the catalog the statement will run against;
 * the statement is prepared there (parsed and bound), never executed.
 */
export async function assertReadOnly(connection: DuckDBConnection, sql: string): Promise<void> {
  const { StatementType } = await import('@duckdb/node-api');
  const kind = await statementKind(connection, sql);
  if (kind === StatementType.SELECT) return; // DuckDB binds WITH, FROM-first, VALUES, DESCRIBE, SHOW and SUMMARIZE as SELECTs
  if (kind !== StatementType.EXPLAIN) throw new QueryRefusedError(`sql only reads: ${StatementType[kind]?.replace(/_/g, ' ') ?? `statement type ${kind}`} is refused (${ACCEPTED})`);
  // EXPLAIN ANALYZE runs the statement it explains, so that one must read too.
  const explained = sql.replace(COMMENTS_AND_BLANKS, '').replace(EXPLAIN_KEYWORDS, '');
  const inner = await statementKind(connection, explained).catch(() => undefined);
  if (inner !== StatementType.SELECT) throw new QueryRefusedError('sql only reads: EXPLAIN [ANALYZE] must be followed by a statement that reads');
}

async function statementKind(connection: DuckDBConnection, sql: string): Promise<number> {
  if (sql.replace(COMMENTS_AND_BLANKS, '') === '') throw new QueryRefusedError(`no statement to run (${ACCEPTED})`);
  const extracted = await connection.extractStatements(sql).catch((error: unknown) => Promise.reject(refusal(error)));
  if (extracted.count !== 1) throw new QueryRefusedError(`sql runs one statement per call; this text holds ${extracted.count} (${ACCEPTED})`);
  const prepared = await extracted.prepare(0).catch((error: unknown) => Promise.reject(refusal(error)));
  try {
    return prepared.statementType;
  } finally {
    prepared.destroySync();
  }
}

/** A parse or bind failure: file access (refused by configuration) says so plainly; anything else is scrubbed. */
function refusal(error: unknown): Error {
  const message = messageOf(error).replace(/^Failed to extract statements: /, '');
  if (/^Permission Error:/.test(message)) return new QueryRefusedError('sql cannot read or write files or attach databases (file access is turned off)');
  return scrubbedWarehouseError(message);
}

/**
 * A warehouse whose `query` runs only one statement that reads ({@link assertReadOnly}); stage, merge and status
 * are the pipeline's own and pass through. The statement is checked against `catalog`: the warehouse itself when
 * this process opened the file (`sql --db`), or else an empty in-memory twin with the same tables (the stack's
 * warehouse sits behind `warehouseFromEnv`, whose DuckDB connections are its own).
 */
export class ReadOnlyQueries implements Warehouse {
  #twin?: Promise<DuckDbWarehouse>;

  constructor(
    readonly target: Warehouse,
    readonly catalog?: DuckDbWarehouse,
  ) {}

  async query(sql: string): Promise<ResultRow[]> {
    const catalog = this.catalog ?? (await this.#openTwin());
    // A connection per check: checks may overlap, and one DuckDB connection runs one statement at a time.
    const connection = await catalog.instance.connect();
    try {
      await assertReadOnly(connection, sql);
    } finally {
      connection.closeSync();
    }
    return this.target.query(sql);
  }

  init(): Promise<void> {
    return this.target.init();
  }

  stage(rows: Parameters<Warehouse['stage']>[0]): Promise<StageResult> {
    return this.target.stage(rows);
  }

  merge(hook?: MergeStepHook): Promise<MergeResult> {
    return this.target.merge(hook);
  }

  status(): Promise<WarehouseStatus> {
    return this.target.status();
  }

  async close(options?: CloseOptions): Promise<void> {
    const twin = this.#twin;
    this.#twin = undefined;
    await (await twin?.catch(() => undefined))?.close();
    await this.target.close(options);
  }

  #openTwin(): Promise<DuckDbWarehouse> {
    const opening = (this.#twin ??= (async () => {
      // Imported here: DuckDB's native module is only loaded by the commands that use it.
      const { DuckDbWarehouse } = await import('@claims-cdc/shared/warehouse/duckdb');
      const twin = await DuckDbWarehouse.open({ path: ':memory:' });
      await twin.init().catch(async (error: unknown) => {
        await twin.close();
        throw error;
      });
      return twin;
    })());
    opening.catch(() => {
      if (this.#twin === opening) this.#twin = undefined;
    });
    return opening;
  }
}
