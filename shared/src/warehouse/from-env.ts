import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigurationError } from '../domain/errors';
import type { CallOptions, CloseOptions, MergeResult, MergeStepHook, ResultRow, StageResult, Warehouse, WarehouseStatus } from './port';
import type { SnowflakeKeySource } from './snowflake-credentials';
import type { SnowflakeOptions } from './snowflake';

/** Default DuckDB file of the embedded stack. */
export const DEFAULT_DUCKDB_PATH = '.claims-cdc/warehouse.duckdb';

/** Which warehouse, and how to reach it. */
export type WarehouseConfig = { readonly kind: 'duckdb'; readonly path: string; readonly threads?: number } | ({ readonly kind: 'snowflake' } & SnowflakeOptions);

const SNOWFLAKE_IDENTIFIERS = ['SNOWFLAKE_ACCOUNT', 'SNOWFLAKE_USER', 'SNOWFLAKE_DATABASE', 'SNOWFLAKE_SCHEMA', 'SNOWFLAKE_WAREHOUSE', 'SNOWFLAKE_ROLE'] as const;

const keySource = (env: NodeJS.ProcessEnv): SnowflakeKeySource => {
  const secretId = env.SNOWFLAKE_SECRET_ARN;
  const path = env.SNOWFLAKE_PRIVATE_KEY_PATH;
  if (secretId && path) throw new ConfigurationError('set one of SNOWFLAKE_SECRET_ARN (Secrets Manager) or SNOWFLAKE_PRIVATE_KEY_PATH (local file), not both');
  if (secretId) return { kind: 'secrets-manager', secretId };
  // Secrets never come from plain env or files in the cloud.
  if (env.AWS_LAMBDA_FUNCTION_NAME) throw new ConfigurationError('missing environment variable: SNOWFLAKE_SECRET_ARN (on Lambda the Snowflake key comes from Secrets Manager)');
  if (!path) throw new ConfigurationError('missing environment variable: SNOWFLAKE_SECRET_ARN (Secrets Manager) or SNOWFLAKE_PRIVATE_KEY_PATH (local key file)');
  const passphrase = env.SNOWFLAKE_PRIVATE_KEY_PASSPHRASE;
  return { kind: 'file', path, ...(passphrase ? { passphrase } : {}) };
};

/**
 * `DUCKDB_THREADS`: DuckDB's worker threads, a positive integer (unset: one per core). The embedded stack sets 1: its
 * Node threads (pollers, load, merge) and the emulators' processes already keep both cores of a laptop busy, and with
 * a second worker DuckDB's calling thread spins while the worker runs a single-task scan (measured in a drain of
 * 30,000 events on 2 cores: 265–294 µs of the stack process's CPU per event with 1 thread against 388 with 2, and
 * 1,450–1,700 events/s against 1,340).
 */
const duckDbThreads = (env: NodeJS.ProcessEnv): { threads?: number } => {
  const text = env.DUCKDB_THREADS;
  if (text === undefined || text === '') return {};
  if (!/^[1-9]\d{0,3}$/.test(text)) throw new ConfigurationError(`DUCKDB_THREADS must be a positive integer, not "${text}"`);
  return { threads: Number(text) };
};

/**
 * Reads the warehouse settings from the environment and fails fast, naming everything that is missing:
 * `WAREHOUSE=duckdb` (`DUCKDB_PATH`, default {@link DEFAULT_DUCKDB_PATH}; the default outside Lambda; `DUCKDB_THREADS`) or
 * `WAREHOUSE=snowflake` (`SNOWFLAKE_ACCOUNT`, `_USER`, `_DATABASE`, `_SCHEMA`, `_WAREHOUSE`, `_ROLE`, optional
 * `_ACCESS_URL`, and the key from `SNOWFLAKE_SECRET_ARN` or `SNOWFLAKE_PRIVATE_KEY_PATH` + `_PASSPHRASE`).
 */
