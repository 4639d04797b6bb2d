import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { intEnv, requireEnv } from '@claims-cdc/shared/config/env';
import { DEFAULT_SKEW_MARGIN_MS } from '@claims-cdc/shared/domain/snapshot';
import { logger } from '@claims-cdc/shared/observability/logger';
import { MetricUnit, metrics } from '@claims-cdc/shared/observability/metrics';
import { tracer } from '@claims-cdc/shared/observability/tracer';
import { wrap } from '@claims-cdc/shared/observability/wrap';
import { DIALECTS } from '@claims-cdc/shared/warehouse/dialect';
import { warehouseConfigFromEnv, warehouseFromEnv } from '@claims-cdc/shared/warehouse/from-env';
import { z } from 'zod';
import { reconcile as reconcileRun, type ReconcileReport } from '../reconcile/reconcile';

const env = requireEnv(['CLAIMS_TABLE_NAME', 'LOAD_QUEUE_URL']);
/** Defaults of a run; an on-demand invocation may override them. */
const DEFAULTS = {
  segments: intEnv('RECONCILE_SEGMENTS', 8),
  reportLimit: intEnv('RECONCILE_REPORT_LIMIT', 1000),
  maxRepairs: intEnv('RECONCILE_MAX_REPAIRS', 10_000),
};
const dialect = DIALECTS[warehouseConfigFromEnv().kind];
const warehouse = warehouseFromEnv();
const dynamodb = tracer.captureAWSv3Client(new DynamoDBClient({}));
const sqs = tracer.captureAWSv3Client(new SQSClient({}));

/**
 * The event: a scheduled run sends EventBridge's event (no fields of ours: a read-only check); an on-demand
 * invocation may send `{ "repair": true }` and the other fields. Unknown fields are ignored (EventBridge's own).
 */
export const ReconcileEventSchema = z.looseObject({
  repair: z.boolean().default(false),
  segments: z.number().int().min(1).max(64).optional(),
  reportLimit: z.number().int().min(0).max(100_000).optional(),
  maxRepairs: z.number().int().min(0).max(100_000).optional(),
});

/** Compares every DynamoDB item with the destination; with `repair: true` sends the differences through the pipeline. */
export const reconcile = async (event?: unknown): Promise<ReconcileReport> => {
  const request = ReconcileEventSchema.parse(event ?? {});
  const report = await reconcileRun(
    { dynamodb, sqs, warehouse, dialect, tableName: env.CLAIMS_TABLE_NAME, loadQueueUrl: env.LOAD_QUEUE_URL },
    {
      repair: request.repair,
      segments: request.segments ?? DEFAULTS.segments,
      reportLimit: request.reportLimit ?? DEFAULTS.reportLimit,
      maxRepairs: request.maxRepairs ?? DEFAULTS.maxRepairs,
      marginMs: DEFAULT_SKEW_MARGIN_MS,
    },
  );
  const { counts } = report;
  metrics.addMetric('ReconcileMissing', MetricUnit.Count, counts.missing);
  metrics.addMetric('ReconcileExtra', MetricUnit.Count, counts.extra);
  metrics.addMetric('ReconcileDiffering', MetricUnit.Count, counts.differing);
  metrics.addMetric('ReconcileDrifted', MetricUnit.Count, counts.drifted);
  metrics.addMetric('ReconcileDuplicated', MetricUnit.Count, counts.duplicated);
  metrics.addMetric('ReconcileQuarantined', MetricUnit.Count, counts.quarantined);
  metrics.addMetric('ReconcileInFlight', MetricUnit.Count, counts.inFlight);
  metrics.addMetric('ReconcileRepairRowsSent', MetricUnit.Count, counts.repairRowsSent);
  // Claim ids, column names and reasons only: the report carries no values.
  logger.info('reconcile run', { ...report });
  return report;
};

/** The Lambda entry point. */
export const handler = wrap(reconcile);
