/**
 * Stage 3, load: rows staged into the CDC staging table and the event history table, idempotently by event id
 * (DuckDbWarehouse.stage, one transaction per batch), DuckDB file-backed. Batch sizes follow what the load Lambda
 * receives: one transform batch (100 rows), one 10-message SQS poll (~1,000 rows), the 6 MB Lambda payload cap
 * (~2,500 rows). History is either empty or already large, because every stage call checks it for duplicates.
 * Then a re-delivery of staged batches (must stage nothing), and the load handler's body (parse + stage).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type ClaimRow, packRows, parseRowMessage, TABLES } from '@claims-cdc/shared';
import type { DuckDbWarehouse } from '@claims-cdc/shared/warehouse/duckdb';
import { sqsEvent } from '@claims-cdc/shared/test-support/factories';
import { type LoadSummary, loadStage } from '../../services/load/src/load-stage';
import { fillFromTemplates, openWarehouse, removeDatabase } from '../destination-setup';
import { median, progress, timed } from '../measure';
import type { LoadOptions, LoadPoint, LoadResult } from '../results';
import { loadRows } from '../seed-data';
import { measureLoadFloor } from './load-floor';

const chunks = <T>(items: readonly T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

const count = async (warehouse: DuckDbWarehouse, sql: string): Promise<number> => Number((await warehouse.query(sql))[0]?.n ?? 0);

/** Runs stage 3. */
export const runLoad = async (options: LoadOptions): Promise<LoadResult> => {
  await mkdir(options.dataDir, { recursive: true });
  const points: LoadPoint[] = [];
  let offset = 0;
  const take = (n: number): ClaimRow[] => {
    const rows = loadRows(n, offset, options.seed);
    offset += n;
    return rows;
  };
  let redelivery: LoadResult['redelivery'] | undefined;
  let withParsing: LoadResult['withParsing'] | undefined;
  let idempotent = true;
  let parseMicrosPerRow = Number.NaN;
  let floor: LoadResult['floor'];

  for (const historyRows of options.historyRows) {
    const path = join(options.dataDir, `load-${historyRows}.duckdb`);
    await removeDatabase(path);
    const warehouse = await openWarehouse(path);
    if (historyRows > 0) {
      progress(`load: pre-filling history with ${historyRows.toLocaleString('en-US')} rows (setup, not measured)`);
      await fillFromTemplates(warehouse, TABLES.history, historyRows, 80_000_000, options.seed);
    }
    let uniqueStaged = 0;
    let lastBatches: ClaimRow[][] = [];
    for (const batchSize of options.batchSizes) {
      const rates: number[] = [];
      const cpuRates: number[] = [];
      for (let r = 0; r < options.runs; r += 1) {
        const batches = chunks(take(batchSize * options.batchesPerRun), batchSize);
        const { value: staged, seconds, cpuSeconds } = await timed(async () => {
          let n = 0;
          for (const batch of batches) n += (await warehouse.stage(batch)).staged;
          return n;
        });
        if (staged !== batchSize * options.batchesPerRun) idempotent = false;
        uniqueStaged += staged;
        rates.push(staged / seconds);
        cpuRates.push(staged / cpuSeconds);
        lastBatches = batches;
      }
      points.push({ historyRows, batchSize, rowsPerSecond: median(rates), rowsPerCpuSecond: median(cpuRates), runs: rates });
      progress(`load (history ${historyRows.toLocaleString('en-US')}, batch ${batchSize}): ${rates.map((x) => Math.round(x).toLocaleString('en-US')).join(', ')} rows/s`);
    }

    if (redelivery === undefined) {
      // At-least-once: the same batches arrive again (an SQS redelivery after a timeout, a Lambda retry).
      const again = lastBatches.slice(0, options.redeliveredBatches);
      const historyBefore = await count(warehouse, `SELECT COUNT(*) AS n FROM ${TABLES.history}`);
      const { value: stagedAgain, seconds } = await timed(async () => {
        let n = 0;
        for (const batch of again) n += (await warehouse.stage(batch)).staged;
        return n;
      });
      const historyGrew = (await count(warehouse, `SELECT COUNT(*) AS n FROM ${TABLES.history}`)) - historyBefore;
      const rows = again.reduce((sum, b) => sum + b.length, 0);
      redelivery = { batchSize: again[0]?.length ?? 0, rows, rowsPerSecond: rows / seconds, stagedAgain, historyGrew };
      progress(`load: re-delivery of ${again.length} batches: ${Math.round(rows / seconds).toLocaleString('en-US')} rows/s, staged again ${stagedAgain}`);

      // The load handler's body: parse the packed row messages of one SQS batch, then stage them.
      const parsingSize = options.batchSizes.includes(1_000) ? 1_000 : (options.batchSizes[0] as number);
      const parsingRates: number[] = [];
      for (let r = 0; r < options.runs; r += 1) {
        const batches = chunks(take(parsingSize * options.batchesPerRun), parsingSize).map((rows) => sqsEvent(packRows(rows).messages.map((m) => m.body)).Records);
        let last: { summary?: LoadSummary; failed: number; quarantined: number } = { failed: 0, quarantined: 0 };
        const stage = loadStage({ warehouse, quarantineQueueUrl: 'quarantine', send: async () => new Map() }, (report) => {
          last = { ...(report.summary === undefined ? {} : { summary: report.summary }), failed: report.failed.length, quarantined: report.quarantined.length };
        });
        const { value: staged, seconds } = await timed(async () => {
          let n = 0;
          for (const records of batches) {
            await stage.handle({ Records: records });
            if (last.failed > 0 || last.quarantined > 0) throw new Error('benchmark row messages must all stage');
            n += last.summary?.staged ?? 0;
          }
          return n;
        });
        uniqueStaged += staged;
        parsingRates.push(staged / seconds);
      }
      withParsing = { batchSize: parsingSize, rowsPerSecond: median(parsingRates), runs: parsingRates };
      // Parsing alone (what a load Lambda does itself when the warehouse is Snowflake).
      const bodies = packRows(take(parsingSize * options.batchesPerRun)).messages.map((m) => m.body);
      const parseRuns: number[] = [];
      for (let r = 0; r < options.runs + 1; r += 1) {
        let rows = 0;
        const { cpuSeconds } = await timed(() => {
          for (const body of bodies) rows += parseRowMessage(body).length;
        });
        if (r > 0) parseRuns.push((cpuSeconds * 1e6) / rows);
      }
      parseMicrosPerRow = median(parseRuns);
      progress(`load (parse + stage, batch ${parsingSize}): ${parsingRates.map((x) => Math.round(x).toLocaleString('en-US')).join(', ')} rows/s`);
    }

    if (floor === undefined && historyRows === 0) {
      // The floor in the same window as the points above: the same kind of rows with nothing but the writes.
      const batchSize = options.batchSizes.includes(1_000) ? 1_000 : (options.batchSizes[0] as number);
      const runs = Array.from({ length: options.runs }, () => chunks(take(batchSize * options.batchesPerRun), batchSize));
      floor = { batchSize, ...(await measureLoadFloor(join(options.dataDir, 'load-floor'), runs)) };
      progress(
        `load floor (batch ${batchSize}): one table ${Math.round(floor.oneTable.rowsPerSecond).toLocaleString('en-US')} rows/s, ` +
          `two tables ${Math.round(floor.twoTables.rowsPerSecond).toLocaleString('en-US')} rows/s`,
      );
    }

    // Every distinct event once in history (beyond the pre-fill) and once in staging.
    const history = await count(warehouse, `SELECT COUNT(*) AS n FROM ${TABLES.history}`);
    const distinctHistory = await count(warehouse, `SELECT COUNT(DISTINCT eventId) AS n FROM ${TABLES.history}`);
    const staging = await count(warehouse, `SELECT COUNT(*) AS n FROM ${TABLES.staging}`);
    if (history !== historyRows + uniqueStaged || distinctHistory !== history || staging !== uniqueStaged) idempotent = false;
    await warehouse.close();
    await removeDatabase(path);
  }

  return {
    points,
    redelivery: redelivery as LoadResult['redelivery'],
    withParsing: withParsing as LoadResult['withParsing'],
    parseMicrosPerRow,
    idempotent: idempotent && redelivery?.stagedAgain === 0 && redelivery.historyGrew === 0,
    ...(floor === undefined ? {} : { floor }),
  };
};