export const warehouseConfigFromEnv = (env: NodeJS.ProcessEnv = process.env): WarehouseConfig => {
  const kind = env.WAREHOUSE || (env.AWS_LAMBDA_FUNCTION_NAME ? undefined : 'duckdb');
  if (kind === undefined) throw new ConfigurationError('missing environment variable: WAREHOUSE (duckdb or snowflake)');
  if (kind === 'duckdb') return { kind, path: env.DUCKDB_PATH || DEFAULT_DUCKDB_PATH, ...duckDbThreads(env) };
  if (kind !== 'snowflake') throw new ConfigurationError(`WAREHOUSE must be duckdb or snowflake, not "${kind}"`);
  const missing = SNOWFLAKE_IDENTIFIERS.filter((name) => !env[name]);
  // Deployed, SNOWFLAKE_ACCOUNT comes from the snowflakeAccount parameter; packaging leaves it empty when unset, so a
  // stage deployed without it fails here, at the function's first call, with the parameter named.
  const hint = missing.includes('SNOWFLAKE_ACCOUNT') ? ' (deployed: the snowflakeAccount parameter, which serverless-compose.yml fills from SNOWFLAKE_ACCOUNT at deploy time)' : '';
  if (missing.length > 0) throw new ConfigurationError(`WAREHOUSE=snowflake needs environment variable${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}${hint}`);
  const value = (name: (typeof SNOWFLAKE_IDENTIFIERS)[number]): string => env[name] as string;
  return {
    kind,
    account: value('SNOWFLAKE_ACCOUNT'),
    username: value('SNOWFLAKE_USER'),
    database: value('SNOWFLAKE_DATABASE'),
    schema: value('SNOWFLAKE_SCHEMA'),
    warehouse: value('SNOWFLAKE_WAREHOUSE'),
    role: value('SNOWFLAKE_ROLE'),
    ...(env.SNOWFLAKE_ACCESS_URL ? { accessUrl: env.SNOWFLAKE_ACCESS_URL } : {}),
    keySource: keySource(env),
  };
};

/**
 * Opens the configured warehouse. Adapters are imported here, on first use, so a Snowflake Lambda never loads
 * DuckDB's native module and a DuckDB process never loads the Snowflake driver. DuckDB gets its tables created
 * (nobody else will); on Snowflake they come from `sql/snowflake/02-tables.sql`.
 */
const open = async (config: WarehouseConfig): Promise<Warehouse> => {
  if (config.kind === 'duckdb') {
    const { DuckDbWarehouse } = await import('./duckdb');
    if (config.path !== ':memory:') await mkdir(dirname(config.path), { recursive: true });
    const warehouse = await DuckDbWarehouse.open({ path: config.path, ...(config.threads ? { threads: config.threads } : {}) });
    try {
      await warehouse.init();
    } catch (error) {
      // Closed as after a crash (no compaction: the least work that can fail). The init error is the one to report; a
      // failure to close as well goes with it as its cause.
      await warehouse.close({ checkpoint: false }).catch((closeError: unknown) => {
        if (error instanceof Error && error.cause === undefined) error.cause = closeError;
      });
      throw error;
    }
    return warehouse;
  }
  const { SnowflakeWarehouse } = await import('./snowflake');
  const { kind: _kind, ...options } = config;
  return new SnowflakeWarehouse(options);
};

/** A {@link Warehouse} that opens the configured one on first use (and again after a failed open or a close). */
export class LazyWarehouse implements Warehouse {
  #opening: Promise<Warehouse> | undefined;

  constructor(readonly config: WarehouseConfig) {}

  #target(): Promise<Warehouse> {
    const opening = (this.#opening ??= open(this.config));
    // A failed open (DuckDB file locked, say) is not cached: the next call tries again.
    opening.catch(() => {
      if (this.#opening === opening) this.#opening = undefined;
    });
    return opening;
  }

  async init(): Promise<void> {
    await (await this.#target()).init();
  }

  async stage(rows: Parameters<Warehouse['stage']>[0], options?: CallOptions): Promise<StageResult> {
    return (await this.#target()).stage(rows, options);
  }

  async merge(hook?: MergeStepHook, options?: CallOptions): Promise<MergeResult> {
    return (await this.#target()).merge(hook, options);
  }

  async query(sql: string): Promise<ResultRow[]> {
    return (await this.#target()).query(sql);
  }

  async status(): Promise<WarehouseStatus> {
    return (await this.#target()).status();
  }

  async close(options?: CloseOptions): Promise<void> {
    const opening = this.#opening;
    this.#opening = undefined;
    if (opening) await (await opening.catch(() => undefined))?.close(options);
  }
}

let singleton: LazyWarehouse | undefined;

/**
 * The process's warehouse: configured from the environment on the first call (a {@link ConfigurationError} there,
 * at module load, names what is missing), connected on first use, and shared by every caller in the process —
 * load and merge handlers in one process use one DuckDB instance, as DuckDB allows one writer.
 */
export const warehouseFromEnv = (): Warehouse => (singleton ??= new LazyWarehouse(warehouseConfigFromEnv()));
