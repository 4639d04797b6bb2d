/**
 * Fault injectors around the REAL handlers. The stack invokes these wrappers exactly as Lambda would invoke the
 * functions; each wrapper calls the real handler (the transform the stack runs in its own process, the load and merge
 * modules imported here once the stack has set the environment they read at load) and misbehaves the way AWS
 * documents that delivery can misbehave.
 *
 * Injected failures per input are capped (a Kinesis record at 2, an SQS message only while its receive count is at
 * most 2), so the retries the deployed settings allow (10 for the stream, 5 receives for the load queue) are never
 * exhausted by the harness itself: a record that still ends in the on-failure queue or the DLQ is a real failure.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { MERGE_RUN_COLUMN, Prng, TABLES } from '@claims-cdc/shared';
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import type { HandlerWrappers, KinesisHandler, RunningStack, ScheduledHandler, SqsHandler, StackConfig, StackHandlers } from '../stack';
import type { Fault } from './options';

/** An injected failure. Its message says what was simulated, never what the input held. */
export class ChaosFault extends Error {
  override readonly name = 'ChaosFault';
}

/**
 * The process an invocation ran in was killed (`stack-kill`): whatever it still does is a dead process's and must not
 * be seen — no acknowledgement, no new warehouse statement, an open merge transaction rolled back.
 */
export class ChaosKilledError extends Error {
  override readonly name = 'ChaosKilledError';
}

/** A merge step the `stack-kill` fault may kill the stack at (the real merges only; see ChaosStack). */
export type MergeKillHook = (step: string) => Promise<void>;

/** A handler module's export, imported in this process (after the stack set the environment it reads at load). */
async function importHandler(ref: { handlerModule: string; handlerExport: string }): Promise<(...a: unknown[]) => Promise<unknown>> {
  const module = (await import(ref.handlerModule)) as Record<string, unknown>;
  const handler = module[ref.handlerExport] ?? (module.default as Record<string, unknown> | undefined)?.[ref.handlerExport];
  if (typeof handler !== 'function') throw new Error(`${ref.handlerModule} does not export ${ref.handlerExport}`);
  return handler as (...a: unknown[]) => Promise<unknown>;
}

/** How often each fault fires, per invocation of the function it targets. */
const RATES = {
  transformPartial: 0.15,
  kinesisDup: 0.15,
  reorderDelay: 0.1,
  sqsDupInvoke: 0.1,
  sqsResend: 0.1,
  loadCrash: 0.1,
  mergeCrash: 0.25,
  mergeConcurrent: 0.2,
} as const;

const MAX_INJECTED_PER_RECORD = 2;
const MAX_RECEIVE_COUNT_FOR_FAULTS = 2;
const MERGE_STEPS = ['claimed', 'planned', 'applied', 'deleted'] as const;

/** What the injectors did (and what the merge-crash rollback checks saw). */
export interface FaultCounts {
  transformPartial: number;
  transformPartialRecords: number;
  kinesisDupReinvoked: number;
  kinesisDupCrashed: number;
  sqsShuffledBatches: number;
  sqsDelayedBatches: number;
  sqsDelayedMessages: number;
  sqsDupInvoked: number;
  sqsResent: number;
  loadCrashes: number;
  mergeCrashes: number;
  mergeCrashesRolledBack: number;
  mergeCrashSteps: Record<string, number>;
  mergeConcurrent: number;
  /**
   * Wall time during which at least one call was in progress (overlapping calls count once), ms: each real handler,
   * and the warehouse's stage and merge as the handlers call them (lock waits inside the warehouse included).
   */
  busyMs: { transform: number; load: number; merge: number; warehouseStage: number; warehouseMerge: number };
}

/** Failed rollback checks, described without data. */
export interface RollbackProblem {
  step: string;
  problem: string;
}

type Loaded = { transform: KinesisHandler; load: SqsHandler; merge: ScheduledHandler };

