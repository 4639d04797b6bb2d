/** Test helper: polls until `probe` returns a truthy value (bounded, so a bug fails the test instead of hanging it). */
import { setTimeout as sleep } from 'node:timers/promises';
export async function waitUntil<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
