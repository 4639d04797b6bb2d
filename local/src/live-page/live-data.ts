/**
 * What the live page shows, as one JSON document: the flow's stages with counts, rates and lag, the recent rates and
 * freshness, the quarantine by reason and the destination by claim status. Counts, ids, reasons and statuses only:
 * no claim value (name, birth date, phone, email, address, member id) ever gets here.
 */
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import { TABLES } from '@claims-cdc/shared/warehouse/tables';
import type { PipelineStatus, QueueStatus } from '../inspect/pipeline-status';
import type { QuarantineEntry } from '../quarantine';
import type { MergeRun, PipelineSampler, RatePoint, WindowFreshness } from './sampler';

/** One box of the flow. */
export interface StageView {
  key: 'dynamodb' | 'capture' | 'stream' | 'transform' | 'loadQueue' | 'staging' | 'merge' | 'destination';
  label: string;
  /** What the box holds now. */
  count: number | null;
  /** What the count counts. */
  unit: string;
  /** Per second through this stage over the last few seconds (null when not measurable). */
  rate: number | null;
  /** How far behind this stage is, in ms (null when it does not apply). */
  lagMs: number | null;
  /** What the lag is: `behind` (the stage's backlog) or `p99 freshness` (the destination's, over the last minute). */
  lagLabel: string;
  /** One line more (in-flight calls, totals). */
  detail: string;
}

/** Quarantined inputs sharing one reason: ids only. */
export interface QuarantineReason {
  reason: string;
  count: number;
  /** Entry ids (as `claims-cdc quarantine show ID` takes them), newest first, at most {@link IDS_PER_REASON}. */
  ids: string[];
}

/** The page's document. */
export interface LiveData {
  takenAt: number;
  stages: StageView[];
  queues: QueueStatus;
  rates: RatePoint[];
  mergeRuns: readonly MergeRun[];
  freshness: WindowFreshness | null;
  quarantine: { total: number; byReason: QuarantineReason[] };
  destinationByStatus: StatusCounts;
  /** Why the status could not be taken just now, if it could not. */
  error?: string;
}

/** Claims in the destination per claim status. */
export type StatusCounts = { status: string; count: number }[];

/** Counts the destination's rows per claim status (statuses are not PHI; nothing else is read). */
export async function destinationByStatus(warehouse: Pick<Warehouse, 'query'>): Promise<StatusCounts> {
  const rows = await warehouse.query(`select claimStatus as status, count(*) as n from ${TABLES.destination} group by claimStatus order by n desc, status`);
  return rows.map((row) => ({ status: row.status === null ? '(none)' : String(row.status), count: Number(row.n) }));
}

/** Where the page's data comes from. */
export interface LiveDataSources {
  sampler: PipelineSampler;
  /** The destination by claim status, counted with the sampler's latest status (so the two agree). */
  byStatus: () => StatusCounts;
  /** The quarantine store's entries, when one is attached (`up` attaches one). */
  quarantine?: () => readonly QuarantineEntry[];
}

/** At most this many ids are listed per quarantine reason (the count says how many there are). */
export const IDS_PER_REASON = 20;
const RATE_WINDOW = 5;

/** Averages the last few rate points so a rate does not flicker between merges and polls. */
const recentRates = (rates: readonly RatePoint[]): RatePoint | null => {
  const last = rates.slice(-RATE_WINDOW);
  if (last.length === 0) return null;
  const avg = (pick: (p: RatePoint) => number) => last.reduce((sum, p) => sum + pick(p), 0) / last.length;
  return { t: last[last.length - 1]!.t, captured: avg((p) => p.captured), transformed: avg((p) => p.transformed), loaded: avg((p) => p.loaded), merged: avg((p) => p.merged), lagSeconds: avg((p) => p.lagSeconds) };
};

