/**
 * The pipeline's recent past: a status every second, kept for ten minutes, turned into per-stage rates and into the
 * end-to-end freshness of the merges. Counts only, like the statuses it keeps.
 */
import { freshnessOf, lagSeconds, type FreshnessSummary, type PipelineStatus } from '../inspect/pipeline-status';

/** Rates (per second) between two statuses, and the lag at the later one. */
export interface RatePoint {
  /** When (ms since the epoch). */
  t: number;
  /** Changes captured from DynamoDB. */
  captured: number;
  /** Records the transform finished with (forwarded to the load queue or quarantined). */
  transformed: number;
  /** Events written to the warehouse's history (staged). */
  loaded: number;
  /** Events merged into the destination. */
  merged: number;
  /** How far the destination is behind, in seconds (see `lagSeconds`). */
  lagSeconds: number;
}

/** One merge run that merged something, with its freshness. */
export interface MergeRun {
  t: number;
  events: number;
  freshness: FreshnessSummary;
  /**
   * True when the merge did not report freshness and it was estimated from the oldest event it merged: then all
   * three values are that event's age at the commit, an upper bound.
   */
  estimated: boolean;
}

/** Freshness over a window: percentiles over its merge runs, weighted by their events. */
export interface WindowFreshness extends FreshnessSummary {
  runs: number;
  events: number;
  estimated: boolean;
}

/** The merge's counters as the stack keeps them: its invocation count and last result. */
export interface MergeProbe {
  invocations: number;
  lastResult?: unknown;
}

/** How a {@link PipelineSampler} samples. */
export interface SamplerOptions {
  /** How often to take a status (default 1 s; longer when taking one is slow, so a big table is not scanned flat out). */
  everyMs?: number;
  /** How much history to keep (default 10 minutes). */
  keepMs?: number;
  /**
   * The merge's counters, read every {@link MERGE_PROBE_MS} so every run is seen (statuses, a second or more apart,
   * would miss most of the 1 s merges). Without it, runs are taken from the statuses.
   */
  mergeProbe?: () => MergeProbe | undefined;
}

/** How often the merge's counters are read (cheap: an object in this process). */
export const MERGE_PROBE_MS = 100;

/** Takes statuses in the background and keeps the recent ones. */
export class PipelineSampler {
  readonly #statuses: PipelineStatus[] = [];
  readonly #runs: MergeRun[] = [];
  readonly #everyMs: number;
  readonly #keepMs: number;
  #timer: NodeJS.Timeout | undefined;
  #probeTimer: NodeJS.Timeout | undefined;
  #probedInvocations: number | undefined;
  readonly #probe: (() => MergeProbe | undefined) | undefined;
  #taking: Promise<void> | undefined;
  #stopped = true;
  #lastError: string | undefined;

  constructor(
    private readonly collect: () => Promise<PipelineStatus>,
    options: SamplerOptions = {},
  ) {
    this.#everyMs = options.everyMs ?? 1_000;
    this.#keepMs = options.keepMs ?? 10 * 60_000;
    this.#probe = options.mergeProbe;
  }

  /** Starts sampling (the first status at once). */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#tick();
    if (!this.#probe) return;
    // The counters now are the baseline: a run that ends from here on is a run the sampler saw end.
    this.probeMerge();
    this.#probeTimer = setInterval(() => this.probeMerge(), MERGE_PROBE_MS);
  }

  /** Stops sampling; resolves when a status being taken is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#probeTimer);
    await this.#taking;
  }

  /** The latest status (undefined before the first). */
  latest(): PipelineStatus | undefined {
    return this.#statuses[this.#statuses.length - 1];
  }

  /** Why the last status could not be taken (cleared by the next that could). */
  lastError(): string | undefined {
    return this.#lastError;
  }

