/**
 * The run's stack, and the `stack-kill` fault: at scripted points of the run the stack is killed — stopped at once,
 * nothing flushed or finished (`RunningStack.kill`) — and started again on the same state directory, resuming what it
 * persisted; the run goes on writing and draining against the new one. Everything that talks to the stack (sources,
 * poison, drain, checks) reaches it through this class, so it follows the restart.
 *
 * The points, each once per run:
 * - `writes`: after 35 % of the events, with the source's writers (and the pipeline) busy;
 * - `merge`: from 65 % of the events on, the first merge the merge handler runs that gets as far as `applied`
 *   (claimed rows, destination and tombstones written, the transaction not committed) kills the stack from inside
 *   that transaction;
 * - `drain`: once the workload is written, when the transform is halfway through what was left on the stream.
 *
 * See docs/chaos.md for what is and is not simulated.
 */
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import { attachQuarantine, type AttachedQuarantine } from '../quarantine';
import { startStack, type RunningStack, type StackCounters, type StartStackOptions } from '../stack';
import type { FaultInjector } from './faults';

/** Where in the run a kill is scripted. */
export type KillPoint = 'writes' | 'merge' | 'drain';

export const KILL_POINTS: readonly KillPoint[] = ['writes', 'merge', 'drain'];

/** What one kill cut, and what the restart found. */
export interface KillRecord {
  point: KillPoint;
  /** Where exactly (counts only). */
  at: string;
  /** Handler invocations running when the stack died (their outcome was thrown away). */
  inFlight: { transform: number; load: number; merge: number };
  /** Writes the source had in flight (DynamoDB source): cut, retried against the new stack. */
  writesInFlight: number;
  /** What the new capture replayed from its journal: records not acknowledged by Kinesis, writes whose change was open. */
  recovered: { records: number; changes: number };
  /** Kill to the new stack serving, ms. */
  restartMs: number;
}

/** The counters the report and the checks sum over every stack of the run. */
export interface SummedCounters {
  recordsCaptured: number;
  transform: { invocations: number; failures: number };
  load: { invocations: number; failures: number; deleted: number };
  merge: { invocations: number; failures: number };
}

const zero = (): SummedCounters => ({
  recordsCaptured: 0,
  transform: { invocations: 0, failures: 0 },
  load: { invocations: 0, failures: 0, deleted: 0 },
  merge: { invocations: 0, failures: 0 },
});

const add = (sum: SummedCounters, c: StackCounters): SummedCounters => ({
  recordsCaptured: sum.recordsCaptured + (c.capture?.recordsCaptured ?? 0),
  transform: { invocations: sum.transform.invocations + (c.transform?.invocations ?? 0), failures: sum.transform.failures + (c.transform?.failures ?? 0) },
  load: {
    invocations: sum.load.invocations + (c.load?.invocations ?? 0),
    failures: sum.load.failures + (c.load?.failures ?? 0),
    deleted: sum.load.deleted + (c.load?.deleted ?? 0),
  },
  merge: { invocations: sum.merge.invocations + (c.merge?.invocations ?? 0), failures: sum.merge.failures + (c.merge?.failures ?? 0) },
});

/** Raised when the stack could not be started again after a kill: the run cannot go on. */
export class StackRestartError extends Error {
  override readonly name = 'StackRestartError';
}

/** See the module comment. */
export class ChaosStack {
  readonly kills: KillRecord[] = [];
  /** Counters of the stacks killed so far. */
  #carried = zero();
  #stack: RunningStack;
  #quarantine: AttachedQuarantine;
  #restarting: Promise<void> | undefined;
  #failed: Error | undefined;
  #epoch = 0;
  /** Between the kill and the new stack: the old stack's counters are already carried. */
  #dead = false;
  /** Harness operations that must not straddle a kill (a poison put: its sequence number is the ledger's). */
  #guarded = 0;
  #guardIdle: (() => void)[] = [];
  #fenceWaiters: (() => void)[] = [];
  readonly #listeners: ((stack: RunningStack) => void)[] = [];
  /** Points still to fire (empty without the fault). */
  readonly #due: Set<KillPoint>;
  #mergeArmed = false;
  #drainFrom: number | undefined;
  /** The source's writes in flight, for the kill record. */
  writesInFlight: () => number = () => 0;

