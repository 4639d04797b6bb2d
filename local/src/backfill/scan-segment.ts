/**
 * One segment of the CLI's parallel Scan: the shared page loop (`shared/src/backfill/segment-pages.ts`) with its
 * position kept in the checkpoint file. The page's request time is recorded before the read, the next start key after
 * its rows are on the load queue; killed at any line, it resumes from the checkpoint and re-sends at most the page in
 * progress, with the same event ids.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AdaptiveRateLimiter } from '@claims-cdc/shared/backfill/rate-limiter';
import { scanSegmentPages } from '@claims-cdc/shared/backfill/segment-pages';
import type { SnapshotTargets } from '@claims-cdc/shared/backfill/snapshot-sender';
import type { CheckpointFile, SegmentCheckpoint } from './checkpoint';

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

/** Scans one segment to its end (or until the signal), sending every item; progress is in the checkpoint. */
export async function scanSegment(segment: number, context: SegmentContext): Promise<void> {
  const at = (): SegmentCheckpoint => context.checkpoints.state.segments[segment] as SegmentCheckpoint;
  const start = at();
  if (start.done) return;
  await scanSegmentPages(
    { ...context, segment },
    { ...(start.startKey ? { startKey: start.startKey } : {}), ...(start.pageRequestedAtMs === undefined ? {} : { pageRequestedAtMs: start.pageRequestedAtMs }) },
    {
      mayStartPage: () => !at().done && context.signal?.aborted !== true,
      requested: (pageRequestedAtMs) => context.checkpoints.update(segment, { pageRequestedAtMs }),
      sent: (page) => {
        if (page.rejected.length > 0) context.onRejected?.(page.rejected);
        const was = at();
        context.checkpoints.update(segment, {
          startKey: page.next,
          pageRequestedAtMs: undefined,
          done: page.next === undefined,
          read: was.read + page.read,
          sent: was.sent + page.sent,
          rejected: was.rejected + page.rejected.length,
        });
      },
    },
  );
}
