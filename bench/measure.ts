/** Timing and statistics helpers shared by the benchmark stages. */

/** The median of a non-empty list (mean of the middle two for even lengths). */
export const median = (values: readonly number[]): number => {
  if (values.length === 0) throw new Error('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** The p-th percentile (0–100) by the nearest-rank method; null for an empty list. */
export const percentile = (values: readonly number[], p: number): number | null => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
};

/** Seconds since `startNs` (from process.hrtime.bigint()). */
export const secondsSince = (startNs: bigint): number => Number(process.hrtime.bigint() - startNs) / 1e9;

/** CPU seconds (user + system, all threads of this process) since `start` (from process.cpuUsage()). */
export const cpuSecondsSince = (start: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
};

/**
 * Runs `body` and returns its result, how long it took (wall clock) and the CPU time this process used meanwhile.
 * On a busy machine the CPU time shows what the work costs when wall clock is stretched by other processes.
 */
export const timed = async <T>(body: () => Promise<T> | T): Promise<{ value: T; seconds: number; cpuSeconds: number }> => {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const value = await body();
  return { value, seconds: secondsSince(start), cpuSeconds: cpuSecondsSince(cpu) };
};

/** Progress line on stderr, so stdout carries only the results table. */
export const progress = (message: string): void => {
  process.stderr.write(`  · ${message}\n`);
};

/**
 * Tracks the peak heap and RSS of this process by sampling, on top of the kernel's maxRSS (which catches any RSS peak
 * between samples). Every 100 ms: sampling every 20 ms cost the end-to-end stage ~3 % of its main thread.
 */
export class MemorySampler {
  #peakRss = 0;
  #peakHeap = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(intervalMs = 100) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  sample(): void {
    const usage = process.memoryUsage();
    this.#peakRss = Math.max(this.#peakRss, usage.rss);
    this.#peakHeap = Math.max(this.#peakHeap, usage.heapUsed);
  }

  /** Peak RSS (kernel maxRSS when larger than what sampling saw) and peak JS heap, in bytes. */
  stop(): { peakRssBytes: number; peakHeapBytes: number } {
    clearInterval(this.#timer);
    this.sample();
    return { peakRssBytes: Math.max(this.#peakRss, process.resourceUsage().maxRSS * 1024), peakHeapBytes: this.#peakHeap };
  }
}
