/**
 * Stage 2, merge: one batch of staged events (mixed, duplicated, several per claim) merged into a big destination,
 * DuckDB file-backed. Our merge (DuckDbWarehouse.merge) and the quickstart's MERGE + DELETE run on copies of the
 * same database file holding the same staged batch; both results are checked claim by claim against the merge-rules
 * oracle, and a second pair of runs stages rows in the middle of each merge to count rows deleted unmerged.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { type DuckDBConnection, version as duckdbVersion } from '@duckdb/node-api';
import { type ClaimRow, DIALECTS, TABLES } from '@claims-cdc/shared';
import type { DuckDbWarehouse } from '@claims-cdc/shared/warehouse/duckdb';
import { expectedDestination } from '@claims-cdc/shared/test-support/factories';
import { copyDatabase, fillFromTemplates, openWarehouse, removeDatabase } from '../destination-setup';
import { cpuSecondsSince, median, progress, secondsSince, timed } from '../measure';
import { QUICKSTART_TRANSLATION, quickstartMergeForDuckDb } from '../quickstart-merge';
import type { Correctness, MergeOptions, MergeResult } from '../results';
import { type MergeBatch, mergeBatch } from '../seed-data';

const EXPECTED_TABLE = 'bench_expected';
const DUPLICATES_TABLE = 'bench_duplicates';

const quote = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/** Writes the oracle's final state of every claim the batch touches, and the redelivered event ids, into the file. */
const writeExpectations = async (warehouse: DuckDbWarehouse, batch: MergeBatch): Promise<void> => {
  const expected = expectedDestination(batch.rows);
  const connection = await warehouse.instance.connect();
  try {
    await connection.run(`CREATE OR REPLACE TABLE ${EXPECTED_TABLE} (claimId VARCHAR, version VARCHAR, claimStatus VARCHAR)`);
    const appender = await connection.createAppender(EXPECTED_TABLE);
    for (const claimId of new Set(batch.rows.map((r) => String(r.claimId)))) {
      const row = expected.get(claimId);
      appender.appendVarchar(claimId);
      if (row === undefined) {
        appender.appendNull();
        appender.appendNull();
      } else {
        appender.appendVarchar(String(row.eventCreationUnixTime));
        appender.appendVarchar(String(row.claimStatus));
      }
      appender.endRow();
    }
    appender.closeSync();
    await connection.run(`CREATE OR REPLACE TABLE ${DUPLICATES_TABLE} (eventId VARCHAR)`);
    const dups = await connection.createAppender(DUPLICATES_TABLE);
    for (const eventId of batch.duplicateEventIds) {
      dups.appendVarchar(eventId);
      dups.endRow();
    }
    dups.closeSync();
  } finally {
    connection.closeSync();
  }
};

/** Compares the destination with the oracle's final state, claim by claim. */
const checkDestination = async (warehouse: DuckDbWarehouse, expectedUntouchedRows: number): Promise<Correctness> => {
  const [row] = await warehouse.query(
    `WITH d AS (SELECT claimId, COUNT(*) AS n, MIN(eventCreationUnixTime) AS v, MIN(claimStatus) AS s FROM ${TABLES.destination} ` +
      `WHERE claimId IN (SELECT claimId FROM ${EXPECTED_TABLE}) GROUP BY claimId) ` +
      `SELECT COUNT_IF(e.version IS NOT NULL AND d.claimId IS NULL) AS missing, ` +
      `COUNT_IF(e.version IS NULL AND d.claimId IS NOT NULL) AS notDeleted, ` +
      `COUNT_IF(e.version IS NOT NULL AND d.n > 1) AS duplicated, ` +
      `COUNT_IF(e.version IS NOT NULL AND d.n = 1 AND (d.v <> e.version OR d.s IS DISTINCT FROM e.claimStatus)) AS wrongVersion, ` +
      `(SELECT COUNT(*) FROM ${TABLES.destination} WHERE claimId NOT IN (SELECT claimId FROM ${EXPECTED_TABLE})) AS untouchedRows ` +
      `FROM ${EXPECTED_TABLE} e LEFT JOIN d USING (claimId)`,
  );
  const n = (key: string): number => Number(row?.[key] ?? 0);
  return {
    missing: n('missing'),
    notDeleted: n('notDeleted'),
    duplicated: n('duplicated'),
    wrongVersion: n('wrongVersion'),
    wrongClaims: n('missing') + n('notDeleted') + n('duplicated') + n('wrongVersion'),
    untouchedRows: n('untouchedRows'),
    expectedUntouchedRows,
  };
};

