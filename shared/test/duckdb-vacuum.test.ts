/**
 * The embedded warehouse never vacuums while it is open (a vacuum made checkpoints erratic: see
 * VACUUM_TASKS_WHILE_OPEN in duckdb.ts) and compacts when it closes. Row groups are read from DuckDB's own
 * storage information; the destination's content is compared before and after.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ClaimRow } from '../src/domain/columns';
import type { DuckDbWarehouse } from '../src/warehouse/duckdb';
import { TABLES } from '../src/warehouse/tables';
import { claims, row, withStatus } from '../test-support/factories';
import { openTestWarehouse } from '../test-support/warehouse';

const POOL = claims(300, 41);
const T = 1_732_000_000_000_000;
const CYCLES = 5;

/**
 * Cycle 0 inserts every claim; each later cycle modifies a different fifth of them, so every row group the earlier
 * cycles wrote keeps live rows (a row group whose rows are all deleted is dropped even without a vacuum).
 */
const cycleRows = (cycle: number): ClaimRow[] =>
  POOL.filter((_, i) => cycle === 0 || i % 5 === cycle - 1).map((claim, i) =>
    row({
      eventName: cycle === 0 ? 'INSERT' : 'MODIFY',
      claim: withStatus(claim, cycle % 2 === 0 ? 'Approved' : 'In Review'),
      micros: T + cycle * 1_000_000 + i,
      seq: String(1_000_000 * (cycle + 1) + i),
      eventId: `vac-${cycle}-${i}`,
    }),
  );

const destinationRowGroups = async (warehouse: DuckDbWarehouse): Promise<number> => {
  const [result] = await warehouse.query(`SELECT COUNT(DISTINCT row_group_id) AS n FROM pragma_storage_info('${TABLES.destination}')`);
  return Number(result?.n);
};
/** A warehouse file that went through every cycle: stage, merge, checkpoint. */
const mergedInCycles = async (file: string): Promise<DuckDbWarehouse> => {
  const warehouse = await openTestWarehouse({ path: file });
  await warehouse.init();
  for (let cycle = 0; cycle < CYCLES; cycle += 1) {
    await warehouse.stage(cycleRows(cycle));
    await warehouse.merge();
    await warehouse.query('CHECKPOINT');
  }
  return warehouse;
};
const destination = (warehouse: DuckDbWarehouse) => warehouse.query(`SELECT * FROM ${TABLES.destination} ORDER BY claimId`);

describe('the embedded warehouse file: no vacuum while open, compacted at close', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-vacuum-'));
  const file = path.join(dir, 'warehouse.duckdb');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the replaced rows’ row groups across checkpoints while open, and compacts them into one at close, content unchanged', async () => {
    // Prepare: merges that replace a fifth of the destination each, each followed by a checkpoint.
    let warehouse = await mergedInCycles(file);
    const before = await destination(warehouse);
    const whileOpen = await destinationRowGroups(warehouse);

    // Act
    await warehouse.close();
    warehouse = await openTestWarehouse({ path: file });
    const afterClose = await destinationRowGroups(warehouse);
    const after = await destination(warehouse);
    await warehouse.close();

    // Assess: every checkpoint appended the replaced rows as a new row group and none was compacted...
    expect(whileOpen).toBeGreaterThanOrEqual(CYCLES);
    // ...until the close, which left one (300 rows fit in one), and the same rows.
    expect(afterClose).toBe(1);
    expect(before).toHaveLength(POOL.length);
    expect(after).toEqual(before);
  });

  it('closed with checkpoint: false (the chaos stack kill), leaves its WAL for the next open to replay and compacts nothing', async () => {
    // Prepare
    const crashed = path.join(dir, 'crashed.duckdb');
    let warehouse = await mergedInCycles(crashed);
    await warehouse.stage(cycleRows(CYCLES));
    const before = await destination(warehouse);
    const staged = (await warehouse.status()).staged;

    // Act
    await warehouse.close({ checkpoint: false });
    const walBytes = statSync(`${crashed}.wal`, { throwIfNoEntry: false })?.size ?? 0;
    warehouse = await openTestWarehouse({ path: crashed });
    const rowGroups = await destinationRowGroups(warehouse);
    const after = await destination(warehouse);
    const stagedAfter = (await warehouse.status()).staged;
    await warehouse.close();

    // Assess: the last stage was only in the WAL, and the replay brought it back; no compaction ran.
    expect(walBytes).toBeGreaterThan(0);
    expect(staged).toBeGreaterThan(0);
    expect(stagedAfter).toBe(staged);
    expect(after).toEqual(before);
    expect(rowGroups).toBeGreaterThanOrEqual(CYCLES);
  });

  it('compacts at close even when a compaction marker table was left in the file (by hand)', async () => {
    // Prepare
    const marked = path.join(dir, 'marked.duckdb');
    let warehouse = await mergedInCycles(marked);
    await warehouse.query('CREATE TABLE claims_cdc_compaction_marker (marker INTEGER)');

    // Act
    await warehouse.close();
    warehouse = await openTestWarehouse({ path: marked });
    const rowGroups = await destinationRowGroups(warehouse);
    const [left] = await warehouse.query("SELECT COUNT(*) AS n FROM duckdb_tables() WHERE table_name = 'claims_cdc_compaction_marker'");
    await warehouse.close();

    // Assess
    expect(rowGroups).toBe(1);
    expect(left).toEqual({ n: 0 });
  });
});
