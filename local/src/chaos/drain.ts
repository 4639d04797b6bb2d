/**
 * Draining after the workload: every record on the stream acknowledged by the transform, load and quarantine
 * queues empty, then merges until staging is empty. No fixed timeouts: a wait fails only when nothing has moved for
 * `stallTimeoutMs` (a stuck pipeline is reported, a slow one is waited for).
 */
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import type { RunningStack } from '../stack';
import type { FaultInjector } from './faults';

/** The pipeline stopped making progress before it drained. */
export class DrainStalledError extends Error {
  override readonly name = 'DrainStalledError';
}

export interface DrainContext {
  stack: RunningStack;
  injector: FaultInjector;
  warehouse: Warehouse;
  /** Records on the stream (changes + poison). */
  onStream(): number;
  stallTimeoutMs: number;
}

/** What the final merges did. */
export interface DrainResult {
  finalMergeAttempts: number;
}

export async function drain(ctx: DrainContext): Promise<DrainResult> {
  const { stack, injector, warehouse } = ctx;
  // Anything that moves counts as progress: acknowledgements, invocations of any stage.
  const signature = () => {
    const c = stack.counters();
    return JSON.stringify([injector.acked.size, c.transform?.invocations, c.load?.invocations, c.load?.deleted, c.merge?.invocations]);
  };
  const until = async (what: string, probe: () => Promise<boolean> | boolean, describe: () => Promise<string> | string) => {
    let last = signature();
    let lastChange = Date.now();
    for (;;) {
      if (await probe()) return;
      const now = signature();
      if (now !== last) {
        last = now;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > ctx.stallTimeoutMs) {
        throw new DrainStalledError(`nothing moved for ${Math.round(ctx.stallTimeoutMs / 1000)} s while waiting for ${what}: ${await describe()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const lastErrors = () => {
    const c = stack.counters();
    return [c.transform?.lastError && `transform: ${c.transform.lastError}`, c.load?.lastError && `load: ${c.load.lastError}`, c.merge?.lastError && `merge: ${c.merge.lastError}`]
      .filter(Boolean)
      .join('; ');
  };

  await until(
    'the transform to acknowledge every stream record',
    () => injector.acked.size >= ctx.onStream(),
    () => `${injector.acked.size} of ${ctx.onStream()} acknowledged; ${lastErrors()}`,
  );
  let depths = await stack.queueDepths();
  await until(
    'the load and quarantine queues to empty',
    async () => {
      depths = await stack.queueDepths();
      return depths.load === 0 && depths.quarantine === 0;
    },
    () => `queue depths ${JSON.stringify(depths)}; ${lastErrors()}`,
  );
  let attempts = 0;
  let staged = -1;
  await until(
    'a final merge to leave staging empty',
    async () => {
      attempts += 1;
      // A merge may crash (that fault stays on); the next attempt merges what it left.
      await stack.triggerMerge().catch(() => undefined);
      staged = (await warehouse.status()).staged;
      return staged === 0;
    },
    () => `${staged} rows still staged; ${lastErrors()}`,
  );
  return { finalMergeAttempts: attempts };
}