const countStaged = async (warehouse: DuckDbWarehouse, eventIdPrefix: string | null): Promise<number> => {
  const where = eventIdPrefix === null ? `eventId NOT LIKE 'late-%'` : `eventId LIKE ${quote(`${eventIdPrefix}%`)}`;
  const [row] = await warehouse.query(`SELECT COUNT(*) AS n FROM ${TABLES.staging} WHERE ${where}`);
  return Number(row?.n ?? 0);
};

const stageInChunks = async (warehouse: DuckDbWarehouse, rows: readonly ClaimRow[], size = 10_000): Promise<number> => {
  let staged = 0;
  for (let i = 0; i < rows.length; i += size) staged += (await warehouse.stage(rows.slice(i, i + size))).staged;
  return staged;
};

/** Wall-clock and CPU seconds of one merge run, per step, with the time spent staging late rows left out. */
interface RunTiming {
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly steps: Record<string, number>;
}

/**
 * Our merge through DuckDbWarehouse.merge; its step hook records when each step ends and, after the destination is
 * updated and before staging is cleaned, stages the late rows from the load side (not counted in the timing).
 */
const runOurs = async (warehouse: DuckDbWarehouse, lateRows: readonly ClaimRow[]): Promise<RunTiming> => {
  const marks: Array<[string, bigint]> = [];
  let excluded = 0n;
  let excludedCpu = 0;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  marks.push(['start', start]);
  await warehouse.merge(async (step) => {
    marks.push([step, process.hrtime.bigint()]);
    if (step === 'applied' && lateRows.length > 0) {
      const lateStart = process.hrtime.bigint();
      const lateCpu = process.cpuUsage();
      await warehouse.stage(lateRows);
      excludedCpu += cpuSecondsSince(lateCpu);
      excluded += process.hrtime.bigint() - lateStart;
      marks.push(['late rows staged', process.hrtime.bigint()]);
    }
  });
  marks.push(['committed', process.hrtime.bigint()]);
  const names: Record<string, string> = { claimed: 'claim', planned: 'plan table + stats', applied: 'DELETE + INSERT destination and tombstones', deleted: 'DELETE claimed', committed: 'COMMIT' };
  const steps: Record<string, number> = {};
  for (let i = 1; i < marks.length; i += 1) {
    const [name, at] = marks[i] as [string, bigint];
    const name2 = names[name];
    if (name2 !== undefined) steps[name2] = Number(at - (marks[i - 1] as [string, bigint])[1]) / 1e9;
  }
  return { seconds: Number(process.hrtime.bigint() - start - excluded) / 1e9, cpuSeconds: cpuSecondsSince(cpu) - excludedCpu, steps };
};

/** Name of the step that reports the checkpoint a merge leaves behind (not part of the merge's total). */
const CHECKPOINT_STEP = 'CHECKPOINT left behind (not in the total)';
/**
 * Name of the step that reports the warehouse's close: the compaction a checkpoint no longer does while the file is
 * open (VACUUM_TASKS_WHILE_OPEN in shared/src/warehouse/duckdb.ts) is done there, so its cost is shown, not hidden.
 */
const CLOSE_STEP = 'close, with its compaction (not in the total)';

/**
 * The checkpoint a merge leaves for whichever later statement crosses `checkpoint_threshold` (or for `close`), timed
 * by running it at once: the latency a merge hands on, beside the merge's own time.
 */
const checkpointSeconds = async (run: (sql: string) => Promise<unknown>): Promise<{ seconds: number; cpuSeconds: number }> => {
  const { seconds, cpuSeconds } = await timed(() => run('CHECKPOINT'));
  return { seconds, cpuSeconds };
};

/** Wall-clock and CPU seconds of one floor run (see {@link runFloor}). */
interface FloorTiming {
  readonly seconds: number;
  readonly cpuSeconds: number;
}

/**
 * The floor: the least DuckDB has to do on this file to merge the batch, timed on its own. The plan is built first and
 * not timed (claim, plan table); then, in one transaction, only our own statements that move data: DELETE the rows of
 * the claims that change, INSERT the winning rows read from staging, DELETE the claimed staged rows, COMMIT. No
 * stats, no tombstones. What our merge takes above this is what its SQL can still win; the rest is DuckDB's cost of
 * reading, writing and logging the winning rows at full width.
 */
