import { DEFAULT_SKEW_MARGIN_MS, MAX_SKEW_MARGIN_MS } from '@claims-cdc/shared/domain/snapshot';
import { logger } from '@claims-cdc/shared/observability/logger';
import { MetricUnit, metrics } from '@claims-cdc/shared/observability/metrics';
import { wrap } from '@claims-cdc/shared/observability/wrap';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { type BackfillContinuation, backfillSegment } from '../backfill/backfill-segment';
import { backfillConfig } from '../backfill/config';
import { dynamodb, sqs } from '../clients';

/** Time kept back by default when deciding whether to start another page: a 1 MB page read, sent, and the reply. */
export const DEFAULT_RESERVE_MS = 60_000;

/** DynamoDB's largest TotalSegments. */
const MAX_TOTAL_SEGMENTS = 1_000_000;

const count = z.number().int().min(0).default(0);

/**
 * The event: one segment and where to continue it. The reply has the same shape (plus what the invocation did), so an
 * invoker passes it back as the next event until `done`. `pageRequestedAtMs` may be an ISO time (Step Functions'
 * `$$.Execution.StartTime`): any time before the first read is a safe first request time.
 */
export const BackfillEventSchema = z
  .object({
    segment: z.number().int().min(0),
    totalSegments: z.number().int().min(1).max(MAX_TOTAL_SEGMENTS),
    exclusiveStartKey: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
    pageRequestedAtMs: z.union([z.number().int().positive(), z.iso.datetime({ offset: true }).transform((iso) => Date.parse(iso))]).optional(),
    marginMs: z.number().int().min(0).max(MAX_SKEW_MARGIN_MS).default(DEFAULT_SKEW_MARGIN_MS),
    // A 1 MB page costs up to 256 RCU: at 10 RCU/s its debt is paid within the default reserve.
    maxRcu: z.number().min(10).optional(),
    pageSize: z.number().int().min(1).optional(),
    reserveMs: z.number().int().min(10_000).max(600_000).default(DEFAULT_RESERVE_MS),
    read: count,
    sent: count,
    rejected: count,
    done: z.boolean().default(false),
  })
  .refine((event) => event.segment < event.totalSegments, { message: 'segment must be less than totalSegments', path: ['segment'] });

/** Reads one Scan segment as far as this invocation's time allows; replies with the continuation. */
export const backfill = async (event: unknown, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<BackfillContinuation> => {
  const request = BackfillEventSchema.parse(event);
  const reply = await backfillSegment(
    { dynamodb, sqs, tableName: backfillConfig.CLAIMS_TABLE_NAME, loadQueueUrl: backfillConfig.LOAD_QUEUE_URL, quarantineQueueUrl: backfillConfig.QUARANTINE_QUEUE_URL },
    request,
    () => context.getRemainingTimeInMillis(),
  );
  metrics.addMetric('BackfillItemsRead', MetricUnit.Count, reply.read - request.read);
  metrics.addMetric('BackfillRowsSent', MetricUnit.Count, reply.sent - request.sent);
  metrics.addMetric('BackfillItemsQuarantined', MetricUnit.Count, reply.rejected - request.rejected);
  // Claim ids, counts and reasons only: never the items' values (nor the start key's attributes beyond the claim id).
  for (const claim of reply.rejectedClaims) logger.warn('backfill item quarantined', { segment: reply.segment, claimId: claim.claimId, reason: claim.reason });
  logger.info('backfill segment', { segment: reply.segment, totalSegments: reply.totalSegments, pages: reply.pages, read: reply.read, sent: reply.sent, rejected: reply.rejected, done: reply.done });
  return reply;
};

/** The Lambda entry point. */
export const handler = wrap(backfill);
