/**
 * DUCKDB_THREADS: the number of DuckDB worker threads, read once from the environment (the embedded stack sets 1),
 * refused when it is not a positive integer, and applied to the instance.
 */
import { ConfigurationError } from '../src/domain/errors';
import { DuckDbWarehouse } from '../src/warehouse/duckdb';
import { warehouseConfigFromEnv } from '../src/warehouse/from-env';

describe('DUCKDB_THREADS', () => {
  it.each([
    ['unset: one per core (no setting)', undefined, undefined],
    ['empty: as unset', '', undefined],
    ['1', '1', 1],
    ['16', '16', 16],
  ])('%s', (_name, value, expected) => {
    // Act
    const config = warehouseConfigFromEnv({ WAREHOUSE: 'duckdb', DUCKDB_PATH: ':memory:', ...(value === undefined ? {} : { DUCKDB_THREADS: value }) });
    // Assess
    expect(config).toEqual({ kind: 'duckdb', path: ':memory:', ...(expected === undefined ? {} : { threads: expected }) });
  });

  it.each(['0', '-1', 'two', '1.5', ' 2'])('refuses %p, naming the variable', (value) => {
    // Act
    const reading = () => warehouseConfigFromEnv({ WAREHOUSE: 'duckdb', DUCKDB_THREADS: value });
    // Assess
    expect(reading).toThrow(ConfigurationError);
    expect(reading).toThrow(/DUCKDB_THREADS must be a positive integer/);
  });

  it('is applied to the DuckDB instance', async () => {
    // Prepare
    const warehouse = await DuckDbWarehouse.open({ path: ':memory:', threads: 1 });
    try {
      // Act
      const [row] = await warehouse.query("SELECT current_setting('threads') AS threads");
      // Assess
      expect(Number(row?.threads)).toBe(1);
    } finally {
      await warehouse.close();
    }
  });
});