  /** Adds a status taken elsewhere (the sampler's own ticks call this too). */
  record(status: PipelineStatus): void {
    const previous = this.latest();
    if (previous && status.takenAt <= previous.takenAt) return;
    this.#statuses.push(status);
    if (!this.#probe && previous && status.merges > previous.merges && status.lastMerge) {
      this.#addRun(status.takenAt, status.lastMerge.events, status.lastMerge.freshness, previous);
    }
    const cutoff = status.takenAt - this.#keepMs;
    while (this.#statuses.length > 0 && (this.#statuses[0] as PipelineStatus).takenAt < cutoff) this.#statuses.shift();
    while (this.#runs.length > 0 && (this.#runs[0] as MergeRun).t < cutoff) this.#runs.shift();
  }

  /** Reads the merge's counters and records a run that finished since the last read. */
  probeMerge(now = Date.now()): void {
    const merge = this.#probe?.();
    if (!merge) return;
    const seen = this.#probedInvocations;
    this.#probedInvocations = merge.invocations;
    if (seen === undefined || merge.invocations === seen) return;
    const events = (merge.lastResult as { events?: unknown } | undefined)?.events;
    if (typeof events === 'number') this.#addRun(now, events, freshnessOf(merge.lastResult), this.latest());
  }

  /**
   * Adds a run that merged something. Without a reported freshness it is estimated: the oldest event staged before
   * the run is the oldest it could merge, and its age at the commit bounds the others.
   */
  #addRun(t: number, events: number, reported: FreshnessSummary | null, before: PipelineStatus | undefined): void {
    if (events <= 0) return;
    const oldestMs = before ? (before.oldestUnmergedAgeSeconds ?? 0) * 1000 + Math.max(0, t - before.takenAt) : 0;
    const freshness = reported ?? { p50Ms: oldestMs, p99Ms: oldestMs, maxMs: oldestMs };
    this.#runs.push({ t, events, freshness, estimated: reported === null });
  }

  /** Rates between consecutive statuses, oldest first. */
  rates(): RatePoint[] {
    const points: RatePoint[] = [];
    for (let i = 1; i < this.#statuses.length; i++) points.push(ratesBetween(this.#statuses[i - 1] as PipelineStatus, this.#statuses[i] as PipelineStatus));
    return points;
  }

  /** The merge runs kept, oldest first. */
  runs(): readonly MergeRun[] {
    return this.#runs;
  }

  /**
   * Freshness of the merges in the last `windowMs` before the latest status (null when none merged anything). The
   * merge's counters are read first: a run that ended since the probe timer's last read (up to 100 ms ago) counts.
   */
  freshness(windowMs = 60_000): WindowFreshness | null {
    if (!this.#stopped) this.probeMerge();
    const now = this.latest()?.takenAt ?? 0;
    return windowFreshness(this.#runs.filter((run) => run.t > now - windowMs));
  }

  #tick(): void {
    const began = Date.now();
    this.#taking = this.collect()
      .then((status) => {
        this.#lastError = undefined;
        this.record(status);
      })
      .catch((error: unknown) => {
        this.#lastError = (error as Error).message.split('\n')[0];
      })
      .finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(() => this.#tick(), Math.max(this.#everyMs, 4 * (Date.now() - began)));
      });
  }
}

/** Per-second rates of each stage between two statuses. */
export function ratesBetween(a: PipelineStatus, b: PipelineStatus): RatePoint {
  const seconds = Math.max(0.001, (b.takenAt - a.takenAt) / 1000);
  const rate = (before: number, after: number) => Math.max(0, after - before) / seconds;
  const captured = (s: PipelineStatus) => s.captured ?? s.items;
  return {
    t: b.takenAt,
    captured: rate(captured(a), captured(b)),
    transformed: rate(captured(a) - a.inStream, captured(b) - b.inStream),
    loaded: rate(a.history, b.history),
    merged: rate(a.history - a.staged, b.history - b.staged),
    lagSeconds: lagSeconds(b),
  };
}

/** The `q` quantile (0..1) of values weighted by their counts. */
function weightedQuantile(values: readonly { value: number; weight: number }[], q: number): number {
  const sorted = [...values].sort((x, y) => x.value - y.value);
  const total = sorted.reduce((sum, v) => sum + v.weight, 0);
  let seen = 0;
  for (const v of sorted) {
    seen += v.weight;
    if (seen >= q * total) return v.value;
  }
  return sorted[sorted.length - 1]?.value ?? 0;
}

/**
 * Freshness over several runs: each run's p50 and p99 stand for its events (weighted by their number), the max is
 * the largest. Exact for one run; for several, a close estimate of the percentiles over all their events.
 */
export function windowFreshness(runs: readonly MergeRun[]): WindowFreshness | null {
  if (runs.length === 0) return null;
  return {
    p50Ms: weightedQuantile(runs.map((r) => ({ value: r.freshness.p50Ms, weight: r.events })), 0.5),
    p99Ms: weightedQuantile(runs.map((r) => ({ value: r.freshness.p99Ms, weight: r.events })), 0.99),
    maxMs: Math.max(...runs.map((r) => r.freshness.maxMs)),
    runs: runs.length,
    events: runs.reduce((sum, r) => sum + r.events, 0),
    estimated: runs.some((r) => r.estimated),
  };
}