/** See the module comment. */
export class FaultInjector {
  readonly counts: FaultCounts = {
    transformPartial: 0,
    transformPartialRecords: 0,
    kinesisDupReinvoked: 0,
    kinesisDupCrashed: 0,
    sqsShuffledBatches: 0,
    sqsDelayedBatches: 0,
    sqsDelayedMessages: 0,
    sqsDupInvoked: 0,
    sqsResent: 0,
    loadCrashes: 0,
    mergeCrashes: 0,
    mergeCrashesRolledBack: 0,
    mergeCrashSteps: {},
    mergeConcurrent: 0,
    busyMs: { transform: 0, load: 0, merge: 0, warehouseStage: 0, warehouseMerge: 0 },
  };
  readonly rollbackProblems: RollbackProblem[] = [];
  /** Stream records (eventID `shard:sequence`) the transform has acknowledged, i.e. the poller checkpointed past. */
  readonly acked = new Set<string>();

  readonly #rng: Prng;
  readonly #injected = new Map<string, number>();
  /** Injection points that have fired at least once. */
  readonly #fired = new Set<string>();
  readonly #occupancy = new Map<keyof FaultCounts['busyMs'], { active: number; since: number }>();
  readonly #reals = new Map<keyof Loaded, Promise<unknown>>();
  #stack: RunningStack | undefined;
  #warehouse: Promise<Warehouse> | undefined;
  #deliver: ((data: Buffer, partitionKey: string) => Buffer) | undefined;
  /** Which stack (process, as far as the handlers are concerned) is alive; bumped by `kill`. */
  #epoch = 0;
  /** The epoch each invocation started in, visible to the warehouse calls it makes. */
  readonly #invocation = new AsyncLocalStorage<number>();
  #mergeKill: MergeKillHook | undefined;

  constructor(
    readonly faults: ReadonlySet<Fault>,
    seed: number,
    private readonly config: StackConfig,
  ) {
    // Which batch a fault hits depends on timing; how often it fires depends on this seed.
    this.#rng = new Prng((seed * 7919 + 17) >>> 0);
  }

  /** Gives the injectors the running stack (for re-sending duplicates to the load queue). */
  attach(stack: RunningStack): void {
    this.#stack = stack;
  }

  /**
   * Hands every stream record to the transform as `deliver` makes it (`precision-switch` in DynamoDB-source runs:
   * the capture writes microseconds only). `deliver` must be a function of the record alone, so every redelivery
   * carries the same bytes.
   */
  deliverRecordsAs(deliver: (data: Buffer, partitionKey: string) => Buffer): void {
    this.#deliver = deliver;
  }

  /**
   * The transform's wrapper, to pass to startStack as `around`: it wraps the real transform the stack runs in its own
   * process, so a stack started again after a `stack-kill` hands in its new one (forked with that stack's endpoints).
   */
  around(): Pick<HandlerWrappers, 'transform'> {
    return {
      transform: (real) => {
        this.#reals.set('transform', Promise.resolve(this.#timed('transform', real)));
        return (e, c) => this.#invoke(() => this.#transform(e, c));
      },
    };
  }

  /**
   * The load and merge wrappers, to pass to startStack as `handlers`: they import the real modules in this process
   * once (after the first stack set the environment they read at load) and keep them across `stack-kill` restarts:
   * what they reach stays where it was (a restarted stack reuses the SQS port; the warehouse is this process's).
   */
  handlers(): Pick<StackHandlers, 'load' | 'merge'> {
    return {
      load: (e, c) => this.#invoke(() => this.#load(e, c)),
      merge: (e, c) => this.#invoke(() => this.#merge(e, c)),
    };
  }

  /**
   * The stack was killed (`stack-kill`): every invocation running now belongs to a dead process. None of them
   * acknowledges anything or starts a warehouse statement from now on, and an open merge rolls back at its next step.
   */
  kill(): void {
    this.#epoch += 1;
  }

  /** Invocations in progress per stage (what a kill cuts). */
  inFlight(): { transform: number; load: number; merge: number } {
    const n = (key: keyof FaultCounts['busyMs']) => this.#occupancy.get(key)?.active ?? 0;
    return { transform: n('transform'), load: n('load'), merge: n('merge') };
  }

  /** Called at every step of every merge the merge handler runs (not the merge-crash fault's own merges). */
  onMergeStep(hook: MergeKillHook | undefined): void {
    this.#mergeKill = hook;
  }

