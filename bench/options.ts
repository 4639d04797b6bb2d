/** Sizes of every benchmark stage, full and `--quick`, and the goals from issue 6. */
import { join } from 'node:path';
import type { EndToEndOptions, LoadOptions, MergeOptions, TransformOptions } from './results';
import type { CliStartOptions } from './stages/cli-start';

/** This directory: results are written here. */
export const BENCH_DIR = __dirname;
/** Scratch DuckDB files (gitignored). */
export const DATA_DIR = join(__dirname, '.data');
const SEED = 20_250_601;

/** The sizes of one run. */
export interface BenchPlan {
  readonly mode: 'full' | 'quick';
  readonly transform: TransformOptions;
  readonly merge: MergeOptions;
  readonly load: LoadOptions;
  readonly e2e: EndToEndOptions;
  readonly cli: CliStartOptions;
}

/** The full benchmark: the sizes issue 6 names. */
export const FULL: BenchPlan = {
  mode: 'full',
  transform: { records: 5_000, batchSize: 100, runs: 6, seed: SEED },
  merge: {
    destinationRows: 1_000_000,
    events: 100_000,
    duplicateRate: 0.03,
    lateEvents: 1_000,
    runs: 3,
    // One run, bounded: on DuckDB the quickstart's MERGE takes minutes on this batch (several events per claim make
    // its 32-column UPDATE slow there). If it is interrupted, a 10× smaller batch is compared to completion.
    quickstartRuns: 1,
    quickstartTimeoutSeconds: 120,
    scaleDownBy: 10,
    seed: SEED,
    dataDir: DATA_DIR,
  },
  load: { historyRows: [0, 1_000_000], batchSizes: [100, 1_000, 2_500], batchesPerRun: 6, runs: 3, redeliveredBatches: 5, seed: SEED, dataDir: DATA_DIR },
  e2e: { drainEvents: 100_000, rates: [250, 1_000], streamRates: [250, 500, 1_000], secondsPerRate: 6, mergeIntervalMs: 1_000, seed: SEED, dataDir: DATA_DIR },
  cli: { runs: 15, sourceRuns: 5 },
};

/** A smoke run for CI: every stage, small sizes, well under a minute, no thresholds. */
export const QUICK: BenchPlan = {
  mode: 'quick',
  transform: { records: 1_000, batchSize: 100, runs: 2, seed: SEED },
  merge: { destinationRows: 10_000, events: 1_000, duplicateRate: 0.03, lateEvents: 50, runs: 2, quickstartRuns: 2, quickstartTimeoutSeconds: 30, scaleDownBy: 1, seed: SEED, dataDir: DATA_DIR },
  load: { historyRows: [0], batchSizes: [100, 1_000], batchesPerRun: 2, runs: 2, redeliveredBatches: 1, seed: SEED, dataDir: DATA_DIR },
  e2e: { drainEvents: 1_000, rates: [200], streamRates: [500], secondsPerRate: 2, mergeIntervalMs: 1_000, seed: SEED, dataDir: DATA_DIR },
  cli: { runs: 7, sourceRuns: 2 },
};

/** Goals from issues 6 and 11: printed next to the measured figures, never asserted. */
export const GOALS = {
  transformRecordsPerSecond: 50_000,
  /** Issue 11: the transform on one core at ≥ this share of the parse floor (base64 + JSON.parse of the same records). */
  transformFloorRatio: 0.5,
  mergeSeconds: 1,
  loadRowsPerSecond: 100_000,
  drainEventsPerSecond: 10_000,
  freshnessP99Seconds: 2,
  freshnessRate: 1_000,
  /** Issue 14: `claims-cdc --help` on a quiet machine. */
  cliHelpMs: 500,
} as const;
