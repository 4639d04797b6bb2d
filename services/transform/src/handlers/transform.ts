import { sendBodies } from '@claims-cdc/shared/aws/sqs-sender';
import type { BatchReport } from '@claims-cdc/shared/batch/batch-stage';
import { logger } from '@claims-cdc/shared/observability/logger';
import { MetricUnit, metrics } from '@claims-cdc/shared/observability/metrics';
import { wrap } from '@claims-cdc/shared/observability/wrap';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { sqs } from '../clients';
import { config } from '../config';
import { type TransformSummary, transformStage } from '../transform-stage';

/** Metrics and logs of one batch: counts and sequence numbers, never record content. */
const report = (batch: BatchReport<TransformSummary>): void => {
  metrics.addMetric('RowsForwarded', MetricUnit.Count, batch.summary?.rows ?? 0);
  metrics.addMetric('LoadMessagesSent', MetricUnit.Count, batch.summary?.messages ?? 0);
  metrics.addMetric('RecordsQuarantined', MetricUnit.Count, batch.quarantined.length);
  metrics.addMetric('RecordsFailed', MetricUnit.Count, batch.failed.length);
  for (const q of batch.quarantined) logger.warn('record quarantined', { sequenceNumber: q.id, reason: q.reason });
  if (batch.failed.length > 0) logger.error('records failed, to be retried', { failed: batch.failed.length, error: batch.failed[0]?.error });
  logger.info('batch transformed', { records: batch.records, rows: batch.summary?.rows, messages: batch.summary?.messages, quarantined: batch.quarantined.length, failed: batch.failed.length });
};

const stage = transformStage(
  { loadQueueUrl: config.LOAD_QUEUE_URL, quarantineQueueUrl: config.QUARANTINE_QUEUE_URL, send: (queueUrl, bodies) => sendBodies(sqs, queueUrl, bodies) },
  report,
);

/**
 * Kinesis → decode → flatten/rename → load queue, in order, with partial batch failures. Rejected records go to
 * the quarantine queue (never retried, never blocking the shard); a record whose send failed is reported failed so
 * Lambda retries from it.
 */
export const transform = (event: KinesisStreamEvent, context?: Context): Promise<KinesisStreamBatchResponse> => stage.handle(event, context);

/** The Lambda entry point. */
export const handler = wrap(transform);
