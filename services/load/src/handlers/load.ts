import { sendBodies } from '@claims-cdc/shared/aws/sqs-sender';
import type { BatchReport } from '@claims-cdc/shared/batch/batch-stage';
import { logger } from '@claims-cdc/shared/observability/logger';
import { MetricUnit, metrics } from '@claims-cdc/shared/observability/metrics';
import { wrap } from '@claims-cdc/shared/observability/wrap';
import { warehouseFromEnv } from '@claims-cdc/shared/warehouse/from-env';
import { invocationDeadline } from '@claims-cdc/shared/warehouse/port';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { sqs } from '../clients';
import { config } from '../config';
import { type LoadSummary, loadStage } from '../load-stage';

/**
 * What the invocation keeps back from the warehouse (timeout 60 s in serverless.yml): a timed-out statement's
 * ROLLBACK and logout (a few seconds at most), then the quarantine sends and the reply. Warehouse calls end by then,
 * so a load is never killed inside a transaction that holds the history lock.
 */
export const WAREHOUSE_MARGIN_MS = 10_000;

/** Metrics and logs of one batch: counts and message ids, never row content. */
const report = (batch: BatchReport<LoadSummary>): void => {
  const received = batch.summary?.received ?? 0;
  const staged = batch.summary?.staged ?? 0;
  metrics.addMetric('RowsReceived', MetricUnit.Count, received);
  metrics.addMetric('EventsStaged', MetricUnit.Count, staged);
  metrics.addMetric('DuplicateEvents', MetricUnit.Count, received - staged);
  metrics.addMetric('MessagesQuarantined', MetricUnit.Count, batch.quarantined.length);
  for (const q of batch.quarantined) logger.warn('message quarantined', { messageId: q.id, reason: q.reason });
  if (batch.failed.length > 0) logger.error('batch staging failed', { messages: batch.records, failed: batch.failed.length, error: batch.failed[0]?.error });
  logger.info('batch staged', { messages: batch.records, rows: received, staged });
};

const stage = loadStage(
  {
    warehouse: warehouseFromEnv(),
    quarantineQueueUrl: config.QUARANTINE_QUEUE_URL,
    send: (queueUrl, bodies) => sendBodies(sqs, queueUrl, bodies),
    callOptions: (context) => (context === undefined ? undefined : { deadline: invocationDeadline(context, WAREHOUSE_MARGIN_MS) }),
  },
  report,
);

/** Load queue → staging + history in one warehouse transaction, with partial batch failures. */
export const load = (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => stage.handle(event, context);

/** The Lambda entry point. */
export const handler = wrap(load);
