import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import type { RunningStack } from '../stack/start-stack';
import { countItems } from './dynamodb-scan';
import type { PipelineStatus } from './pipeline-status';

/** Extra sources a status can count. */
export interface StatusSources {
  /** Quarantined inputs already drained from the quarantine queue into a store (not re-driven yet). */
  storedQuarantine?: () => number;
}

/** Takes the status of a stack running in this process. */
export async function collectPipelineStatus(stack: RunningStack, warehouse: Warehouse, sources: StatusSources = {}): Promise<PipelineStatus> {
  const [items, depths, wh] = await Promise.all([countItems(stack.clients.dynamodb, stack.resources.table.name), stack.queueDepths(), warehouse.status()]);
  const counters = stack.counters();
  const takenAt = Date.now();
  const transform = counters.transform;
  const shards = Object.values(transform?.shards ?? {});
  return {
    takenAt,
    items,
    captured: counters.capture ? counters.capture.recordsCaptured : null,
    inStream: (counters.capture?.outbox.pending ?? 0) + (transform?.pendingRecords ?? 0),
    streamBehindMs: Math.max(0, ...shards.map((s) => s.millisBehindLatest ?? 0)),
    loadQueue: depths.load,
    staged: wh.staged,
    history: wh.history,
    destination: wh.destination,
    tombstones: wh.tombstones,
    quarantined: depths.quarantine + (sources.storedQuarantine?.() ?? 0),
    deadLettered: depths.loadDlq + depths.transformFailure,
    oldestUnmergedAgeSeconds: wh.oldestStagedMicros === null ? null : Math.max(0, (takenAt * 1000 - wh.oldestStagedMicros) / 1_000_000),
    failedInvocations: (transform?.failures ?? 0) + (counters.load?.failures ?? 0) + (counters.merge?.failures ?? 0),
    mergeRunning: counters.merge?.running ?? false,
  };
}
