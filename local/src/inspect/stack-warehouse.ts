import { warehouseConfigFromEnv, warehouseFromEnv } from '@claims-cdc/shared/warehouse/from-env';
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import { ReadOnlyQueries } from './read-only-sql';

/**
 * The warehouse of the stack running in this process: the same instance the load and merge handlers use
 * (`warehouseFromEnv` is one per process), so queries never open the DuckDB file a second time.
 * Call it only after `startStack`, whose environment names the warehouse.
 *
 * Its `query` runs one statement that reads, nothing else (see {@link ReadOnlyQueries}): the `sql` route hands it
 * whatever text a caller with the token sends. On Snowflake that is the role's grants' job, not DuckDB's parser.
 */
export const stackWarehouse = (): Warehouse => {
  const warehouse = warehouseFromEnv();
  return warehouseConfigFromEnv().kind === 'duckdb' ? new ReadOnlyQueries(warehouse) : warehouse;
};
