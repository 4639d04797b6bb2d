/**
 * Bulk setup of big warehouse tables (not measured): a few template rows go through the real stage path, then
 * DuckDB generates millions of rows from them in one INSERT … SELECT, each with its own claim id, event id and
 * version. Claim `i` gets the id `claimIdFor(i)` (seed-data.ts), so change batches can refer to existing claims.
 */
import { copyFile, rm } from 'node:fs/promises';
import { ALL_COLUMNS, type ClaimRow, generateClaims, TABLES, toClaimRow } from '@claims-cdc/shared';
import { DuckDbWarehouse } from '@claims-cdc/shared/warehouse/duckdb';
import { changeEvent } from '@claims-cdc/shared/test-support/factories';
import { DESTINATION_EPOCH_MICROS } from './seed-data';

const TEMPLATE_COUNT = 64;
const TEMPLATE_TABLE = 'bench_templates';

/** Removes a DuckDB file and its write-ahead log. */
export const removeDatabase = async (path: string): Promise<void> => {
  await rm(path, { force: true });
  await rm(`${path}.wal`, { force: true });
};

/** Copies a closed (checkpointed) DuckDB file. */
export const copyDatabase = async (from: string, to: string): Promise<void> => {
  await removeDatabase(to);
  await copyFile(from, to);
};

/** Opens a warehouse file, creating the tables. */
export const openWarehouse = async (path: string): Promise<DuckDbWarehouse> => {
  const warehouse = await DuckDbWarehouse.open({ path });
  await warehouse.init();
  return warehouse;
};

const templateRows = (seed: number): ClaimRow[] =>
  generateClaims(TEMPLATE_COUNT, seed).map((claim, i) =>
    toClaimRow(changeEvent({ eventName: 'INSERT', claim, micros: DESTINATION_EPOCH_MICROS, seq: '', eventId: `template-${i}` })),
  );

/**
 * Adds `count` rows for claims `firstIndex …` to `table` (destination or history), generated in SQL from template
 * rows that were staged through the real stage path (so every value has the type and shape staging gives it).
 */
export const fillFromTemplates = async (warehouse: DuckDbWarehouse, table: string, count: number, firstIndex: number, seed: number): Promise<void> => {
  const connection = await warehouse.instance.connect();
  try {
    const before = await warehouse.status();
    if (before.staged !== 0 || before.history !== 0) throw new Error('fillFromTemplates needs empty staging and history (it stages templates through them)');
    await warehouse.stage(templateRows(seed));
    await connection.run(`CREATE OR REPLACE TABLE ${TEMPLATE_TABLE} AS SELECT row_number() OVER (ORDER BY eventId) - 1 AS idx, * FROM ${TABLES.staging}`);
    await connection.run(`DELETE FROM ${TABLES.staging}`);
    await connection.run(`DELETE FROM ${TABLES.history}`);
    const id = `printf('CLM-%08X', r.i)`;
    const values = ALL_COLUMNS.map((c) => {
      switch (c.name) {
        case 'claimId':
          return id;
        case 'eventId':
          return `'seed-' || CAST(r.i AS VARCHAR)`;
        case 'eventName':
          return `'INSERT'`;
        case 'eventCreationUnixTime':
          return `CAST(${DESTINATION_EPOCH_MICROS} + r.i AS VARCHAR)`;
        case 'sequenceNumber':
          return `''`;
        case 'rawImage':
          return `replace(t.rawImage, t.claimId, ${id})`;
        default:
          return `t.${c.name}`;
      }
    });
    await connection.run(
      `INSERT INTO ${table} (${ALL_COLUMNS.map((c) => c.name).join(', ')}) ` +
        `SELECT ${values.join(', ')} FROM (SELECT range AS i FROM range(${firstIndex}, ${firstIndex + count})) r ` +
        `JOIN ${TEMPLATE_TABLE} t ON t.idx = r.i % ${TEMPLATE_COUNT}`,
    );
    await connection.run(`DROP TABLE ${TEMPLATE_TABLE}`);
    await connection.run('CHECKPOINT');
  } finally {
    connection.closeSync();
  }
};
