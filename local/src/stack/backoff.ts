/**
 * The one retry policy of the local world: exponential backoff, capped. The embedded stack's capture, outbox and
 * resource setup and the backfill's writer each retry a different call, but they wait the same way, so a change to
 * how we back off (a cap, jitter) is made here once.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** How a retry loop waits: `baseMs` before the first retry, doubling up to `maxMs`. */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** The wait before retry number `retry` (1 = the first retry). */
export const backoffMs = (retry: number, policy: BackoffPolicy): number =>
  Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(retry - 1, 0), 30));

/**
 * Calls `fn` until it resolves, at most `attempts` times, waiting {@link backoffMs} between calls.
 *
 * @throws the last call's error when every attempt failed
 */
export async function retrying<T>(fn: () => Promise<T>, attempts: number, policy: BackoffPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await sleep(backoffMs(attempt, policy));
    }
  }
}
