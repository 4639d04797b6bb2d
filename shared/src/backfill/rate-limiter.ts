/**
 * A read-capacity budget shared by every segment of a backfill: a token bucket refilled at the current rate (RCU per
 * second) that a page may overdraw (a Scan page's cost is known only after it is read; the next page waits until the
 * debt is paid). On throttling the rate halves and the throttled request backs off exponentially (with jitter); every
 * page read without throttling gives back a twentieth of the ceiling, up to `--max-rcu` (additive increase,
 * multiplicative decrease, as TCP does).
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Clock and sleep, injectable for tests. */
export interface LimiterClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const systemClock: LimiterClock = { now: () => Date.now(), sleep: (ms) => sleep(ms) };

/** Bounds of the backoff after a throttled request. */
export const BACKOFF = { firstMs: 100, maxMs: 10_000 } as const;

/** The adaptive limiter. `maxRcu` undefined: no budget, only backoff on throttling. */
export class AdaptiveRateLimiter {
  #tokens: number;
  #rate: number;
  #last: number;
  #throttles = 0;

  constructor(
    readonly maxRcu: number | undefined,
    private readonly clock: LimiterClock = systemClock,
    private readonly random: () => number = Math.random,
  ) {
    this.#rate = maxRcu ?? Number.POSITIVE_INFINITY;
    this.#tokens = maxRcu ?? Number.POSITIVE_INFINITY;
    this.#last = clock.now();
  }

  /** The current rate, RCU per second (Infinity without a budget). */
  get rate(): number {
    return this.#rate;
  }

  /** Waits until the budget is not in debt. */
  async acquire(): Promise<void> {
    if (this.maxRcu === undefined) return;
    for (;;) {
      this.#refill();
      if (this.#tokens > 0) return;
      await this.clock.sleep(Math.ceil((-this.#tokens / this.#rate) * 1000) + 1);
    }
  }

  /** Charges what a page consumed and, since it was not throttled, raises the rate a step. */
  consumed(units: number): void {
    this.#refill();
    this.#tokens -= units;
    this.#throttles = 0;
    if (this.maxRcu !== undefined) this.#rate = Math.min(this.maxRcu, this.#rate + this.maxRcu / 20);
  }

  /** A request was throttled: halves the rate and returns how long to wait before trying again. */
  throttled(): number {
    this.#throttles += 1;
    if (this.maxRcu !== undefined) this.#rate = Math.max(this.maxRcu / 64, this.#rate / 2);
    const ceiling = Math.min(BACKOFF.maxMs, BACKOFF.firstMs * 2 ** (this.#throttles - 1));
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  #refill(): void {
    const now = this.clock.now();
    if (this.maxRcu !== undefined) this.#tokens = Math.min(this.maxRcu, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
  }
}

/** Errors DynamoDB answers when a request exceeds the table's (or the account's) capacity. */
export const isThrottling = (error: unknown): boolean =>
  ['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'LimitExceededException'].includes((error as { name?: string } | null)?.name ?? '');

/**
 * The read capacity a Scan page used: what DynamoDB reported, else computed as DynamoDB charges a Scan (the page's
 * total item size rounded up to 4 KB: one unit per 4 KB for a consistent read, half a unit for an eventually
 * consistent one).
 */
export const pageRcu = (reported: number | undefined, itemBytes: number, consistent: boolean): number =>
  reported ?? Math.max(1, Math.ceil(itemBytes / 4096)) * (consistent ? 1 : 0.5);
