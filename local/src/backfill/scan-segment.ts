/**
 * One segment of a parallel Scan, page by page: record the page's request time, read it (within the rate budget,
 * backing off on throttling), send its items as snapshots, record the next start key. Killed at any line, it resumes
 * from the checkpoint and re-sends at most the page in progress, with the same event ids.
 */
import { type AttributeValue, type DynamoDBClient, ScanCommand, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import type { WireItem } from '@claims-cdc/shared';
import type { SnapshotRead } from '@claims-cdc/shared/domain/snapshot';
import type { CheckpointFile, SegmentCheckpoint } from './checkpoint';
import { type AdaptiveRateLimiter, isThrottling, pageRcu } from './rate-limiter';
import { sendSnapshots, type SnapshotTargets } from './snapshot-sender';

/** What every segment of one backfill shares. */
export interface SegmentContext {
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
  readonly totalSegments: number;
  readonly pageSize: number;
  readonly marginMs: number;
  readonly limiter: AdaptiveRateLimiter;
  readonly checkpoints: CheckpointFile;
  readonly targets: SnapshotTargets;
  /** Stops the segment after the page in progress (Ctrl-C). */
  readonly signal?: AbortSignal;
  /** Sees the claim ids and reasons of the items a page had quarantined. */
  readonly onRejected?: (rejected: ReadonlyArray<{ claimId: string; reason: string }>) => void;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The most throttled attempts at one page before the backfill gives up (it resumes from the page when run again). */
const MAX_THROTTLED_ATTEMPTS = 30;

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads one page (consistent: see docs/backfill.md), retrying throttled requests with the limiter's backoff. */
async function readPage(segment: number, startKey: WireItem | undefined, context: SegmentContext): Promise<ScanCommandOutput> {
  for (let attempt = 1; ; attempt += 1) {
    await context.limiter.acquire();
    try {
      return await context.dynamodb.send(
        new ScanCommand({
          TableName: context.tableName,
          Segment: segment,
          TotalSegments: context.totalSegments,
          Limit: context.pageSize,
          ConsistentRead: true,
          ReturnConsumedCapacity: 'TOTAL',
          ...(startKey ? { ExclusiveStartKey: startKey as unknown as Record<string, AttributeValue> } : {}),
        }),
      );
    } catch (error) {
      if (!isThrottling(error) || attempt >= MAX_THROTTLED_ATTEMPTS) throw error;
      await (context.sleep ?? defaultSleep)(context.limiter.throttled());
    }
  }
}

/** Scans one segment to its end (or until the signal), sending every item; progress is in the checkpoint. */
export async function scanSegment(segment: number, context: SegmentContext): Promise<void> {
  const now = context.now ?? Date.now;
  for (;;) {
    const at = context.checkpoints.state.segments[segment] as SegmentCheckpoint;
    if (at.done || context.signal?.aborted) return;
    // Recorded before the read: a page read again after a crash keeps this time, hence its event ids and version.
    const requestedAtMs = at.pageRequestedAtMs ?? now();
    if (at.pageRequestedAtMs === undefined) context.checkpoints.update(segment, { pageRequestedAtMs: requestedAtMs });
    const page = await readPage(segment, at.startKey, context);
    const items = (page.Items ?? []) as unknown as WireItem[];
    context.limiter.consumed(pageRcu(page.ConsumedCapacity?.CapacityUnits, Buffer.byteLength(JSON.stringify(items)), true));
    const read: SnapshotRead = { reader: `segment-${segment}`, requestedAtMs, marginMs: context.marginMs };
    const result = await sendSnapshots(items.map((item) => ({ item })), read, context.targets);
    if (result.rejected.length > 0) context.onRejected?.(result.rejected);
    const next = page.LastEvaluatedKey as unknown as WireItem | undefined;
    context.checkpoints.update(segment, {
      startKey: next,
      pageRequestedAtMs: undefined,
      done: next === undefined,
      read: at.read + items.length,
      sent: at.sent + result.sent,
      rejected: at.rejected + result.rejected.length,
    });
  }
}
