import { logger } from '@claims-cdc/shared/observability/logger';
import { MetricUnit, metrics } from '@claims-cdc/shared/observability/metrics';
import { wrap } from '@claims-cdc/shared/observability/wrap';
import { warehouseFromEnv } from '@claims-cdc/shared/warehouse/from-env';
import type { MergeResult, WarehouseStatus } from '@claims-cdc/shared/warehouse/port';

const warehouse = warehouseFromEnv();

/** One merge run plus the backlog left behind (rows staged while it ran). */
export interface MergeReply extends MergeResult {
  readonly backlog: number;
  readonly oldestUnmergedAgeSeconds: number;
}

const ageSeconds = (status: WarehouseStatus, nowMs: number): number =>
  status.oldestStagedMicros === null ? 0 : Math.max(0, Math.round((nowMs * 1000 - status.oldestStagedMicros) / 1_000_000));

/** Scheduled: one transactional merge of staging into the destination (see `Dialect.merge`). */
export const merge = async (): Promise<MergeReply> => {
  const wh = await warehouse;
  const result = await wh.merge();
  const status = await wh.status();
  const reply = { ...result, backlog: status.staged, oldestUnmergedAgeSeconds: ageSeconds(status, Date.now()) };
  metrics.addMetric('EventsMerged', MetricUnit.Count, result.events);
  metrics.addMetric('RowsUpserted', MetricUnit.Count, result.inserted + result.updated);
  metrics.addMetric('RowsDeleted', MetricUnit.Count, result.deleted);
  metrics.addMetric('StaleEventsSkipped', MetricUnit.Count, result.stale);
  metrics.addMetric('StagingBacklog', MetricUnit.Count, reply.backlog);
  metrics.addMetric('OldestUnmergedEventAge', MetricUnit.Seconds, reply.oldestUnmergedAgeSeconds);
  logger.info('merge run', { ...reply });
  return reply;
};

/** The Lambda entry point. */
export const handler = wrap(merge);
