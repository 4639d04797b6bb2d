/** One shard of the stream as the transform's poller last saw it. */
export interface ShardStatus {
  shardId: string;
  /** MillisBehindLatest of the poller's last read on this shard (null before its first read). */
  millisBehindLatest: number | null;
}

/** Depth of each queue: messages waiting, in flight or delayed. */
export interface QueueStatus {
  /** Rows from the transform, packed several to a message, for the load function. */
  load: number;
  /** Load messages that failed too often. */
  loadDlq: number;
  /** Inputs the transform or the load could not process, with their reason (drained into the quarantine store by `up`). */
  quarantine: number;
  /** The transform's on-failure destination: metadata of Kinesis batches given up on. */
  transformFailure: number;
}

/** The merge's last run, as far as the stack knows it. */
export interface LastMerge {
  /** Events it merged. */
  events: number;
  /** Its end-to-end freshness, when the merge reports one (ms from an event's creation to the merge's commit). */
  freshness: FreshnessSummary | null;
}

/** Percentiles of end-to-end freshness: write in DynamoDB → row in the destination, in milliseconds. */
export interface FreshnessSummary {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Where the changes are, stage by stage, at one moment. Counts only: never a claim's contents. */
export interface PipelineStatus {
  /** When the status was taken (ms since the epoch). */
  takenAt: number;
  /** Items in the DynamoDB table. */
  items: number;
  /** Changes the stack's capture turned into stream records since it started (null with a real stream). */
  captured: number | null;
  /** Writes accepted by DynamoDB whose record is not on the stream yet (the capture's outbox and pending reads). */
  capturePending: number;
  /**
   * Records on the stream the transform has not read yet: put there since the stack started minus read since then
   * (null with a real stream, whose per-shard lag is all there is). Records an earlier run left unread show as lag.
   */
  onStream: number | null;
  /** Records the transform's poller has read and not checkpointed (waiting for or inside a transform call). */
  transformPending: number;
  /** Transform calls running now and the records they carry. */
  transformInFlight: { calls: number; records: number };
  /** Load calls running now and the messages they carry. */
  loadInFlight: { calls: number; messages: number };
  /** Everything captured that has not left the transform yet: capturePending + onStream + transformPending. */
  inStream: number;
  /** The largest MillisBehindLatest of the transform poller's shards at its last read. */
  streamBehindMs: number;
  /** Per shard lag. */
  shards: ShardStatus[];
  /** Every queue's depth. */
  queues: QueueStatus;
  /** Messages in the load queue (waiting or in flight). */
  loadQueue: number;
  /** Rows staged and not merged yet. */
  staged: number;
  /** Rows in the event history (one per distinct change). */
  history: number;
  /** Rows in the destination table. */
  destination: number;
  /** Claims whose deletion the destination remembers. */
  tombstones: number;
  /**
   * Inputs the pipeline could not process, kept with their reason: messages in the quarantine queue plus, when a
   * quarantine store drains that queue, its entries not re-driven yet.
   */
  quarantined: number;
  /** Messages in the load dead-letter queue and the transform's failed-batch queue. */
  deadLettered: number;
  /** Age of the oldest unmerged change, in seconds (null when nothing is staged). */
  oldestUnmergedAgeSeconds: number | null;
  /** Handler invocations that failed (or reported failed items), over all pollers. */
  failedInvocations: number;
  /** Whether a merge is running now. */
  mergeRunning: boolean;
  /** Merge runs since the stack started. */
  merges: number;
  /** The merge's last run, empty ones too (null before the first). */
  lastMerge: LastMerge | null;
}

/** Nothing is on its way: no record on the stream, no message in the load queue, no staged row, no merge running. */
export const isQuiet = (status: PipelineStatus): boolean =>
  status.inStream === 0 && status.streamBehindMs === 0 && status.loadQueue === 0 && status.staged === 0 && !status.mergeRunning;

/** The lag shown to users: how far the destination is behind, as far as the stack can tell. */
export const lagSeconds = (status: PipelineStatus): number => Math.max(status.oldestUnmergedAgeSeconds ?? 0, status.streamBehindMs / 1000);

/** One line: counts per stage, left to right, then the lag. */
export function formatStatusLine(status: PipelineStatus): string {
  const parts = [
    `DynamoDB ${status.items}`,
    ...(status.captured === null ? [] : [`captured ${status.captured}`]),
    `stream ${status.inStream}`,
    `load queue ${status.loadQueue}`,
    `staged ${status.staged}`,
    `history ${status.history}`,
    `destination ${status.destination}`,
    `quarantined ${status.quarantined}`,
    `lag ${lagSeconds(status).toFixed(1)}s`,
  ];
  if (status.deadLettered > 0) parts.push(`dead-lettered ${status.deadLettered}`);
  if (status.failedInvocations > 0) parts.push(`failed invocations ${status.failedInvocations}`);
  return parts.join(' · ');
}

/**
 * The merge's result carries end-to-end freshness once the warehouse reports it (p50/p99/max in ms, or in seconds
 * with an `…Seconds` suffix); any other shape gives null rather than a guess.
 */
export function freshnessOf(result: unknown): FreshnessSummary | null {
  const f = (result as { freshness?: unknown } | null | undefined)?.freshness;
  if (f === null || typeof f !== 'object') return null;
  const o = f as Record<string, unknown>;
  const pick = (name: string): number | null => {
    for (const [key, scale] of [[`${name}Ms`, 1], [`${name}Millis`, 1], [`${name}Seconds`, 1000], [name, 1]] as const) {
      const v = o[key];
      if (typeof v === 'number' && Number.isFinite(v)) return v * scale;
    }
    return null;
  };
  const p50Ms = pick('p50');
  const p99Ms = pick('p99');
  const maxMs = pick('max');
  return p50Ms === null || p99Ms === null || maxMs === null ? null : { p50Ms, p99Ms, maxMs };
}
