import { BatchProcessor, EventType } from '@aws-lambda-powertools/batch';
import { sendBodies } from '@claims-cdc/shared/aws/sqs-sender';
import { processWithOutcomes } from '@claims-cdc/shared/batch/outcomes';
import { logger } from '@claims-cdc/shared/observability/logger';
import { MetricUnit, metrics } from '@claims-cdc/shared/observability/metrics';
import { wrap } from '@claims-cdc/shared/observability/wrap';
import type { KinesisStreamEvent, KinesisStreamBatchResponse } from 'aws-lambda';
import { sqs } from '../clients';
import { config } from '../config';
import { deliverRecords } from '../deliver';

const processor = new BatchProcessor(EventType.KinesisDataStreams);

/**
 * Kinesis → decode → flatten/rename → load queue, in order, with partial batch failures. Rejected records go to
 * the quarantine queue (never retried, never blocking the shard); a record whose send failed is reported failed so
 * Lambda retries from it.
 */
export const transform = async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> =>
  processWithOutcomes(event.Records, processor, async (records) => {
    const { outcomes, summary } = await deliverRecords(records, { loadQueueUrl: config.LOAD_QUEUE_URL, quarantineQueueUrl: config.QUARANTINE_QUEUE_URL }, (queueUrl, bodies) =>
      sendBodies(sqs, queueUrl, bodies),
    );
    metrics.addMetric('RowsForwarded', MetricUnit.Count, summary.rows);
    metrics.addMetric('LoadMessagesSent', MetricUnit.Count, summary.messages);
    metrics.addMetric('RecordsQuarantined', MetricUnit.Count, summary.quarantined.length);
    metrics.addMetric('RecordsFailed', MetricUnit.Count, summary.failed);
    for (const q of summary.quarantined) logger.warn('record quarantined', { sequenceNumber: q.sequenceNumber, reason: q.reason });
    logger.info('batch transformed', { records: records.length, rows: summary.rows, messages: summary.messages, quarantined: summary.quarantined.length, failed: summary.failed });
    return outcomes;
  });

/** The Lambda entry point. */
export const handler = wrap(transform);
