/**
 * The DuckDB warehouse tests open: one worker thread, as the embedded stack runs it (`DUCKDB_THREADS=1`, see
 * from-env.ts). `npm test` runs two jest workers on two cores beside the stacks' child processes; a warehouse with a
 * thread per core then competes with itself for them (the merge suites alone took 18 % more CPU with the default).
 * What the tests check — SQL, merge rules, concurrency between connections — does not depend on the thread count;
 * shared/test/duckdb-threads.test.ts covers the setting itself.
 */
import { DuckDbWarehouse, type DuckDbOptions } from '../src/warehouse/duckdb';

/** Opens a DuckDB warehouse for a test: `options` as for {@link DuckDbWarehouse.open}, one thread unless they say. */
export const openTestWarehouse = (options: DuckDbOptions): Promise<DuckDbWarehouse> => DuckDbWarehouse.open({ threads: 1, ...options });
