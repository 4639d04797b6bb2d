import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import type { RunningStack, StackCounters } from '../stack/start-stack';
import { countItems } from './dynamodb-scan';
import { freshnessOf, type LastMerge, type PipelineStatus, type ShardStatus } from './pipeline-status';

/** Extra sources a status can count. */
export interface StatusSources {
  /** Quarantined inputs already drained from the quarantine queue into a store (not re-driven yet). */
  storedQuarantine?: () => number;
}

/** The parts of a running stack a status reads. */
export type StatusStack = Pick<RunningStack, 'clients' | 'resources' | 'counters' | 'queueDepths'>;

/** Takes the status of a stack running in this process. */
export async function collectPipelineStatus(stack: StatusStack, warehouse: Warehouse, sources: StatusSources = {}): Promise<PipelineStatus> {
  // Counters first, in one synchronous read: what the queues and the warehouse hold can only have moved downstream since.
  const counters = stack.counters();
  const [items, depths, wh] = await Promise.all([countItems(stack.clients.dynamodb, stack.resources.table.name), stack.queueDepths(), warehouse.status()]);
  const takenAt = Date.now();
  const stream = streamStatus(counters, takenAt);
  const load = counters.load;
  return {
    takenAt,
    items,
    captured: counters.capture ? counters.capture.recordsCaptured : null,
    ...stream,
    loadInFlight: { calls: load?.inFlightInvocations ?? 0, messages: load?.inFlightMessages ?? 0 },
    queues: { load: depths.load, loadDlq: depths.loadDlq, quarantine: depths.quarantine, transformFailure: depths.transformFailure },
    loadQueue: depths.load,
    staged: wh.staged,
    history: wh.history,
    destination: wh.destination,
    tombstones: wh.tombstones,
    quarantined: depths.quarantine + (sources.storedQuarantine?.() ?? 0),
    deadLettered: depths.loadDlq + depths.transformFailure,
    oldestUnmergedAgeSeconds: wh.oldestStagedMicros === null ? null : Math.max(0, (takenAt * 1000 - wh.oldestStagedMicros) / 1_000_000),
    failedInvocations: (counters.transform?.failures ?? 0) + (load?.failures ?? 0) + (counters.merge?.failures ?? 0),
    mergeRunning: counters.merge?.running ?? false,
    merges: counters.merge?.invocations ?? 0,
    lastMerge: lastMergeOf(counters.merge?.lastResult),
  };
}

type StreamPart = Pick<PipelineStatus, 'capturePending' | 'onStream' | 'transformPending' | 'transformInFlight' | 'inStream' | 'streamBehindMs' | 'shards'>;

/**
 * Where the captured changes are before they leave the transform. The capture counts what Kinesis acknowledged and
 * the poller what it read, both since the stack started: the difference is on the stream, unread. A record is
 * readable a moment before its acknowledgement arrives, so the difference is floored at 0.
 */
function streamStatus(counters: StackCounters, now: number): StreamPart {
  const capture = counters.capture;
  const transform = counters.transform;
  const capturePending = capture ? capture.outbox.pending + capture.pendingChanges : 0;
  const onStream = capture && transform ? Math.max(0, capture.outbox.emitted - transform.fetchedRecords) : null;
  const transformPending = transform?.pendingRecords ?? 0;
  const shards: ShardStatus[] = Object.entries(transform?.shards ?? {}).map(([shardId, s]) => {
    // kinesalite reports 0 for a shard that is behind: the age of the oldest record read and not done stands in.
    const held = s.oldestPendingArrivalMs === undefined ? 0 : Math.max(0, now - s.oldestPendingArrivalMs);
    return { shardId, millisBehindLatest: s.millisBehindLatest === undefined ? null : Math.max(s.millisBehindLatest, held) };
  });
  return {
    capturePending,
    onStream,
    transformPending,
    transformInFlight: { calls: transform?.inFlightInvocations ?? 0, records: transform?.inFlightRecords ?? 0 },
    inStream: capturePending + (onStream ?? 0) + transformPending,
    streamBehindMs: Math.max(0, ...shards.map((s) => s.millisBehindLatest ?? 0)),
    shards,
  };
}

/** The merge's last result: how many events it merged and, when the warehouse says, how fresh they were. */
function lastMergeOf(result: unknown): LastMerge | null {
  if (result === null || typeof result !== 'object') return null;
  const events = (result as { events?: unknown }).events;
  return typeof events === 'number' ? { events, freshness: freshnessOf(result) } : null;
}
