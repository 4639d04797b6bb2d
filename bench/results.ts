/** Options and results of each benchmark stage (what a stage child process receives and sends back). */

/** Stage 1 sizes. */
export interface TransformOptions {
  readonly records: number;
  /** Records per Lambda invocation (the Kinesis event source mapping's batchSize). */
  readonly batchSize: number;
  readonly runs: number;
  readonly seed: number;
}

/** Stage 1: records/s both ways, and the cost of each step. */
export interface TransformResult {
  readonly records: number;
  readonly batchSize: number;
  readonly runs: number;
  readonly oursRecordsPerSecond: number;
  /** Records per CPU-second: what one dedicated core does, whatever else the machine runs. */
  readonly oursRecordsPerCpuSecond: number;
  readonly oursRuns: number[];
  readonly genericRecordsPerSecond: number;
  readonly genericRecordsPerCpuSecond: number;
  readonly genericRuns: number[];
  /** ours / generic, whole transform (by CPU time, which machine noise disturbs least). */
  readonly ratio: number;
  /** generic / ours cost of the flatten/rename step alone. */
  readonly flattenRatio: number;
  /** The parse floor: base64 + JSON.parse of the same records, records per CPU-second, measured in the same run. */
  readonly floorRecordsPerCpuSecond: number;
  readonly floorRuns: number[];
  /** ours / floor by CPU time (issue 11's goal: ≥ 0.5). */
  readonly floorRatio: number;
  /** Both ways produce byte-identical load-queue messages. */
  readonly outputsIdentical: boolean;
  readonly bytesPerRecord: number;
  readonly rowsPerMessage: number;
  /** Median µs per record of each step. */
  readonly stepMicros: Record<string, number>;
}

/** Stage 2 sizes. */
export interface MergeOptions {
  readonly destinationRows: number;
  readonly events: number;
  readonly duplicateRate: number;
  readonly lateEvents: number;
  readonly runs: number;
  /** Runs of the quickstart's merge (it is slow on DuckDB with this batch) and the time after which one is interrupted. */
  readonly quickstartRuns: number;
  readonly quickstartTimeoutSeconds: number;
  /** When the quickstart does not finish, compare again on a batch and destination this many times smaller (1: never). */
  readonly scaleDownBy: number;
  readonly seed: number;
  /** Directory for DuckDB files. */
  readonly dataDir: string;
}

/** How a merged destination compares with the correct final state, per claim touched by the batch. */
export interface Correctness {
  /** Claims whose row should exist but does not. */
  readonly missing: number;
  /** Claims that should be deleted but still have a row. */
  readonly notDeleted: number;
  /** Claims with more than one row. */
  readonly duplicated: number;
  /** Claims with one row holding another version than the newest event's. */
  readonly wrongVersion: number;
  /** Claims wrong in any way. */
  readonly wrongClaims: number;
  /** Rows of claims the batch did not touch (must equal the untouched part of the destination). */
  readonly untouchedRows: number;
  readonly expectedUntouchedRows: number;
}

/** One merge approach on the batch: time, steps and correctness. */
export interface MergeApproachResult {
  /** Median wall-clock seconds of the merge (rows staged into its middle not counted). */
  readonly seconds: number;
  readonly runs: number[];
  /** Median CPU seconds of this process during the merge (DuckDB's threads included). */
  readonly cpuSeconds: number;
  /** Median seconds of each step. */
  readonly steps: Record<string, number>;
  readonly correctness: Correctness;
  /** Rows staged while the merge ran, and how many of them the merge deleted from staging without merging. */
  readonly lateRows: number;
  readonly lateRowsDeletedUnmerged: number;
  readonly lateRowsOnBatchClaims: number;
  /** Rows left in staging after the merge (excluding late rows). */
  readonly batchRowsLeftInStaging: number;
}

/** Stage 2: our merge and the quickstart's on the same batch. */
export interface MergeResult {
  readonly destinationRows: number;
  readonly events: number;
  readonly uniqueEvents: number;
  readonly duplicates: number;
  readonly claims: number;
  readonly existingClaims: number;
  readonly counts: Record<string, number>;
  readonly setupSeconds: number;
  readonly ours: MergeApproachResult & { readonly stats: Record<string, number> };
  /**
   * The floor on the same file: only the DELETE of the changed claims' rows, the INSERT of the winning rows and the
   * DELETE of the claimed staged rows, in one transaction, with the plan built beforehand (median wall and CPU seconds).
   */
  readonly floor?: { readonly seconds: number; readonly runs: number[]; readonly cpuSeconds: number };
  /** `finished` false when every run was interrupted at the timeout (then nothing of it is correct or wrong yet). */
  readonly quickstart: MergeApproachResult & { readonly error: string | null; readonly finished: boolean; readonly timeoutSeconds: number };
  /** The same comparison on a smaller batch, when the quickstart did not finish on the full one. */
  readonly scaledDown?: Omit<MergeResult, 'translation' | 'scaledDown'>;
  /** What had to change in the quickstart's SQL to run on DuckDB. */
  readonly translation: string[];
}

