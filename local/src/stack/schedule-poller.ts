/**
 * The EventBridge rate rule that drives the merge, locally: one loop that invokes the handler every interval, start to
 * start, as a rate rule fires (waiting the whole interval after each run would add the merge's own duration to every
 * row's delay). Being the only caller, it never runs two invocations at once. One local rule: after a run that took
 * more than half the interval, the pause is as long as the run (at most the interval), so the merge holds the stack's
 * one warehouse writer at most half the time. Back to back, 1 s merges of a large destination starved the load: the
 * 1M-event chaos run went from 843 to 666 events/s. `trigger()` asks for an extra run without breaking these rules.
 */
import { randomUUID } from 'node:crypto';
import type { ScheduledEvent } from 'aws-lambda';
import { createLambdaContext, describeError, sleep, type FunctionIdentity, type LambdaHandler, type PollerCounters } from './lambda-runtime';

/** The merge handler's contract. */
export type ScheduledHandler<TResult = unknown> = LambdaHandler<ScheduledEvent, TResult>;

export interface SchedulePollerOptions<TResult> {
  handler: ScheduledHandler<TResult>;
  function: FunctionIdentity;
  intervalMs: number;
  region: string;
  accountId: string;
  ruleArn: string;
  /** Invoke once immediately (default) or wait one interval first. */
  runImmediately?: boolean;
  /** The time the schedule keeps (default: the real one); a test gives a virtual one to check the pauses exactly. */
  clock?: ScheduleClock;
}

/** How the schedule reads the time and waits. */
export interface ScheduleClock {
  now(): number;
  /** Waits `ms`, or less once `signal` aborts; never rejects. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

const REAL_CLOCK: ScheduleClock = { now: () => performance.now(), sleep };

/** Counters of the schedule. */
export interface SchedulePollerCounters<TResult> extends PollerCounters {
  /** Whether an invocation is running right now. */
  running: boolean;
  /** The last successful result (the merge returns counts, never rows). */
  lastResult?: TResult;
}

/** A running schedule. */
export interface SchedulePoller<TResult> {
  counters(): SchedulePollerCounters<TResult>;
  /** Runs the handler as soon as the current run (if any) ends; resolves with that run's result or rejects with its error. */
  trigger(): Promise<TResult>;
  /** Lets a running invocation finish, then stops. */
  stop(): Promise<void>;
  /** Stops as a killed process would: no further run; resolves when the run in progress (if any) has returned. */
  kill(): Promise<void>;
}

/**
 * The pause after a run that took `tookMs`: the rest of the interval (start to start), but never less than the run
 * itself up to one interval, so runs fill at most half the time.
 */
export const pauseAfter = (tookMs: number, intervalMs: number): number => Math.max(intervalMs - tookMs, Math.min(tookMs, intervalMs));

/** Starts the schedule. */
export function startSchedulePoller<TResult>(options: SchedulePollerOptions<TResult>): SchedulePoller<TResult> {
  const abort = new AbortController();
  let wake = new AbortController();
  const counters: SchedulePollerCounters<TResult> = { invocations: 0, records: 0, failures: 0, batchItemFailures: 0, running: false };
  let waiters: { resolve: (r: TResult) => void; reject: (e: unknown) => void }[] = [];

  async function runOnce(): Promise<void> {
    const mine = waiters;
    waiters = [];
    const event: ScheduledEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: options.accountId,
      time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: options.region,
      resources: [options.ruleArn],
      detail: {},
    };
    counters.running = true;
    counters.invocations += 1;
    try {
      const result = await options.handler(event, createLambdaContext(options.function));
      counters.lastResult = result;
      for (const w of mine) w.resolve(result);
    } catch (error) {
      counters.failures += 1;
      counters.lastError = describeError(error);
      for (const w of mine) w.reject(error);
    } finally {
      counters.running = false;
    }
  }

  const clock = options.clock ?? REAL_CLOCK;
  const loop = (async () => {
    if (options.runImmediately === false) await clock.sleep(options.intervalMs, AbortSignal.any([abort.signal, wake.signal]));
    while (!abort.signal.aborted) {
      const started = clock.now();
      await runOnce();
      if (waiters.length === 0) {
        wake = new AbortController();
        await clock.sleep(pauseAfter(clock.now() - started, options.intervalMs), AbortSignal.any([abort.signal, wake.signal]));
      }
    }
    for (const w of waiters.splice(0)) w.reject(new Error('schedule stopped before the requested run'));
  })();

  return {
    counters: () => ({ ...counters }),
    trigger() {
      if (abort.signal.aborted) return Promise.reject(new Error('schedule is stopped'));
      return new Promise<TResult>((resolve, reject) => {
        waiters.push({ resolve, reject });
        wake.abort();
      });
    },
    async stop() {
      abort.abort();
      await loop;
    },
    async kill() {
      abort.abort();
      for (const w of waiters.splice(0)) w.reject(new Error('the stack was killed before the requested run'));
      await loop;
    },
  };
}
