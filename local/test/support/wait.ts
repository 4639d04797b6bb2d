/** Test helper: polls until `probe` returns a truthy value (bounded, so a bug fails the test instead of hanging it). */
import { setTimeout as sleep } from 'node:timers/promises';

/** The first pause between probes, and the longest. */
const FIRST_PAUSE_MS = 20;
const LONGEST_PAUSE_MS = 250;

/**
 * Polls `probe` until it returns a truthy value. The pause between probes starts at 20 ms and grows by half each time
 * up to 250 ms: a condition that holds soon is seen soon, and a long wait (a stack draining for tens of seconds) does
 * not spend the CPU it waits for on probes. Many probes here are a whole `claims-cdc status` (SQS, Kinesis, DynamoDB
 * and DuckDB calls): polled every 20 ms, they cost the kill-and-restart suite about a tenth of its CPU.
 */
export async function waitUntil<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(LONGEST_PAUSE_MS, Math.ceil(pause * 1.5))) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(pause);
  }
}
