/**
 * One invocation's share of a deployed backfill: the shared page loop (`shared/src/backfill/segment-pages.ts`) over
 * one Scan segment, from the position the invoker passes, until the segment ends or the invocation's time is nearly
 * up. It then returns the continuation: the next start key and the next page's request time, taken now, before that
 * page is read (a version older than the read is always safe: `domain/snapshot.ts`). The invoker (a shell loop or a
 * Step Functions Map, docs/backfill.md) keeps it and passes it back; an invocation retried with the same input reads
 * the same pages under the same request times, so its rows keep their event ids and the load keeps one copy.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { AdaptiveRateLimiter, type LimiterClock } from '@claims-cdc/shared/backfill/rate-limiter';
import { scanSegmentPages } from '@claims-cdc/shared/backfill/segment-pages';
import type { WireItem } from '@claims-cdc/shared/domain/change-record';

/** What the function needs from outside. */
export interface BackfillSegmentDeps {
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly tableName: string;
  readonly loadQueueUrl: string;
  readonly quarantineQueueUrl: string;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly limiterClock?: LimiterClock;
}

/** Where to read and how (the parsed event). */
export interface BackfillSegmentRequest {
  readonly segment: number;
  readonly totalSegments: number;
  /** Where the next page starts (absent: the segment's start). */
  readonly exclusiveStartKey?: WireItem;
  /** The next page's request time, when an earlier invocation (or the invoker) took it. */
  readonly pageRequestedAtMs?: number;
  readonly marginMs: number;
  /** Read budget of this segment, RCU per second (absent: backoff on throttling only). */
  readonly maxRcu?: number;
  /** Scan `Limit` (absent: DynamoDB's 1 MB pages). */
  readonly pageSize?: number;
  /** No page is started (and no throttled read waited for) with less than this much of the invocation left, ms. */
  readonly reserveMs: number;
  /** Counts of the earlier invocations of this segment, carried so the last reply holds the segment's totals. */
  readonly read: number;
  readonly sent: number;
  readonly rejected: number;
  /** A finished segment passed back is not read again. */
  readonly done: boolean;
}

/** The reply: the next invocation's input (counts included) and what this invocation did. */
export interface BackfillContinuation {
  readonly segment: number;
  readonly totalSegments: number;
  readonly marginMs: number;
  readonly maxRcu?: number;
  readonly pageSize?: number;
  readonly reserveMs: number;
  readonly done: boolean;
  readonly exclusiveStartKey?: WireItem;
  readonly pageRequestedAtMs?: number;
  readonly read: number;
  readonly sent: number;
  readonly rejected: number;
  /** Pages this invocation sent. */
  readonly pages: number;
  /** Claim ids and reasons (never values) of the items this invocation quarantined; at most {@link REJECTED_LISTED}. */
  readonly rejectedClaims: ReadonlyArray<{ claimId: string; reason: string }>;
}

/** Most quarantined claims listed in one reply (Step Functions keeps a state's data under 256 KB). */
export const REJECTED_LISTED = 100;

/** Reads the segment from the request's position while `timeLeftMs()` allows, and returns where to continue. */
export async function backfillSegment(deps: BackfillSegmentDeps, request: BackfillSegmentRequest, timeLeftMs: () => number): Promise<BackfillContinuation> {
  const now = deps.now ?? Date.now;
  const totals = { read: request.read, sent: request.sent, rejected: request.rejected, pages: 0 };
  const rejectedClaims: Array<{ claimId: string; reason: string }> = [];
  const settings = {
    segment: request.segment,
    totalSegments: request.totalSegments,
    marginMs: request.marginMs,
    ...(request.maxRcu === undefined ? {} : { maxRcu: request.maxRcu }),
    ...(request.pageSize === undefined ? {} : { pageSize: request.pageSize }),
    reserveMs: request.reserveMs,
  };
  const reply = (position: { done: boolean; startKey?: WireItem; pageRequestedAtMs?: number }): BackfillContinuation => ({
    ...settings,
    done: position.done,
    ...(position.startKey ? { exclusiveStartKey: position.startKey } : {}),
    // The next page's request time is taken before it is read, here, so a retried invocation reads it under the same.
    ...(position.done ? {} : { pageRequestedAtMs: position.pageRequestedAtMs ?? now() }),
    read: totals.read,
    sent: totals.sent,
    rejected: totals.rejected,
    pages: totals.pages,
    rejectedClaims,
  });
  if (request.done) return reply({ done: true });

  const position = await scanSegmentPages(
    {
      dynamodb: deps.dynamodb,
      tableName: deps.tableName,
      segment: request.segment,
      totalSegments: request.totalSegments,
      ...(request.pageSize === undefined ? {} : { pageSize: request.pageSize }),
      marginMs: request.marginMs,
      limiter: new AdaptiveRateLimiter(request.maxRcu, deps.limiterClock),
      targets: { sqs: deps.sqs, tableName: deps.tableName, loadQueueUrl: deps.loadQueueUrl, quarantineQueueUrl: deps.quarantineQueueUrl },
      now,
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
    },
    {
      ...(request.exclusiveStartKey ? { startKey: request.exclusiveStartKey } : {}),
      ...(request.pageRequestedAtMs === undefined ? {} : { pageRequestedAtMs: request.pageRequestedAtMs }),
    },
    {
      mayStartPage: () => timeLeftMs() > request.reserveMs,
      mayWait: (ms) => timeLeftMs() - ms > request.reserveMs,
      sent: (page) => {
        totals.read += page.read;
        totals.sent += page.sent;
        totals.rejected += page.rejected.length;
        totals.pages += 1;
        rejectedClaims.push(...page.rejected.slice(0, Math.max(0, REJECTED_LISTED - rejectedClaims.length)));
      },
    },
  );
  return reply(position);
}
