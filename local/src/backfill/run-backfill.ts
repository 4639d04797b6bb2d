/**
 * `backfill`: reads every item of the table with a parallel Scan and sends each through the pipeline as a snapshot
 * (see `shared/src/domain/snapshot.ts` for the version rule), resumable from a per-segment checkpoint, within a read
 * budget, with progress. The same code runs against AWS (clients with the operator's credentials) and the embedded
 * stack (clients at the emulators).
 */
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { type BackfillCheckpoint, CheckpointFile, newCheckpoint, readCheckpoint } from './checkpoint';
import { AdaptiveRateLimiter } from '@claims-cdc/shared/backfill/rate-limiter';
import { scanSegment } from './scan-segment';

/** What a backfill needs. */
export interface BackfillOptions {
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly tableName: string;
  readonly loadQueueUrl: string;
  readonly quarantineQueueUrl: string;
  /** The checkpoint file (in the state directory). */
  readonly checkpointFile: string;
  /** Scan segments; default {@link defaultSegments} of the table. */
  readonly segments?: number;
  /** Read budget in RCU per second; default none (backoff on throttling only). */
  readonly maxRcu?: number;
  readonly marginMs: number;
  readonly pageSize: number;
  /**
   * The table's item count when the caller knows better than DescribeTable (whose ItemCount AWS refreshes every few
   * hours, and an emulator may not keep): sizes the default segments and the ETA.
   */
  readonly estimatedItems?: number;
  /** Ignore the checkpoint and start over. */
  readonly restart?: boolean;
  readonly signal?: AbortSignal;
  /** Called about twice a second, and once at the end. */
  readonly onProgress?: (progress: BackfillProgress) => void;
}

/** Where a backfill is. */
export interface BackfillProgress {
  /** Items read per segment (this run and the runs it resumes). */
  readonly readPerSegment: readonly number[];
  readonly read: number;
  readonly sent: number;
  readonly rejected: number;
  /** Items read per second in this run. */
  readonly itemsPerSecond: number;
  /** The table's item count as DynamoDB reports it (refreshed every few hours on AWS): the ETA's basis. */
  readonly estimatedItems: number;
  /** Seconds left at the current rate (undefined before the first page). */
  readonly etaSeconds: number | undefined;
  readonly segmentsDone: number;
}

/** What a backfill did. */
export interface BackfillSummary {
  readonly table: string;
  readonly segments: number;
  readonly read: number;
  readonly sent: number;
  readonly rejected: number;
  /** Claim ids (never values) of the items quarantined in this run, with their reasons; at most 100. */
  readonly rejectedClaims: ReadonlyArray<{ claimId: string; reason: string }>;
  /** True when it continued a backfill an earlier run had started. */
  readonly resumed: boolean;
  /** True when the checkpoint says the backfill had already finished (nothing was read: `--restart` runs it again). */
  readonly alreadyComplete: boolean;
  /** False when it was interrupted (Ctrl-C): running it again continues. */
  readonly complete: boolean;
  readonly seconds: number;
}

/** Raised for a backfill that cannot start as asked; the message says what to do. */
export class BackfillError extends Error {
  override readonly name = 'BackfillError';
}

/** DynamoDB's guidance for parallel Scan: about one segment per 2 GB of table. */
const BYTES_PER_SEGMENT = 2 * 1024 ** 3;
/** The most segments the CLI scans at once by default (each is one request in flight). */
export const MAX_DEFAULT_SEGMENTS = 64;

/**
 * Segments for a table: one per 2 GB (DynamoDB's guidance), at least one per 1,000 items up to 4 (so a small table is
 * still read in parallel), at most {@link MAX_DEFAULT_SEGMENTS}.
 */
export const defaultSegments = (itemCount: number, sizeBytes: number): number =>
  Math.min(MAX_DEFAULT_SEGMENTS, Math.max(1, Math.ceil(sizeBytes / BYTES_PER_SEGMENT), Math.min(4, Math.ceil(itemCount / 1000))));

