/**
 * The warehouse of a deployed stage, through the same adapter and settings as its functions: the merge function's
 * environment in services/merge/serverless.yml (WAREHOUSE=snowflake, the Snowflake identifiers with their defaults,
 * the key from the Secrets Manager secret `claims-cdc/<stage>/snowflake`), read through shared's from-env factory.
 * The caller's environment wins over those defaults: SNOWFLAKE_ACCOUNT (the deploy-time parameter, which no file
 * holds) must come from it, and WAREHOUSE=duckdb with DUCKDB_PATH puts DuckDB in Snowflake's place (the stand-in that
 * tests and emulator runs use), as it does for the functions themselves.
 */
import { LazyWarehouse, warehouseConfigFromEnv, warehouseFromEnv } from '@claims-cdc/shared/warehouse/from-env';
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import { REPO_ROOT } from '../stack';
import { ServerlessService } from '../stack/serverless-config';
import path from 'node:path';

/** A warehouse for this command, and how to let go of it. */
export interface StageWarehouse {
  readonly warehouse: Warehouse;
  /** What it is, for people: `snowflake ACCOUNT/DATABASE.SCHEMA` or `duckdb PATH` (no secrets). */
  readonly description: string;
  close(): Promise<void>;
}

/** The merge function's environment for a stage, as deployed (strings only; the secret by its name). */
export function functionWarehouseEnv(stage: string, repoRoot: string = REPO_ROOT): Record<string, string> {
  const merge = new ServerlessService(path.join(repoRoot, 'services', 'merge', 'serverless.yml'), stage);
  const environment = merge.require('functions.merge.environment') as Record<string, unknown>;
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(environment)) {
    if (typeof value === 'string' && value !== '') env[name] = value;
  }
  // Deployed, the secret is a partial ARN built by CloudFormation (Fn::Sub); GetSecretValue takes its name as well.
  const sub = (environment.SNOWFLAKE_SECRET_ARN as { 'Fn::Sub'?: unknown } | undefined)?.['Fn::Sub'];
  const secretName = typeof sub === 'string' ? /:secret:(.+)$/.exec(sub)?.[1] : undefined;
  if (secretName) env.SNOWFLAKE_SECRET_ARN = secretName;
  return env;
}

/** The environment the warehouse is configured from: the caller's own when it names one (WAREHOUSE), else the function's with the caller's on top. */
export function stageWarehouseEnv(stage: string, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return env.WAREHOUSE ? env : { ...functionWarehouseEnv(stage), ...env };
}

/**
 * Opens (lazily) the stage's warehouse. DuckDB is the process's one instance (`warehouseFromEnv`: a process that
 * runs the stack's handlers too shares it, as DuckDB allows one writer per file), so it is not closed here;
 * Snowflake gets a connection of its own, closed by `close`.
 */
export function openStageWarehouse(stage: string, env: NodeJS.ProcessEnv = process.env): StageWarehouse {
  const config = warehouseConfigFromEnv(stageWarehouseEnv(stage, env));
  if (config.kind === 'duckdb' && env === process.env) return { warehouse: warehouseFromEnv(), description: `duckdb ${config.path}`, close: async () => undefined };
  const warehouse = new LazyWarehouse(config);
  const description = config.kind === 'duckdb' ? `duckdb ${config.path}` : `snowflake ${config.account}/${config.database}.${config.schema}`;
  return { warehouse, description, close: () => warehouse.close() };
}