const runFloor = async (warehouse: DuckDbWarehouse): Promise<FloorTiming> => {
  const statements = DIALECTS.duckdb.merge(randomUUID(), new Date().toISOString());
  const [deleteReplaced, insertWinners] = statements.apply;
  if (deleteReplaced === undefined || insertWinners === undefined) throw new Error('the DuckDB merge has no DELETE + INSERT steps');
  const connection = await warehouse.instance.connect();
  try {
    await connection.run(statements.claim);
    for (const sql of statements.plan) await connection.run(sql);
    const { seconds, cpuSeconds } = await timed(async () => {
      await connection.run('BEGIN TRANSACTION');
      for (const sql of [deleteReplaced.sql, insertWinners.sql, statements.deleteClaimed]) await connection.run(sql);
      await connection.run('COMMIT');
    });
    return { seconds, cpuSeconds };
  } finally {
    connection.closeSync();
  }
};

/**
 * The quickstart's three statements on one connection, autocommit. The late rows are staged after its MERGE and
 * before its DELETE (not counted in the timing). A statement still running after `timeoutMs` is interrupted.
 */
const runQuickstart = async (warehouse: DuckDbWarehouse, connection: DuckDBConnection, lateRows: readonly ClaimRow[], timeoutMs: number): Promise<RunTiming> => {
  const [createTemp, mergeStatement, deleteStatement] = quickstartMergeForDuckDb();
  const deadline = Date.now() + timeoutMs;
  const steps: Record<string, number> = {};
  let cpuSeconds = 0;
  for (const [name, statement] of [
    ['CREATE TEMPORARY TABLE', createTemp],
    ['MERGE', mergeStatement],
    ['DELETE', deleteStatement],
  ] as const) {
    const timer = setTimeout(() => connection.interrupt(), Math.max(1, deadline - Date.now()));
    try {
      const { seconds, cpuSeconds: cpu } = await timed(() => connection.run(statement as string));
      steps[name] = seconds;
      cpuSeconds += cpu;
    } finally {
      clearTimeout(timer);
    }
    if (name === 'MERGE' && lateRows.length > 0) await warehouse.stage(lateRows);
  }
  return { seconds: Object.values(steps).reduce((a, b) => a + b, 0), cpuSeconds, steps };
};

/** Adds the redelivered copies the quickstart's CDC table would hold (it has no idempotency: every delivery is a row). */
const addRedeliveredCopies = async (connection: DuckDBConnection): Promise<void> => {
  await connection.run(`INSERT INTO ${TABLES.staging} SELECT s.* FROM ${TABLES.staging} s JOIN ${DUPLICATES_TABLE} d USING (eventId)`);
};

const medianSteps = (runs: readonly RunTiming[]): Record<string, number> => {
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.steps)))];
  return Object.fromEntries(names.map((n) => [n, median(runs.map((r) => r.steps[n] ?? 0))]));
};

const firstLine = (error: unknown): string => (error instanceof Error ? (error.message.split('\n')[0] ?? error.name) : String(error));

/**
 * A staged batch on top of the destination, built once per set of sizes, seed and SQL (kept in the data directory:
 * building a million-row destination takes a while and is not what is measured).
 */
const stagedDatabase = async (options: MergeOptions, batch: MergeBatch): Promise<string> => {
  const fingerprint = createHash('sha1')
    .update(JSON.stringify({ d: options.destinationRows, seed: options.seed }))
    .update(batch.rows.map((r) => `${r.eventId}|${r.claimId}|${r.eventName}|${r.eventCreationUnixTime}`).join('\n'))
    .update(DIALECTS.duckdb.createTables().join(';'))
    .update(DIALECTS.duckdb.stageFrom('load', '2025-01-01T00:00:00Z').sql.join(';'))
    .update(duckdbVersion())
    .digest('hex')
    .slice(0, 12);
  const staged = join(options.dataDir, `merge-staged-${fingerprint}.duckdb`);
  if (existsSync(staged)) {
    progress(`merge: reusing the staged destination ${staged}`);
    return staged;
  }
  const building = `${staged}.building`;
  progress(`merge: building the ${options.destinationRows.toLocaleString('en-US')}-row destination and staging the batch (setup, not measured; cached in ${options.dataDir})`);
  await removeDatabase(building);
  const warehouse = await openWarehouse(building);
  await fillFromTemplates(warehouse, TABLES.destination, options.destinationRows, 0, options.seed);
  const uniqueStaged = await stageInChunks(warehouse, batch.rows);
  if (uniqueStaged !== batch.uniqueRows.length) throw new Error(`staged ${uniqueStaged} events, expected ${batch.uniqueRows.length}`);
  await writeExpectations(warehouse, batch);
  await warehouse.close();
  await rename(building, staged);
  return staged;
};