/** Stage 3 sizes. */
export interface LoadOptions {
  readonly historyRows: readonly number[];
  readonly batchSizes: readonly number[];
  /** Batches staged per batch size and run. */
  readonly batchesPerRun: number;
  readonly runs: number;
  /** Batches re-delivered (staged a second time). */
  readonly redeliveredBatches: number;
  readonly seed: number;
  readonly dataDir: string;
}

/** Stage rate at one history size and batch size. */
export interface LoadPoint {
  readonly historyRows: number;
  readonly batchSize: number;
  readonly rowsPerSecond: number;
  /** Rows per CPU-second of the process (DuckDB's threads included). */
  readonly rowsPerCpuSecond: number;
  readonly runs: number[];
}

/** Stage 3: stage rates, re-delivery and the handler body. */
export interface LoadResult {
  readonly points: LoadPoint[];
  /** Re-delivery of already staged batches: rows/s and what got staged again (must be 0). */
  readonly redelivery: { readonly batchSize: number; readonly rows: number; readonly rowsPerSecond: number; readonly stagedAgain: number; readonly historyGrew: number };
  /** CPU µs per row to parse packed row messages (the load Lambda's own work when the warehouse is remote). */
  readonly parseMicrosPerRow: number;
  /** The load Lambda's body (parse row messages + stage), rows/s. */
  readonly withParsing: { readonly batchSize: number; readonly rowsPerSecond: number; readonly runs: number[] };
  /** Every distinct event is in history exactly once and in staging exactly once. */
  readonly idempotent: boolean;
  /**
   * The floor at one batch size, empty history: the same rows appended from JS straight into plain tables (no
   * idempotency check), into one table and into two in one transaction (bench/stages/load-floor.ts).
   */
  readonly floor?: { readonly batchSize: number; readonly oneTable: LoadFloorRate; readonly twoTables: LoadFloorRate };
}

/** One load floor: rows/s (median of runs) and rows per CPU-second of the process. */
export interface LoadFloorRate {
  readonly rowsPerSecond: number;
  readonly rowsPerCpuSecond: number;
}

/** Stage 4 sizes and rates. */
export interface EndToEndOptions {
  readonly drainEvents: number;
  /** Write rates through DynamoDB (the whole path). */
  readonly rates: readonly number[];
  /** Write rates straight onto the stream (beyond what the DynamoDB emulator accepts). */
  readonly streamRates: readonly number[];
  readonly secondsPerRate: number;
  readonly mergeIntervalMs: number;
  readonly seed: number;
  readonly dataDir: string;
}

/**
 * CPU seconds each of the stack's processes used over a measured span: `main` (the stack's own process: pollers,
 * load, merge, and the bench's writer), `transform` (the transform's handler process), `dynamodb` (DynamoDB, behind
 * the capture), `stream` (Kinesis and the capture), `sqs`. A process missing was not running or not readable.
 */
export interface ProcessCpu {
  readonly wallSeconds: number;
  readonly events: number;
  readonly seconds: Readonly<Record<string, number>>;
}

/** Freshness at one write rate. */
export interface FreshnessPoint {
  /** Where the writes went in: DynamoDB (captured onto the stream) or the stream directly. */
  readonly path: 'dynamodb' | 'stream';
  readonly rate: number;
  /** Writes attempted and the rate actually achieved by the writer. */
  readonly writes: number;
  readonly achievedRate: number;
  readonly samples: number;
  /** Merge invocations while this rate ran (until its last row was visible) and their mean duration. */
  readonly merges: number;
  readonly meanMergeSeconds: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly max: number | null;
  /** CPU of each process while this rate ran, the writer included (absent in results from before session 10). */
  readonly cpu?: ProcessCpu;
}

/** Stage 4: drain rate and freshness, or what the embedded stack lacks. */
export interface EndToEndResult {
  /** False when the embedded stack is not available; `missing` says what is not there. */
  readonly available: boolean;
  readonly missing: string[];
  readonly drain?: {
    readonly events: number;
    readonly seconds: number;
    readonly eventsPerSecond: number;
    readonly destinationRows: number;
    readonly expectedRows: number;
    /** Invocations and summed invocation time of each handler during the drain (Lambda bills duration). */
    readonly handlers: Record<'transform' | 'load' | 'merge', { readonly invocations: number; readonly seconds: number }>;
    /** CPU of each process during the drain (absent in results from before session 10). */
    readonly cpu?: ProcessCpu;
  };
  readonly freshness?: FreshnessPoint[];
}

/** What a stage child process reports back. */
export interface StageReport<R> {
  readonly result: R;
  readonly peakRssBytes: number;
  readonly peakHeapBytes: number;
  readonly wallSeconds: number;
}
