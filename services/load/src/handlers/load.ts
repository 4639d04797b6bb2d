import { BatchProcessor, EventType } from '@aws-lambda-powertools/batch';
import { sendBodies } from '@claims-cdc/shared/aws/sqs-sender';
import { processWithOutcomes } from '@claims-cdc/shared/batch/outcomes';
import { logger } from '@claims-cdc/shared/observability/logger';
import { MetricUnit, metrics } from '@claims-cdc/shared/observability/metrics';
import { wrap } from '@claims-cdc/shared/observability/wrap';
import { warehouseFromEnv } from '@claims-cdc/shared/warehouse/from-env';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { sqs } from '../clients';
import { config } from '../config';
import { stageMessages } from '../stage-messages';

const processor = new BatchProcessor(EventType.SQS);
const warehouse = warehouseFromEnv();

/** Load queue → staging + history in one warehouse transaction, with partial batch failures. */
export const load = async (event: SQSEvent): Promise<SQSBatchResponse> =>
  processWithOutcomes(event.Records, processor, async (records) => {
    const { outcomes, summary } = await stageMessages(records, await warehouse, config.QUARANTINE_QUEUE_URL, (queueUrl, bodies) => sendBodies(sqs, queueUrl, bodies));
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
