/**
 * The page loop of one parallel-Scan segment, shared by the CLI's backfill (which keeps its position in a checkpoint
 * file) and the deployed backfill function (which returns its position to the invoker): take the page's request time,
 * read the page (consistent, within the rate budget, backing off on throttling), send its items as snapshots, move to
 * the next start key. Where the position is kept is the caller's: it sees the request time before the read and the
 * page's result after its rows are on the load queue, so a page read again after a crash keeps its request time and
 * its rows keep their event ids (`domain/snapshot.ts`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type AttributeValue, type DynamoDBClient, ScanCommand, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import type { WireItem } from '../domain/change-record';
import type { SnapshotRead } from '../domain/snapshot';
import { type AdaptiveRateLimiter, isThrottling, pageRcu } from './rate-limiter';
import { sendSnapshots, type SnapshotTargets } from './snapshot-sender';

/** What reading one segment needs. */
export interface SegmentScan {
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
  readonly segment: number;
  readonly totalSegments: number;
  /** Scan `Limit`; absent: DynamoDB's 1 MB page. */
  readonly pageSize?: number;
  /** The snapshot rule's clock-skew margin, ms. */
  readonly marginMs: number;
  readonly limiter: AdaptiveRateLimiter;
  readonly targets: SnapshotTargets;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Where a segment is: the next page's start key (absent: the segment's start) and, once taken, its request time. */
export interface SegmentPosition {
  readonly startKey?: WireItem;
  readonly pageRequestedAtMs?: number;
}

/** What one page did (claim ids and reasons only, never values). */
export interface PageResult {
  /** Where the next page starts; absent when the segment is done. */
  readonly next: WireItem | undefined;
  readonly read: number;
  readonly sent: number;
  readonly rejected: ReadonlyArray<{ claimId: string; reason: string }>;
}

/** How the caller keeps the position and says when to stop. */
export interface PageHooks {
  /** Called with a page's request time before the page is read, when the position held none (record it durably). */
  readonly requested?: (requestedAtMs: number) => void;
  /** Called after a page's rows and rejects are on their queues (record the next start key). */
  readonly sent: (page: PageResult) => void;
  /** Asked before each page: false stops the loop (Ctrl-C, or the invocation's time is nearly up). */
  readonly mayStartPage: () => boolean;
  /** Asked before waiting out a throttled read: false stops the loop with the page unread (its request time kept). */
  readonly mayWait?: (ms: number) => boolean;
}

/** The most throttled attempts at one page before the loop gives up (the caller resumes from the page). */
export const MAX_THROTTLED_ATTEMPTS = 30;

/** Raised when a page stayed throttled for {@link MAX_THROTTLED_ATTEMPTS} attempts; its position is kept. */
export class ScanThrottledError extends Error {
  override readonly name = 'ScanThrottledError';
}

const defaultSleep = (ms: number): Promise<void> => sleep(ms);

/**
 * Reads one page (consistent: an eventually consistent read may return a state older than its version says), retrying
 * throttled requests with the limiter's backoff. Undefined when the caller would rather stop than wait.
 */
async function readPage(scan: SegmentScan, startKey: WireItem | undefined, hooks: PageHooks): Promise<ScanCommandOutput | undefined> {
  for (let attempt = 1; ; attempt += 1) {
    await scan.limiter.acquire();
    try {
      return await scan.dynamodb.send(
        new ScanCommand({
          TableName: scan.tableName,
          Segment: scan.segment,
          TotalSegments: scan.totalSegments,
          ...(scan.pageSize === undefined ? {} : { Limit: scan.pageSize }),
          ConsistentRead: true,
          ReturnConsumedCapacity: 'TOTAL',
          ...(startKey ? { ExclusiveStartKey: startKey as unknown as Record<string, AttributeValue> } : {}),
        }),
      );
    } catch (error) {
      if (!isThrottling(error)) throw error;
      if (attempt >= MAX_THROTTLED_ATTEMPTS) throw new ScanThrottledError(`segment ${scan.segment}: a Scan page was throttled ${attempt} times; run again to resume from it`);
      const wait = scan.limiter.throttled();
      if (hooks.mayWait && !hooks.mayWait(wait)) return undefined;
      await (scan.sleep ?? defaultSleep)(wait);
    }
  }
}

/**
 * Reads the segment from `from` page by page until it ends or the hooks stop it; returns where it stopped (no start
 * key and no request time: the segment is done).
 */
export async function scanSegmentPages(scan: SegmentScan, from: SegmentPosition, hooks: PageHooks): Promise<SegmentPosition & { readonly done: boolean }> {
  const now = scan.now ?? Date.now;
  let position = from;
  while (hooks.mayStartPage()) {
    // Taken before the read: a page read again after a crash keeps this time, hence its event ids and version.
    const requestedAtMs = position.pageRequestedAtMs ?? now();
    if (position.pageRequestedAtMs === undefined) hooks.requested?.(requestedAtMs);
    position = { ...position, pageRequestedAtMs: requestedAtMs };
    const page = await readPage(scan, position.startKey, hooks);
    if (page === undefined) break;
    const items = (page.Items ?? []) as unknown as WireItem[];
    scan.limiter.consumed(pageRcu(page.ConsumedCapacity?.CapacityUnits, Buffer.byteLength(JSON.stringify(items)), true));
    const read: SnapshotRead = { reader: `segment-${scan.segment}`, requestedAtMs, marginMs: scan.marginMs };
    const result = await sendSnapshots(
      items.map((item) => ({ item })),
      read,
      scan.targets,
    );
    const next = page.LastEvaluatedKey as unknown as WireItem | undefined;
    hooks.sent({ next, read: items.length, sent: result.sent, rejected: result.rejected });
    if (next === undefined) return { done: true };
    position = { startKey: next };
  }
  return { ...position, done: false };
}