/** The checkpoint to run from: the one on disk when it is this table's and not set aside, else a new one. */
function startingPoint(options: BackfillOptions, table: { createdAt: string; items: number; bytes: number }): { state: BackfillCheckpoint; resumed: boolean } {
  const existing = options.restart ? undefined : readCheckpoint(options.checkpointFile);
  if (existing && existing.table === options.tableName && existing.tableCreatedAt === table.createdAt) {
    if (options.segments !== undefined && options.segments !== existing.totalSegments && existing.segments.some((s) => !s.done)) {
      throw new BackfillError(`a backfill of ${existing.totalSegments} segments is in progress: run backfill without --segments to continue it, or with --restart to start over`);
    }
    return { state: existing, resumed: existing.segments.some((s) => s.read > 0 || s.done) };
  }
  const segments = options.segments ?? defaultSegments(table.items, table.bytes);
  return { state: newCheckpoint(options.tableName, table.createdAt, segments, options.marginMs), resumed: false };
}

const totals = (state: BackfillCheckpoint) => ({
  read: state.segments.reduce((n, s) => n + s.read, 0),
  sent: state.segments.reduce((n, s) => n + s.sent, 0),
  rejected: state.segments.reduce((n, s) => n + s.rejected, 0),
});

/** Runs (or continues) a backfill to its end, or until the signal; the checkpoint holds where it is. */
export async function runBackfill(options: BackfillOptions): Promise<BackfillSummary> {
  const started = Date.now();
  const described = (await options.dynamodb.send(new DescribeTableCommand({ TableName: options.tableName }))).Table;
  const table = { createdAt: described?.CreationDateTime?.toISOString() ?? 'unknown', items: options.estimatedItems ?? described?.ItemCount ?? 0, bytes: described?.TableSizeBytes ?? 0 };
  const { state, resumed } = startingPoint(options, table);
  const checkpoints = new CheckpointFile(options.checkpointFile, state);
  const summary = (complete: boolean, alreadyComplete: boolean, rejectedClaims: Array<{ claimId: string; reason: string }>): BackfillSummary => ({
    table: options.tableName,
    segments: state.totalSegments,
    ...totals(state),
    rejectedClaims,
    resumed,
    alreadyComplete,
    complete,
    seconds: (Date.now() - started) / 1000,
  });
  if (state.segments.every((s) => s.done)) return summary(true, true, []);
  checkpoints.save();

  const readAtStart = totals(state).read;
  const progress = (): BackfillProgress => {
    const t = totals(state);
    const rate = (t.read - readAtStart) / Math.max((Date.now() - started) / 1000, 0.001);
    const estimatedItems = Math.max(table.items, t.read);
    return {
      readPerSegment: state.segments.map((s) => s.read),
      ...t,
      itemsPerSecond: rate,
      estimatedItems,
      etaSeconds: rate > 0 ? Math.ceil((estimatedItems - t.read) / rate) : undefined,
      segmentsDone: state.segments.filter((s) => s.done).length,
    };
  };
  const ticker = options.onProgress ? setInterval(() => options.onProgress?.(progress()), 500) : undefined;
  const rejectedClaims: Array<{ claimId: string; reason: string }> = [];
  const limiter = new AdaptiveRateLimiter(options.maxRcu);
  const failed = new AbortController();
  const targets = { sqs: options.sqs, tableName: options.tableName, loadQueueUrl: options.loadQueueUrl, quarantineQueueUrl: options.quarantineQueueUrl };
  const context = {
    dynamodb: options.dynamodb,
    tableName: options.tableName,
    totalSegments: state.totalSegments,
    pageSize: options.pageSize,
    // A resumed backfill keeps the margin its pages were versioned with.
    marginMs: state.marginMs,
    limiter,
    checkpoints,
    targets,
    onRejected: (rejected: ReadonlyArray<{ claimId: string; reason: string }>) => rejectedClaims.push(...rejected.slice(0, Math.max(0, 100 - rejectedClaims.length))),
    // A failed segment stops the others after their page in progress, so the run ends with its checkpoint written.
    signal: options.signal ? AbortSignal.any([options.signal, failed.signal]) : failed.signal,
  };
  try {
    const results = await Promise.allSettled(
      state.segments.map((_, segment) =>
        scanSegment(segment, context).catch((error: unknown) => {
          failed.abort();
          throw error;
        }),
      ),
    );
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
  } finally {
    if (ticker) clearInterval(ticker);
  }
  options.onProgress?.(progress());
  return summary(state.segments.every((s) => s.done), false, rejectedClaims);
}
