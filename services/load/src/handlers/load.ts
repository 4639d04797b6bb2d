import { BatchProcessor, EventType } from '@aws-lambda-powertools/batch';
import { sendBodies } from '@claims-cdc/shared/aws/sqs-sender';
import { processWithOutcomes } from '@claims-cdc/shared/batch/outcomes';
import { logger } from '@claims-cdc/shared/observability/logger';
import { MetricUnit, metrics } from '@claims-cdc/shared/observability/metrics';
import { wrap } from '@claims-cdc/shared/observability/wrap';
import { warehouseFromEnv } from '@claims-cdc/shared/warehouse/from-env';
import { invocationDeadline } from '@claims-cdc/shared/warehouse/port';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { sqs } from '../clients';
import { config } from '../config';
import { stageMessages } from '../stage-messages';

const processor = new BatchProcessor(EventType.SQS);
const warehouse = warehouseFromEnv();

/**
 * What the invocation keeps back from the warehouse (timeout 60 s in serverless.yml): a timed-out statement's
 * ROLLBACK and logout (a few seconds at most), then the quarantine sends and the reply. Warehouse calls end by then,
 * so a load is never killed inside a transaction that holds the history lock.
 */
export const WAREHOUSE_MARGIN_MS = 10_000;

/** Load queue → staging + history in one warehouse transaction, with partial batch failures. */
export const load = async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> =>
  processWithOutcomes(event.Records, processor, async (records) => {
    const options = context === undefined ? undefined : { deadline: invocationDeadline(context, WAREHOUSE_MARGIN_MS) };
    const { outcomes, summary } = await stageMessages(records, await warehouse, config.QUARANTINE_QUEUE_URL, (queueUrl, bodies) => sendBodies(sqs, queueUrl, bodies), options);
    metrics.addMetric('RowsReceived', MetricUnit.Count, summary.received);
    metrics.addMetric('EventsStaged', MetricUnit.Count, summary.staged);
    metrics.addMetric('DuplicateEvents', MetricUnit.Count, summary.received - summary.staged);
    metrics.addMetric('MessagesQuarantined', MetricUnit.Count, summary.quarantined.length);
    for (const q of summary.quarantined) logger.warn('message quarantined', { messageId: q.messageId, reason: q.reason });
    if (summary.failed > 0) logger.error('batch staging failed', { messages: summary.messages, failed: summary.failed, error: [...outcomes.values()][0]?.message });
    logger.info('batch staged', { messages: summary.messages, rows: summary.received, staged: summary.staged });
    return outcomes;
  });

/** The Lambda entry point. */
export const handler = wrap(load);