  private constructor(
    stack: RunningStack,
    private readonly options: StartStackOptions,
    private readonly injector: FaultInjector,
    private readonly warehouse: () => Promise<Warehouse>,
    enabled: boolean,
  ) {
    this.#stack = stack;
    this.#quarantine = attachQuarantine(stack);
    this.#due = new Set(enabled ? KILL_POINTS : []);
    injector.attach(stack);
    if (enabled) injector.onMergeStep((step) => this.#mergeStep(step));
  }

  /** Starts the first stack (`options` are used again, `fresh: false`, for every restart). */
  static async start(options: StartStackOptions, injector: FaultInjector, warehouse: () => Promise<Warehouse>, killEnabled: boolean): Promise<ChaosStack> {
    const stack = await startStack(options);
    return new ChaosStack(stack, options, injector, warehouse, killEnabled);
  }

  /** The stack now (during a restart: the dead one; use `ready`). */
  get stack(): RunningStack {
    return this.#stack;
  }

  get quarantine(): AttachedQuarantine {
    return this.#quarantine;
  }

  /** Bumped by every restart: an operation that saw it change during its call may have been cut by a kill. */
  get epoch(): number {
    return this.#epoch;
  }

  /** True from the moment a kill is decided until the new stack serves. */
  get restarting(): boolean {
    return this.#restarting !== undefined;
  }

  /** The stack once no restart is in progress. */
  async ready(): Promise<RunningStack> {
    while (this.#restarting) await this.#restarting.catch(() => undefined);
    if (this.#failed) throw this.#failed;
    return this.#stack;
  }

  /** Calls `listener` with every new stack (sources swap their clients). */
  onRestart(listener: (stack: RunningStack) => void): void {
    this.#listeners.push(listener);
  }

  /** Runs `fn` against a live stack, never across a kill (a kill waits for it; it waits for a kill in progress). */
  async guard<T>(fn: (stack: RunningStack) => Promise<T>): Promise<T> {
    for (;;) {
      const stack = await this.ready();
      if (this.#restarting) continue;
      this.#guarded += 1;
      try {
        return await fn(stack);
      } finally {
        this.#guarded -= 1;
        if (this.#guarded === 0) for (const wake of this.#guardIdle.splice(0)) wake();
      }
    }
  }

  /** Counters summed over every stack of the run. */
  counters(): SummedCounters {
    return this.#dead ? this.#carried : add(this.#carried, this.#stack.counters());
  }

  /** Scripted points that did not fire. */
  get missed(): KillPoint[] {
    return [...this.#due];
  }

  // --- the schedule ------------------------------------------------------------------------------------------------

  /** After each event written: the `writes` point, and arming the `merge` point. */
  async afterWrite(written: number, events: number): Promise<void> {
    if (this.#due.has('merge') && !this.#mergeArmed && written >= Math.ceil(events * 0.65)) this.#mergeArmed = true;
    if (this.#due.has('writes') && written >= Math.ceil(events * 0.35)) {
      this.#due.delete('writes');
      await this.restart('writes', `after ${written}/${events} events`);
    }
  }

  /** Called by the drain at every probe: the `drain` point, when the transform is halfway through what was left. */
  async duringDrain(acked: number, onStream: number): Promise<void> {
    if (!this.#due.has('drain') || this.#restarting) return;
    this.#drainFrom ??= acked;
    const halfway = this.#drainFrom + Math.floor((onStream - this.#drainFrom) / 2);
    if (acked < halfway) return;
    this.#due.delete('drain');
    await this.restart('drain', `${acked}/${onStream} stream records acknowledged`);
  }

  /** No more kills (the checks run on a stack that stays up). The merge point, if it never fired, stays missed. */
  disarm(): void {
    this.#mergeArmed = false;
    this.injector.onMergeStep(undefined);
  }

  /** The `merge` point: inside the merge handler's transaction, after `applied`. */
  async #mergeStep(step: string): Promise<void> {
    if (!this.#mergeArmed || step !== 'applied' || this.#restarting) return;
    this.#mergeArmed = false;
    this.#due.delete('merge');
    const fenced = new Promise<void>((resolve) => this.#fenceWaiters.push(resolve));
    void this.restart('merge', `in a merge transaction after '${step}'`).catch(() => undefined);
    // Returns once the stack is dead: the merge's next step finds its process killed and rolls back.
    await fenced;
  }

  // --- the kill ----------------------------------------------------------------------------------------------------

  /** Kills the stack and starts it again on the same state directory (one restart at a time). */
  restart(point: KillPoint, at: string): Promise<void> {
    if (this.#restarting) return this.#restarting;
    const restarting = this.#restart(point, at).catch((error: unknown) => {
      this.#failed ??= error instanceof Error ? error : new Error(String(error));
      throw this.#failed;
    });
    this.#restarting = restarting;
    void restarting
      .finally(() => {
        this.#restarting = undefined;
      })
      .catch(() => undefined);
    return restarting;
  }

  async #restart(point: KillPoint, at: string): Promise<void> {
    // A harness put in progress lands first (its sequence number is the ledger's); none starts until the new stack.
    while (this.#guarded > 0) await new Promise<void>((resolve) => this.#guardIdle.push(resolve));
    const old = this.#stack;
    const killedAt = Date.now();
    const inFlight = this.injector.inFlight();
    const writesInFlight = this.writesInFlight();
    // The process dies here: every invocation running now is a dead one's, and its counters are final.
    this.injector.kill();
    this.#epoch += 1;
    const atKill = old.counters();
    this.#carried = add(this.#carried, atKill);
    this.#dead = true;
    for (const wake of this.#fenceWaiters.splice(0)) wake();
    // The quarantine drainer lived in that process too: cut (aborted at once), not drained.
    const drainerStopped = this.#quarantine.stop().catch(() => undefined);
    await old.kill().catch(() => undefined);
    // The capture runs in its own process: its count is final once the kill has cut it (it reports what it emitted up
    // to then, which may be more than it had reported at the kill).
    const captured = (old.counters().capture?.recordsCaptured ?? 0) - (atKill.capture?.recordsCaptured ?? 0);
    this.#carried = { ...this.#carried, recordsCaptured: this.#carried.recordsCaptured + captured };
    await drainerStopped;

    // The warehouse is the process's (the handlers share it): closed without the checkpoint a clean shutdown makes,
    // so the next open replays the WAL, as it does after a crash. Nothing of the dead stack uses it any more.
    const warehouse = await this.warehouse();
    await warehouse.close({ checkpoint: false });

    // Handlers imported for the first stack keep its queue URLs: the SQS emulator comes back on the same port.
    const sqsPort = old.endpoints.sqs ? Number(new URL(old.endpoints.sqs).port) : undefined;
    let stack: RunningStack;
    try {
      stack = await startStack({ ...this.options, fresh: false, persist: true, ...(sqsPort ? { sqsPort } : {}) });
    } catch (error) {
      throw new StackRestartError(`the stack did not start again after the '${point}' kill: ${(error as Error).message}`, { cause: error });
    }
    this.#stack = stack;
    this.#dead = false;
    this.injector.attach(stack);
    this.#quarantine = attachQuarantine(stack);
    for (const listener of this.#listeners) listener(stack);
    const recovered = stack.counters().capture?.recovered ?? { records: 0, changes: 0 };
    this.kills.push({ point, at, inFlight, writesInFlight, recovered, restartMs: Date.now() - killedAt });
  }
}
