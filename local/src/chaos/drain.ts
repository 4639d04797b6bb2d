/**
 * Draining after the workload: every record on the stream acknowledged by the transform, load and quarantine
 * queues empty, then merges until staging is empty. No fixed timeouts: a wait fails only when nothing has moved for
 * `stallTimeoutMs` (a stuck pipeline is reported, a slow one is waited for).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import type { RunningStack } from '../stack';
import type { FaultInjector } from './faults';

/** The pipeline stopped making progress before it drained. */
export class DrainStalledError extends Error {
  override readonly name = 'DrainStalledError';
}

export interface DrainContext {
  /** The stack now; with `stack-kill` it changes at a restart (`ready` waits for one in progress). */
  stack(): RunningStack;
  ready(): Promise<RunningStack>;
  /** Bumped by every restart: a probe that saw it change may have failed because of the kill. */
  epoch(): number;
  injector: FaultInjector;
  warehouse: Warehouse;
  /** Runs a harness call on the warehouse where a kill cannot close it meanwhile (default: as it is). */
  warehouseCall?<T>(fn: () => Promise<T>): Promise<T>;
  /** Records on the stream (changes + poison); with `stack-kill` a lower bound (see `streamAcknowledged`). */
  onStream(): number;
  /**
   * With `stack-kill`: whether every record really on the stream is acknowledged (read from the stream: a restart
   * puts again records it was not sure landed, so some are there twice).
   */
  streamAcknowledged?(): Promise<boolean>;
  /** Called at every probe while the stream is consumed (the `stack-kill` drain point). */
  duringDrain?(acked: number, onStream: number): Promise<void>;
  stallTimeoutMs: number;
}

/** What the final merges did. */
export interface DrainResult {
  finalMergeAttempts: number;
}

export async function drain(ctx: DrainContext): Promise<DrainResult> {
  const { injector, warehouse } = ctx;
  // Anything that moves counts as progress: acknowledgements, invocations of any stage, a restart.
  const signature = () => {
    const c = ctx.stack().counters();
    return JSON.stringify([ctx.epoch(), injector.acked.size, c.transform?.invocations, c.load?.invocations, c.load?.deleted, c.merge?.invocations]);
  };
  /** A probe against a live stack; one that failed because a kill cut it is a "not yet". */
  const probing = async (probe: () => Promise<boolean> | boolean): Promise<boolean> => {
    await ctx.ready();
    const epoch = ctx.epoch();
    try {
      return await probe();
    } catch (error) {
      if (ctx.epoch() !== epoch) return false;
      throw error;
    }
  };
  const until = async (what: string, probe: () => Promise<boolean> | boolean, describe: () => Promise<string> | string) => {
    let last = signature();
    let lastChange = Date.now();
    for (;;) {
      if (await probing(probe)) return;
      const now = signature();
      if (now !== last) {
        last = now;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > ctx.stallTimeoutMs) {
        throw new DrainStalledError(`nothing moved for ${Math.round(ctx.stallTimeoutMs / 1000)} s while waiting for ${what}: ${await describe()}`);
      }
      await sleep(100);
    }
  };
  const lastErrors = () => {
    const c = ctx.stack().counters();
    return [c.transform?.lastError && `transform: ${c.transform.lastError}`, c.load?.lastError && `load: ${c.load.lastError}`, c.merge?.lastError && `merge: ${c.merge.lastError}`]
      .filter(Boolean)
      .join('; ');
  };

  await until(
    'the transform to acknowledge every stream record',
    async () => {
      await ctx.duringDrain?.(injector.acked.size, ctx.onStream());
      if (injector.acked.size < ctx.onStream()) return false;
      return ctx.streamAcknowledged ? ctx.streamAcknowledged() : true;
    },
    () => `${injector.acked.size} of ${ctx.onStream()} acknowledged; ${lastErrors()}`,
  );
  let depths: Record<string, number> = {};
  await until(
    'the load and quarantine queues to empty',
    async () => {
      depths = await ctx.stack().queueDepths();
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
      await ctx.stack().triggerMerge().catch(() => undefined);
      await ctx.ready();
      staged = (await (ctx.warehouseCall ?? ((fn) => fn()))(() => warehouse.status())).staged;
      return staged === 0;
    },
    () => `${staged} rows still staged; ${lastErrors()}`,
  );
  return { finalMergeAttempts: attempts };
}
