import type { Binds, Connection, ConnectionOptions, SnowflakeError } from 'snowflake-sdk';
import { WarehouseDataError, WarehouseError } from './port';
import { scrubWarehouseMessage } from './scrub';

type SnowflakeSdk = typeof import('snowflake-sdk');

let sdk: Promise<SnowflakeSdk> | undefined;

/**
 * Loads the driver on first use, so a process on DuckDB never pays for it. The driver's own logging is switched
 * off: it can write SQL text and server messages (which may quote row values, i.e. PHI) and its default sink is a
 * file in the working directory, which is read-only on Lambda.
 */
const loadSdk = (): Promise<SnowflakeSdk> =>
  (sdk ??= import('snowflake-sdk').then((module) => {
    module.configure({ logLevel: 'OFF' });
    return module;
  }));

/** What one statement returned. */
export interface StatementResult {
  /** Rows as objects keyed by the column names Snowflake reports (upper case for unquoted identifiers). */
  readonly rows: ReadonlyArray<Record<string, unknown>>;
  /** Rows inserted/updated/deleted by a DML statement (-1 for other statements). */
  readonly rowsChanged: number;
  readonly queryId: string | undefined;
}

/**
 * A Snowflake error message with every quoted literal, long number and row dump removed: Snowflake quotes the
 * offending value in conversion errors ("Numeric value 'Smith' is not recognized") and dumps rows on duplicate
 * merges. The query id in the error lets an operator with access read the full text in QUERY_HISTORY.
 * The one scrub both adapters use; this name is kept for existing callers.
 */
export const redactServerMessage = scrubWarehouseMessage;

/** A driver error as a {@link WarehouseError} naming the step, with no row values or binds in it. */
export const warehouseError = (step: string, error: unknown): WarehouseError => {
  if (error instanceof WarehouseError) return error;
  const e = (error ?? {}) as Partial<SnowflakeError> & { data?: { queryId?: string } };
  const parts = [
    e.code === undefined ? undefined : `code ${String(e.code)}`,
    e.sqlState ? `SQLSTATE ${e.sqlState}` : undefined,
    e.data?.queryId ? `query ${e.data.queryId}` : undefined,
  ].filter((p): p is string => p !== undefined);
  const message = typeof e.message === 'string' ? scrubWarehouseMessage(e.message) : 'unknown error';
  // SQLSTATE class 22 is "data exception" (a value that cannot be converted or is out of range): the rows, not the
  // session. The load isolates and quarantines such rows instead of retrying the batch.
  const Kind = e.sqlState?.startsWith('22') ? WarehouseDataError : WarehouseError;
  return new Kind(`snowflake ${step} failed${parts.length > 0 ? ` (${parts.join(', ')})` : ''}: ${message}`);
};

/** One Snowflake session: one connection, so one transaction at a time. */
export class SnowflakeSession {
  /** Set when a ROLLBACK failed: the session may still hold a transaction and must not be reused (logging out ends it). */
  broken = false;

  private constructor(readonly connection: Connection) {}

  /** Logs in (key-pair JWT when the options say so). */
  static async open(options: ConnectionOptions): Promise<SnowflakeSession> {
    const snowflake = await loadSdk();
    const connection = snowflake.createConnection(options);
    try {
      await connection.connectAsync();
    } catch (error) {
      throw warehouseError('login', error);
    }
    return new SnowflakeSession(connection);
  }

  /** False once the driver knows the session is gone (expired, terminated, network lost during login). */
  get alive(): boolean {
    return this.connection.isUp();
  }

  /** Runs one statement; `step` names it in errors (never the SQL text or binds). */
  run(step: string, sqlText: string, binds?: Binds): Promise<StatementResult> {
    return new Promise((resolve, reject) => {
      this.connection.execute({
        sqlText,
        ...(binds === undefined ? {} : { binds }),
        // Timestamps and VARIANTs come back as text, the way the DuckDB adapter returns them.
        fetchAsString: ['Date', 'JSON'],
        complete: (error, statement, rows) => {
          if (error) reject(warehouseError(step, error));
          else resolve({ rows: (rows ?? []) as Array<Record<string, unknown>>, rowsChanged: statement.getNumUpdatedRows() ?? -1, queryId: statement.getQueryId() });
        },
      });
    });
  }

  /** Logs out (Snowflake rolls back a transaction left open). Best effort: the session may already be gone. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      try {
        this.connection.destroy(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
