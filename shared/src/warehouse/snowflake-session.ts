import type { Binds, Connection, ConnectionOptions, SnowflakeError } from 'snowflake-sdk';
import { WarehouseDataError, WarehouseDeadlineError, WarehouseError } from './port';
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

/** How long a logout may take before the session is abandoned (the server then ends it when it expires). */
export const LOGOUT_GRACE_MS = 2_000;

/** The error for a step that did not answer by `deadline`: says the time ran out, names the step, carries no SQL. */
export const deadlineError = (step: string, deadline: number): WarehouseDeadlineError =>
  new WarehouseDeadlineError(`snowflake ${step} failed: time ran out (no answer by the invocation's deadline, ${new Date(deadline).toISOString()}); the session is logged out and not reused`);

/**
 * Settles with `start()`, or rejects with {@link deadlineError} at `deadline` (then `onTimeout` runs); nothing is
 * started once the deadline has passed. No deadline: `start()`. The timer is cleared either way.
 */
const within = <T>(step: string, deadline: number | undefined, start: () => Promise<T>, onTimeout: () => void): Promise<T> => {
  if (deadline === undefined) return start();
  const left = deadline - Date.now();
  if (left <= 0) return Promise.reject(deadlineError(step, deadline));
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(deadlineError(step, deadline));
    }, left);
    start().then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
};

/** One Snowflake session: one connection, so one transaction at a time. */
export class SnowflakeSession {
  /**
   * Set when a ROLLBACK failed or a statement outlived its deadline: the session may still hold a transaction (and a
   * statement still running in it), so it must not be reused; logging out ends both.
   */
  broken = false;
  /** The session parameters this adapter last set (see `SnowflakeWarehouse`), so they are only sent when they change. */
  bounds: { readonly statementTimeoutSeconds: number | undefined; readonly lockTimeoutSeconds: number } | undefined;
  /** The deadline of the call using the session: the default for {@link run}. */
  deadline: number | undefined;

  private constructor(readonly connection: Connection) {}

  /**
   * Logs in (key-pair JWT when the options say so). With a `deadline`, a login that has not answered by then is
   * abandoned (the connection destroyed) and a {@link WarehouseDeadlineError} thrown.
   */
  static async open(options: ConnectionOptions, deadline?: number): Promise<SnowflakeSession> {
    const snowflake = await loadSdk();
    const connection = snowflake.createConnection(options);
    const session = new SnowflakeSession(connection);
    try {
      await within('login', deadline, () => connection.connectAsync(), () => {
        void session.close();
      });
    } catch (error) {
      throw warehouseError('login', error);
    }
    return session;
  }

  /** False once the driver knows the session is gone (expired, terminated, network lost during login). */
  get alive(): boolean {
    return this.connection.isUp();
  }

  /**
   * Runs one statement; `step` names it in errors (never the SQL text or binds). With a `deadline`, a statement that
   * has not answered by then is cancelled (best effort), the session marked {@link broken}, and a
   * {@link WarehouseDeadlineError} thrown: its late answer, if any, is ignored.
   */
  run(step: string, sqlText: string, binds?: Binds, deadline: number | undefined = this.deadline): Promise<StatementResult> {
    let statement: { cancel(callback?: (error: unknown) => void): void } | undefined;
    const start = () =>
      new Promise<StatementResult>((resolve, reject) => {
        statement = this.connection.execute({
          sqlText,
          ...(binds === undefined ? {} : { binds }),
          // Timestamps and VARIANTs come back as text, the way the DuckDB adapter returns them.
          fetchAsString: ['Date', 'JSON'],
          complete: (error, stmt, rows) => {
            if (error) reject(warehouseError(step, error));
            else resolve({ rows: (rows ?? []) as Array<Record<string, unknown>>, rowsChanged: stmt.getNumUpdatedRows() ?? -1, queryId: stmt.getQueryId() });
          },
        });
      });
    return within(step, deadline, start, () => {
      this.broken = true;
      try {
        // Frees a lock wait at once; the logout that follows ends the statement anyway if this request is lost.
        statement?.cancel(() => undefined);
      } catch {
        // best effort
      }
    });
  }

  /**
   * Logs out (Snowflake rolls back a transaction left open). Best effort: the session may already be gone, and a
   * logout that does not answer within {@link LOGOUT_GRACE_MS} is not waited for.
   */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, LOGOUT_GRACE_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      try {
        this.connection.destroy(() => done());
      } catch {
        done();
      }
    });
  }
}