  /** Throws when the calling invocation's stack has been killed. */
  #alive(): void {
    const epoch = this.#invocation.getStore();
    if (epoch !== undefined && epoch !== this.#epoch) throw new ChaosKilledError('the stack this invocation ran in was killed');
  }

  #invoke<R>(fn: () => Promise<R>): Promise<R> {
    const epoch = this.#epoch;
    return this.#invocation.run(epoch, async () => {
      const result = await fn();
      this.#alive();
      return result;
    });
  }

  /**
   * Whether `fault` fires now. Each injection point (`key`) fires at its first opportunity, then at `rate`: a short
   * run still exercises every fault it names.
   */
  #on(fault: Fault, rate: number, key: string = fault): boolean {
    if (!this.faults.has(fault)) return false;
    if (!this.#fired.has(key)) {
      this.#fired.add(key);
      return true;
    }
    return this.#rng.next() < rate;
  }

  /** The real handler of `stage`, timed: the transform as the running stack handed it in, the others imported once. */
  async #real<K extends keyof Loaded>(stage: K): Promise<Loaded[K]> {
    let real = this.#reals.get(stage);
    if (!real && stage !== 'transform') {
      real = importHandler(this.config[stage]).then((handler) => this.#timed(stage, handler));
      this.#reals.set(stage, real);
    }
    if (!real) throw new Error(`the stack has not handed in its ${stage} handler`);
    return (await real) as Loaded[K];
  }

  /**
   * The process's warehouse, the same instance the load and merge handlers use. Its stage and merge are timed (the
   * instance's own methods are wrapped; behaviour is unchanged) so a run can show where the time goes.
   */
  warehouse(): Promise<Warehouse> {
    return (this.#warehouse ??= import('@claims-cdc/shared/warehouse/from-env').then((m) => {
      const warehouse = m.warehouseFromEnv();
      const stage = warehouse.stage.bind(warehouse);
      const merge = warehouse.merge.bind(warehouse);
      // A dead stack's invocation starts no statement; its open merge rolls back at the next step.
      warehouse.stage = this.#timed('warehouseStage', (...args: Parameters<Warehouse['stage']>) => {
        this.#alive();
        return stage(...args);
      });
      warehouse.merge = this.#timed('warehouseMerge', (hook?: Parameters<Warehouse['merge']>[0], options?: Parameters<Warehouse['merge']>[1]) => {
        this.#alive();
        return merge(async (step) => {
          this.#alive();
          if (!hook && this.#mergeKill) await this.#mergeKill(step);
          this.#alive();
          await hook?.(step);
        }, options);
      });
      return warehouse;
    }));
  }

  #timed<A extends unknown[], R>(key: keyof FaultCounts['busyMs'], fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args: A) => {
      const slot = this.#occupancy.get(key) ?? { active: 0, since: 0 };
      this.#occupancy.set(key, slot);
      if (slot.active++ === 0) slot.since = performance.now();
      try {
        return await fn(...args);
      } finally {
        if (--slot.active === 0) this.counts.busyMs[key] += performance.now() - slot.since;
      }
    };
  }

  // --- transform -------------------------------------------------------------------------------------------------

  async #transform(received: KinesisStreamEvent, context: Parameters<KinesisHandler>[1]): Promise<KinesisStreamBatchResponse> {
    const real = await this.#real('transform');
    const deliver = this.#deliver;
    const event: KinesisStreamEvent = deliver
      ? {
          Records: received.Records.map((r) => ({
            ...r,
            kinesis: { ...r.kinesis, data: deliver(Buffer.from(r.kinesis.data, 'base64'), r.kinesis.partitionKey).toString('base64') },
          })),
        }
      : received;
    const records = event.Records;
    const eligible = records.every((r) => (this.#injected.get(r.eventID) ?? 0) < MAX_INJECTED_PER_RECORD);
    const mark = (list: typeof records) => list.forEach((r) => this.#injected.set(r.eventID, (this.#injected.get(r.eventID) ?? 0) + 1));

    if (eligible && records.length >= 2 && this.#on('transform-partial', RATES.transformPartial)) {
      // The invocation dies part-way: the first k records were handled, the rest were not and are reported failed,
      // so the poller checkpoints before the first of them and retries from there.
      const k = this.#rng.int(1, records.length - 1);
      const rest = records.slice(k);
      mark(rest);
      this.counts.transformPartial += 1;
      this.counts.transformPartialRecords += rest.length;
      const head = (await real({ Records: records.slice(0, k) }, context)) ?? { batchItemFailures: [] };
      const reply = { batchItemFailures: [...head.batchItemFailures, ...rest.map((r) => ({ itemIdentifier: r.kinesis.sequenceNumber }))] };
      return this.#ack(event, reply);
    }
    if (eligible && this.#on('kinesis-dup', RATES.kinesisDup)) {
      mark(records);
      await real(event, context);
      const crash = !this.#fired.has('kinesis-dup:crash') || (this.#fired.has('kinesis-dup:again') && this.#rng.next() < 0.5);
      this.#fired.add(crash ? 'kinesis-dup:crash' : 'kinesis-dup:again');
      if (crash) {
        // Crashed after its work, before the checkpoint: the poller delivers every record again (bisecting).
        this.counts.kinesisDupCrashed += 1;
        throw new ChaosFault('transform crashed after its work, before the checkpoint');
      }
      // The same batch delivered twice in a row (a retried invoke whose first attempt had in fact succeeded).
      this.counts.kinesisDupReinvoked += 1;
      return this.#ack(event, (await real(event, context)) ?? { batchItemFailures: [] });
    }
    return this.#ack(event, (await real(event, context)) ?? { batchItemFailures: [] });
  }

  /** Records what the poller will checkpoint for this reply: everything before the first failed record. */
  #ack(event: KinesisStreamEvent, reply: KinesisStreamBatchResponse): KinesisStreamBatchResponse {
    this.#alive();
    const records = event.Records;
    let upTo = records.length;
    for (const failure of reply.batchItemFailures) {
      const index = records.findIndex((r) => r.kinesis.sequenceNumber === failure.itemIdentifier);
      if (index < 0) return reply; // The poller fails the whole batch.
      upTo = Math.min(upTo, index);
    }
    for (const record of records.slice(0, upTo)) this.acked.add(record.eventID);
    return reply;
  }

  // --- load ------------------------------------------------------------------------------------------------------

  async #load(event: SQSEvent, context: Parameters<SqsHandler>[1]): Promise<SQSBatchResponse> {
    const real = await this.#real('load');
    let records = event.Records;
    if (this.faults.has('reorder') && records.length > 1) {
      records = this.#shuffle(records);
      this.counts.sqsShuffledBatches += 1;
    }
    const shuffled: SQSEvent = { Records: records };
    const eligible = records.every((r) => Number(r.attributes.ApproximateReceiveCount ?? '1') <= MAX_RECEIVE_COUNT_FOR_FAULTS);
    const call = async () => (await real(shuffled, context)) ?? { batchItemFailures: [] };
    if (!eligible) return call();

    if (this.#on('reorder', RATES.reorderDelay)) {
      // Held back: failed without processing, it comes back after the visibility timeout, behind newer changes
      // that have been staged and merged meanwhile.
      this.counts.sqsDelayedBatches += 1;
      this.counts.sqsDelayedMessages += records.length;
      return { batchItemFailures: records.map((r) => ({ itemIdentifier: r.messageId })) };
    }
    if (this.#on('sqs-dup', RATES.sqsDupInvoke, 'sqs-dup:invoke')) {
      // At-least-once: the same messages delivered twice.
      this.counts.sqsDupInvoked += 1;
      await call();
      return call();
    }
    if (this.#stack && this.#on('sqs-dup', RATES.sqsResend, 'sqs-dup:resend')) {
      // A producer retry: one body sent again as a new message (new message id, same rows).
      const victim = records[this.#rng.int(0, records.length - 1)]!;
      try {
        this.#alive();
        await this.#stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: this.#stack.resources.queues.load.url, MessageBody: victim.body }));
      } catch (error) {
        // Cut by a stack kill before it was sent: it still owes its first firing.
        if (this.counts.sqsResent === 0) this.#fired.delete('sqs-dup:resend');
        throw error;
      }
      this.counts.sqsResent += 1;
      return call();
    }
    if (this.#on('load-crash', RATES.loadCrash)) {
      try {
        await call();
        this.#alive();
      } catch (error) {
        if (this.counts.loadCrashes === 0) this.#fired.delete('load-crash');
        throw error;
      }
      this.counts.loadCrashes += 1;
      throw new ChaosFault('load crashed after its warehouse commit, before acknowledging');
    }
    return call();
  }

  #shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i -= 1) {
      const j = this.#rng.int(0, i);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }

  // --- merge -----------------------------------------------------------------------------------------------------

  async #merge(event: Parameters<ScheduledHandler>[0], context: Parameters<ScheduledHandler>[1]): Promise<unknown> {
    const real = await this.#real('merge');
    if (this.#on('merge-crash', RATES.mergeCrash)) {
      let crashed: string | undefined;
      try {
        crashed = await this.#crashMerge();
      } finally {
        // Nothing was staged (nothing could crash), or the stack was killed mid-crash (not counted): the run still
        // owes its first crash. Without this a run cut by stack-kill could end with merge-crash never counted.
        if (crashed === undefined && this.counts.mergeCrashes === 0) this.#fired.delete('merge-crash');
      }
      if (crashed) throw new ChaosFault(`merge crashed after its '${crashed}' step`);
    }
    if (this.#on('merge-concurrent', RATES.mergeConcurrent)) {
      this.counts.mergeConcurrent += 1;
      const [first] = await Promise.all([real(event, context), real(event, context)]);
      return first;
    }
    return real(event, context);
  }

  /**
   * Runs the process's warehouse merge with a hook that throws after a random step, and checks the transaction
   * rolled back: destination and tombstones unchanged, no staged row left claimed, no staged row lost. Merges only
   * run through this wrapper (the schedule never overlaps itself), so nothing else can change the destination
   * between the two fingerprints. Returns the step it crashed at, or undefined when there was nothing to merge.
   */
  async #crashMerge(): Promise<string | undefined> {
    const warehouse = await this.warehouse();
    const step = this.#rng.pick(MERGE_STEPS);
    const before = await fingerprint(warehouse);
    let fired = false;
    try {
      await warehouse.merge((at) => {
        if (at === step) {
          fired = true;
          throw new ChaosFault(`merge crashed after its '${step}' step`);
        }
      });
    } catch (error) {
      if (!(error instanceof ChaosFault)) throw error;
    }
    if (!fired) return undefined;
    // Killed meanwhile (stack-kill): the dead process's merge rolled back with it; nothing to count or compare.
    this.#alive();
    const after = await fingerprint(warehouse);
    this.#alive();
    this.counts.mergeCrashes += 1;
    this.counts.mergeCrashSteps[step] = (this.counts.mergeCrashSteps[step] ?? 0) + 1;
    const problems: string[] = [];
    if (after.destination !== before.destination) problems.push('destination changed');
    if (after.tombstones !== before.tombstones) problems.push('tombstones changed');
    if (after.claimed !== 0) problems.push(`${after.claimed} staged row(s) left claimed by the dead run`);
    if (after.staged < before.staged) problems.push(`${before.staged - after.staged} staged row(s) lost`);
    if (problems.length === 0) this.counts.mergeCrashesRolledBack += 1;
    else this.rollbackProblems.push({ step, problem: problems.join('; ') });
    return step;
  }
}

/** Order-independent fingerprints of the merge's outputs, and staging counts. */
async function fingerprint(warehouse: Warehouse): Promise<{ destination: string; tombstones: string; claimed: number; staged: number }> {
  const sum = (table: string) => `(SELECT CAST(COUNT(*) AS VARCHAR) || ':' || CAST(COALESCE(SUM(hash(claimId || '|' || eventId)), 0) AS VARCHAR) FROM ${table})`;
  const [row] = await warehouse.query(
    `SELECT ${sum(TABLES.destination)} AS destination, ${sum(TABLES.tombstones)} AS tombstones, ` +
      `(SELECT COUNT(*) FROM ${TABLES.staging} WHERE ${MERGE_RUN_COLUMN} IS NOT NULL) AS claimed, (SELECT COUNT(*) FROM ${TABLES.staging}) AS staged`,
  );
  return { destination: String(row?.destination), tombstones: String(row?.tombstones), claimed: Number(row?.claimed), staged: Number(row?.staged) };
}
