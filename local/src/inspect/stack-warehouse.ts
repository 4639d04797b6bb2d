import { warehouseFromEnv } from '@claims-cdc/shared/warehouse/from-env';
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';

/**
 * The warehouse of the stack running in this process: the same instance the load and merge handlers use
 * (`warehouseFromEnv` is one per process), so queries never open the DuckDB file a second time.
 * Call it only after `startStack`, whose environment names the warehouse.
 */
export const stackWarehouse = (): Warehouse => warehouseFromEnv();
