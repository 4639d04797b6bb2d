import { logger } from '@claims-cdc/shared/observability/logger';
import { MetricUnit, metrics } from '@claims-cdc/shared/observability/metrics';
import { wrap } from '@claims-cdc/shared/observability/wrap';
import { warehouseFromEnv } from '@claims-cdc/shared/warehouse/from-env';
import { invocationDeadline, type MergeResult, type WarehouseStatus } from '@claims-cdc/shared/warehouse/port';
import type { Context } from 'aws-lambda';

const warehouse = warehouseFromEnv();

/**
 * What the invocation keeps back from the merge (timeout 300 s in serverless.yml): a timed-out statement's ROLLBACK
 * and logout, the backlog query and the reply. The merge ends by then, so it is never killed holding staging's locks.
 */
export const WAREHOUSE_MARGIN_MS = 20_000;

/** One merge run plus the backlog left behind (rows staged while it ran). */
export interface MergeReply extends MergeResult {
  readonly backlog: number;
  readonly oldestUnmergedAgeSeconds: number;
}

const ageSeconds = (status: WarehouseStatus, nowMs: number): number =>
  status.oldestStagedMicros === null ? 0 : Math.max(0, Math.round((nowMs * 1000 - status.oldestStagedMicros) / 1_000_000));

/** Scheduled: one transactional merge of staging into the destination (see `Dialect.merge`). */
export const merge = async (_event?: unknown, context?: Context): Promise<MergeReply> => {
  const wh = await warehouse;
  const result = await wh.merge(undefined, context === undefined ? undefined : { deadline: invocationDeadline(context, WAREHOUSE_MARGIN_MS) });
  const status = await wh.status();
  const reply = { ...result, backlog: status.staged, oldestUnmergedAgeSeconds: ageSeconds(status, Date.now()) };
  metrics.addMetric('EventsMerged', MetricUnit.Count, result.events);
  metrics.addMetric('RowsUpserted', MetricUnit.Count, result.inserted + result.updated);
  metrics.addMetric('RowsDeleted', MetricUnit.Count, result.deleted);
  metrics.addMetric('StaleEventsSkipped', MetricUnit.Count, result.stale);
  metrics.addMetric('DuplicateKeysRepaired', MetricUnit.Count, result.duplicates);
  metrics.addMetric('StagingBacklog', MetricUnit.Count, reply.backlog);
  metrics.addMetric('OldestUnmergedEventAge', MetricUnit.Seconds, reply.oldestUnmergedAgeSeconds);
  // Write → destination as users see it (creation in DynamoDB to this commit), beside the backlog age above.
  if (result.freshness !== null) {
    metrics.addMetric('EndToEndFreshnessP50', MetricUnit.Milliseconds, result.freshness.p50Ms);
    metrics.addMetric('EndToEndFreshnessP99', MetricUnit.Milliseconds, result.freshness.p99Ms);
    metrics.addMetric('EndToEndFreshnessMax', MetricUnit.Milliseconds, result.freshness.maxMs);
  }
  logger.info('merge run', { ...reply });
  // Extra rows per claimId come from outside the pipeline (a manual load, a backfill): worth a look, though repaired.
  if (result.duplicates > 0) logger.warn('merge repaired duplicate claim rows in the destination or tombstones', { runId: result.runId, duplicates: result.duplicates });
  return reply;
};

/** The Lambda entry point. */
export const handler = wrap(merge);