/** One side-by-side comparison on one staged batch. */
const compare = async (options: MergeOptions): Promise<Omit<MergeResult, 'translation' | 'scaledDown'>> => {
  await mkdir(options.dataDir, { recursive: true });
  const run = join(options.dataDir, 'merge-run.duckdb');
  const setupStart = process.hrtime.bigint();
  progress(`merge: generating the ${options.events.toLocaleString('en-US')}-event batch`);
  const batch = mergeBatch({ destinationRows: options.destinationRows, events: options.events, duplicateRate: options.duplicateRate, lateEvents: options.lateEvents, seed: options.seed });
  const staged = await stagedDatabase(options, batch);
  const setupSeconds = secondsSince(setupStart);
  const expectedUntouchedRows = options.destinationRows - batch.existingClaims;

  const ours: RunTiming[] = [];
  const floor: FloorTiming[] = [];
  const quickstart: RunTiming[] = [];
  let oursCorrectness: Correctness | undefined;
  let quickstartCorrectness: Correctness | undefined;
  let oursStats: Record<string, number> = {};
  let oursLeft = 0;
  let oursLateLeft = 0;
  let quickstartLeft = 0;
  let quickstartLateLeft = batch.lateRows.length;
  let quickstartError: string | null = null;
  // Alternating runs, so machine noise hits both alike.
  for (let r = 0; r < Math.max(options.runs, options.quickstartRuns); r += 1) {
    if (r < options.runs) {
      await copyDatabase(staged, run);
      const warehouse = await openWarehouse(run);
      const merged = await runOurs(warehouse, batch.lateRows);
      const checkpoint = await checkpointSeconds((sql) => warehouse.query(sql));
      const [last] = await warehouse.query(`SELECT COUNT(*) AS n FROM ${TABLES.destination}`);
      oursStats = { destinationRowsAfter: Number(last?.n ?? 0) };
      oursCorrectness = await checkDestination(warehouse, expectedUntouchedRows);
      oursLeft = await countStaged(warehouse, null);
      oursLateLeft = await countStaged(warehouse, 'late-');
      const closed = await timed(() => warehouse.close());
      const timing = { ...merged, steps: { ...merged.steps, [CHECKPOINT_STEP]: checkpoint.seconds, [CLOSE_STEP]: closed.seconds } };
      ours.push(timing);
      progress(`merge (ours) run ${r + 1}: ${timing.seconds.toFixed(2)} s (${timing.cpuSeconds.toFixed(2)} s CPU), checkpoint left behind ${checkpoint.seconds.toFixed(2)} s (${checkpoint.cpuSeconds.toFixed(2)} s CPU), close with its compaction ${closed.seconds.toFixed(2)} s, wrong claims ${oursCorrectness.wrongClaims}, late rows lost ${batch.lateRows.length - oursLateLeft}`);
      await copyDatabase(staged, run);
      const floorWarehouse = await openWarehouse(run);
      const floorRun = await runFloor(floorWarehouse);
      await floorWarehouse.close();
      floor.push(floorRun);
      progress(`merge (floor) run ${r + 1}: ${floorRun.seconds.toFixed(2)} s (${floorRun.cpuSeconds.toFixed(2)} s CPU)`);
    }
    if (r < options.quickstartRuns) {
      await copyDatabase(staged, run);
      const warehouse = await openWarehouse(run);
      const connection = await warehouse.instance.connect();
      let timing: RunTiming | undefined;
      try {
        await addRedeliveredCopies(connection);
        const merged = await runQuickstart(warehouse, connection, batch.lateRows, options.quickstartTimeoutSeconds * 1_000);
        const checkpoint = await checkpointSeconds((sql) => connection.run(sql));
        timing = { ...merged, steps: { ...merged.steps, [CHECKPOINT_STEP]: checkpoint.seconds } };
        quickstartCorrectness = await checkDestination(warehouse, expectedUntouchedRows);
        quickstartLeft = await countStaged(warehouse, null);
        quickstartLateLeft = await countStaged(warehouse, 'late-');
        progress(`merge (quickstart) run ${r + 1}: ${timing.seconds.toFixed(2)} s (${timing.cpuSeconds.toFixed(2)} s CPU), checkpoint left behind ${checkpoint.seconds.toFixed(2)} s (${checkpoint.cpuSeconds.toFixed(2)} s CPU), wrong claims ${quickstartCorrectness.wrongClaims}, late rows lost ${batch.lateRows.length - quickstartLateLeft}`);
      } catch (error) {
        quickstartError = /interrupt/i.test(firstLine(error)) ? `interrupted after ${options.quickstartTimeoutSeconds} s` : firstLine(error);
        progress(`merge (quickstart) run ${r + 1}: ${quickstartError}`);
      } finally {
        connection.closeSync();
      }
      const closed = await timed(() => warehouse.close());
      if (timing) quickstart.push({ ...timing, steps: { ...timing.steps, [CLOSE_STEP]: closed.seconds } });
    }
  }
  await removeDatabase(run);

  const lateRows = batch.lateRows.length;
  const unfinished: Correctness = { missing: 0, notDeleted: 0, duplicated: 0, wrongVersion: 0, wrongClaims: 0, untouchedRows: 0, expectedUntouchedRows };
  return {
    destinationRows: options.destinationRows,
    events: batch.rows.length,
    uniqueEvents: batch.uniqueRows.length,
    duplicates: batch.duplicateEventIds.length,
    claims: batch.claims,
    existingClaims: batch.existingClaims,
    counts: batch.counts,
    setupSeconds,
    ours: {
      seconds: median(ours.map((t) => t.seconds)),
      runs: ours.map((t) => t.seconds),
      cpuSeconds: median(ours.map((t) => t.cpuSeconds)),
      steps: medianSteps(ours),
      correctness: oursCorrectness as Correctness,
      lateRows,
      lateRowsDeletedUnmerged: lateRows - oursLateLeft,
      lateRowsOnBatchClaims: batch.lateRowsOnBatchClaims,
      batchRowsLeftInStaging: oursLeft,
      stats: oursStats,
    },
    floor: { seconds: median(floor.map((t) => t.seconds)), runs: floor.map((t) => t.seconds), cpuSeconds: median(floor.map((t) => t.cpuSeconds)) },
    quickstart: {
      seconds: quickstart.length > 0 ? median(quickstart.map((t) => t.seconds)) : Number.NaN,
      runs: quickstart.map((t) => t.seconds),
      cpuSeconds: quickstart.length > 0 ? median(quickstart.map((t) => t.cpuSeconds)) : Number.NaN,
      steps: medianSteps(quickstart),
      correctness: quickstartCorrectness ?? unfinished,
      lateRows,
      lateRowsDeletedUnmerged: quickstart.length > 0 ? lateRows - quickstartLateLeft : 0,
      lateRowsOnBatchClaims: batch.lateRowsOnBatchClaims,
      batchRowsLeftInStaging: quickstartLeft,
      error: quickstartError,
      finished: quickstart.length > 0,
      timeoutSeconds: options.quickstartTimeoutSeconds,
    },
  };
};

/**
 * Runs stage 2. When the quickstart's merge does not finish on the full batch within its time limit, the same
 * comparison also runs on a batch and destination `scaleDownBy` times smaller, so its correctness is still counted.
 */
export const runMerge = async (options: MergeOptions): Promise<MergeResult> => {
  const full = await compare(options);
  let scaledDown: MergeResult['scaledDown'];
  if (!full.quickstart.finished && options.scaleDownBy > 1) {
    progress(`merge: the quickstart did not finish; comparing again on a batch ${options.scaleDownBy}× smaller to count what it gets wrong`);
    const small = await compare({
      ...options,
      destinationRows: Math.round(options.destinationRows / options.scaleDownBy),
      events: Math.round(options.events / options.scaleDownBy),
      lateEvents: Math.max(10, Math.round(options.lateEvents / options.scaleDownBy)),
      runs: 1,
      quickstartRuns: 1,
    });
    scaledDown = small;
  }
  return { ...full, ...(scaledDown ? { scaledDown } : {}), translation: [...QUICKSTART_TRANSLATION] };
};