/** The flow's boxes from one status. */
export function stagesOf(s: PipelineStatus, rate: RatePoint | null, freshness: WindowFreshness | null): StageView[] {
  const r = (pick: (p: RatePoint) => number) => (rate ? pick(rate) : null);
  return [
    { key: 'dynamodb', label: 'DynamoDB', count: s.items, unit: 'items', rate: r((p) => p.captured), lagMs: null, lagLabel: 'behind', detail: 'writes/s captured' },
    { key: 'capture', label: 'capture', count: s.capturePending, unit: 'changes not on the stream', rate: r((p) => p.captured), lagMs: null, lagLabel: 'behind', detail: s.captured === null ? 'DynamoDB streaming destination' : `${s.captured} captured since start` },
    { key: 'stream', label: 'stream', count: s.onStream, unit: 'records unread', rate: r((p) => p.transformed), lagMs: s.streamBehindMs, lagLabel: 'behind', detail: `${s.shards.length} shard(s)` },
    { key: 'transform', label: 'transform', count: s.transformPending, unit: 'records read, not done', rate: r((p) => p.transformed), lagMs: null, lagLabel: 'behind', detail: `${s.transformInFlight.calls} call(s) in flight, ${s.transformInFlight.records} records` },
    { key: 'loadQueue', label: 'load queue', count: s.queues.load, unit: 'messages', rate: r((p) => p.loaded), lagMs: null, lagLabel: 'behind', detail: `${s.loadInFlight.calls} load call(s) in flight · DLQ ${s.queues.loadDlq}` },
    { key: 'staging', label: 'staging', count: s.staged, unit: 'rows not merged', rate: r((p) => p.loaded), lagMs: s.oldestUnmergedAgeSeconds === null ? null : s.oldestUnmergedAgeSeconds * 1000, lagLabel: 'oldest', detail: `history ${s.history} rows` },
    { key: 'merge', label: 'merge', count: s.lastMerge?.events ?? null, unit: 'events in the last run', rate: r((p) => p.merged), lagMs: null, lagLabel: 'behind', detail: `${s.merges} run(s)${s.mergeRunning ? ', running' : ''}` },
    { key: 'destination', label: 'destination', count: s.destination, unit: 'rows', rate: r((p) => p.merged), lagMs: freshness?.p99Ms ?? null, lagLabel: 'p99 freshness', detail: `${s.tombstones} tombstone(s)` },
  ];
}

/** Groups quarantine entries not re-driven by reason: counts and ids, newest first. */
export function quarantineByReason(entries: readonly QuarantineEntry[], queued: number): LiveData['quarantine'] {
  const open = entries.filter((e) => !e.redriven);
  const groups = new Map<string, QuarantineEntry[]>();
  for (const entry of open) groups.set(entry.reason, [...(groups.get(entry.reason) ?? []), entry]);
  const byReason = [...groups.entries()]
    .map(([reason, list]) => ({
      reason,
      count: list.length,
      ids: [...list].sort((a, b) => b.quarantinedAt.localeCompare(a.quarantinedAt)).slice(0, IDS_PER_REASON).map((e) => e.id),
    }))
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
  if (queued > 0) byReason.push({ reason: '(in the quarantine queue, not stored yet)', count: queued, ids: [] });
  return { total: open.length + queued, byReason };
}

/** Builds the page's document from the sampler's latest status; null before the first status. */
export function liveData(sources: LiveDataSources): LiveData | null {
  const status = sources.sampler.latest();
  if (!status) return null;
  const rates = sources.sampler.rates();
  const freshness = sources.sampler.freshness();
  const error = sources.sampler.lastError();
  return {
    takenAt: status.takenAt,
    stages: stagesOf(status, recentRates(rates), freshness),
    queues: status.queues,
    rates: rates.slice(-300),
    mergeRuns: sources.sampler.runs(),
    freshness,
    quarantine: quarantineByReason(sources.quarantine?.() ?? [], status.queues.quarantine),
    destinationByStatus: sources.byStatus(),
    ...(error ? { error } : {}),
  };
}
