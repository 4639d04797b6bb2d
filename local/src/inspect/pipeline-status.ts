/** Where the changes are, stage by stage, at one moment. Counts only: never a claim's contents. */
export interface PipelineStatus {
  /** When the status was taken (ms since the epoch). */
  takenAt: number;
  /** Items in the DynamoDB table. */
  items: number;
  /** Changes the stack's capture turned into stream records since it started (null with a real stream). */
  captured: number | null;
  /** Records captured but not on the stream yet, plus records the transform poller fetched but has not checkpointed. */
  inStream: number;
  /** The largest MillisBehindLatest of the transform poller's shards at its last read. */
  streamBehindMs: number;
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
}

/** Nothing is on its way: no record on the stream, no message in the load queue, no staged row, no merge running. */
export const isQuiet = (status: PipelineStatus): boolean => status.inStream === 0 && status.loadQueue === 0 && status.staged === 0 && !status.mergeRunning;

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
