/**
 * The floor of stage 3: how fast the same rows get from JS into DuckDB with nothing but the writes. Each batch is
 * appended with DuckDB's Appender, cell by cell (the fastest way measured into a temporary table, CPU per row: a
 * DataChunk filled column by column cost the same, since its text vectors also make one native call per cell; JSON per
 * batch, by rows or by columns, expanded with `from_json`, 2.6-3.3x as much; packed columns split with
 * `string_split` 1.7-2.2x),
 * straight into plain tables typed like the load table: no temporary table, no casts, no idempotency check. Once into
 * one table (a commit per batch), once into two tables in one transaction (what staging + history must write at
 * least). Same file settings as the warehouse (its checkpoint threshold), so the WAL and checkpoint costs are in.
 */
import { type DuckDBConnection } from '@duckdb/node-api';
import { type ClaimRow, DIALECTS, ROW_COLUMNS } from '@claims-cdc/shared';
import { openWarehouse, removeDatabase } from '../destination-setup';
import { median, timed } from '../measure';
import type { LoadFloorRate } from '../results';

const FLOOR_TABLES = ['bench_floor_a', 'bench_floor_b'] as const;

const appendRows = async (connection: DuckDBConnection, table: string, rows: readonly ClaimRow[]): Promise<void> => {
  const appender = await connection.createAppender(table);
  try {
    for (const row of rows) {
      for (const column of ROW_COLUMNS) {
        const value = row[column.name];
        if (value === null || value === undefined) appender.appendNull();
        else if (column.type === 'FLOAT') appender.appendDouble(Number(value));
        else if (column.type === 'INTEGER') appender.appendBigInt(BigInt(Math.trunc(Number(value))));
        else appender.appendVarchar(String(value));
      }
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
};

/** Appends each batch into `tables` of the file at `path`: one table commits per batch, two share one transaction. */
const measureInto = async (path: string, tables: number, runs: readonly (readonly ClaimRow[][])[]): Promise<LoadFloorRate> => {
  await removeDatabase(path);
  const warehouse = await openWarehouse(path);
  const connection = await warehouse.instance.connect();
  try {
    const names = FLOOR_TABLES.slice(0, tables);
    for (const name of names) await connection.run(`CREATE TABLE ${name} (${DIALECTS.duckdb.loadTableColumns()})`);
    const rates: number[] = [];
    const cpuRates: number[] = [];
    for (const batches of runs) {
      const rows = batches.reduce((sum, b) => sum + b.length, 0);
      const { seconds, cpuSeconds } = await timed(async () => {
        for (const batch of batches) {
          if (tables > 1) await connection.run('BEGIN TRANSACTION');
          for (const name of names) await appendRows(connection, name, batch);
          if (tables > 1) await connection.run('COMMIT');
        }
      });
      rates.push(rows / seconds);
      cpuRates.push(rows / cpuSeconds);
    }
    return { rowsPerSecond: median(rates), rowsPerCpuSecond: median(cpuRates) };
  } finally {
    connection.closeSync();
    await warehouse.close();
    await removeDatabase(path);
  }
};

/** The one-table and two-table floors over the same batches (each run a list of batches). */
export const measureLoadFloor = async (pathPrefix: string, runs: readonly (readonly ClaimRow[][])[]): Promise<{ oneTable: LoadFloorRate; twoTables: LoadFloorRate }> => ({
  oneTable: await measureInto(`${pathPrefix}-1.duckdb`, 1, runs),
  twoTables: await measureInto(`${pathPrefix}-2.duckdb`, 2, runs),
});
