/**
 * What the pollers need to call a handler the way Lambda does: the handler type, a real-shaped Context,
 * and an error summary that never carries payload contents.
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/** A Lambda handler as the local pollers invoke it (async style; middy-wrapped handlers fit). */
export type LambdaHandler<TEvent, TResult> = (event: TEvent, context: Context) => Promise<TResult>;

/** Identity of a function as Lambda would report it. */
export interface FunctionIdentity {
  functionName: string;
  functionArn: string;
  memoryMb?: number;
  /** The function timeout used for getRemainingTimeInMillis (not enforced: a local handler cannot be preempted). */
  timeoutMs?: number;
}

/**
 * A fresh Context for one invocation; `given` rebuilds one that crossed a process boundary (handler-process.ts) with
 * its request id and deadline.
 */
export function createLambdaContext(fn: FunctionIdentity, given: { awsRequestId?: string; deadlineMs?: number } = {}): Context {
  const deadline = given.deadlineMs ?? Date.now() + (fn.timeoutMs ?? 60_000);
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: fn.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: fn.functionArn,
    memoryLimitInMB: String(fn.memoryMb ?? 1024),
    awsRequestId: given.awsRequestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${fn.functionName}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * "Name: message" of an error, cut short. Handlers must not put PHI in error messages (team standard); this keeps
 * accidental payload dumps in a message from growing a status line without bound.
 */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 300);
  return `non-Error thrown (${typeof error})`;
}

/** Counters every poller exposes. */
export interface PollerCounters {
  /** Handler invocations. */
  invocations: number;
  /** Records delivered to the handler, retries included. */
  records: number;
  /** Invocations that threw or reported at least one failed item. */
  failures: number;
  /** Items reported in batchItemFailures. */
  batchItemFailures: number;
  /** The last failure (error name and message, or a description), without record contents. */
  lastError?: string;
}

/**
 * The abort controller of a poller. Every shard loop or queue loop of the poller listens on its signal at once (a
 * GetRecords or ReceiveMessage in flight, a sleep, parallel receives): with four shards or five receive loops that is
 * more than Node's default of 10 listeners, by design and bounded by the loops, so the leak warning is turned off for
 * this one signal.
 */
export function pollerAbortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** A sleep that an AbortSignal cuts short (resolves, never rejects: stopping is not an error). */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> => delay(ms, undefined, { signal }).catch(() => undefined);

/** What a poller's stop and kill act on: the signal its loops watch, and the mark that its outcomes are lost. */
export interface PollerRun {
  readonly abort: AbortController;
  killed: boolean;
}

/**
 * The `stop` (the loops end after the invocation in progress) and `kill` (as a crash: an outcome still in flight is
 * lost, so nothing of it is checkpointed or deleted) of a poller whose loops are `loops`.
 */
export function pollerStopAndKill(run: PollerRun, loops: readonly Promise<void>[]): { stop(): Promise<void>; kill(): Promise<void> } {
  return {
    async stop() {
      run.abort.abort();
      await Promise.all(loops);
    },
    async kill() {
      run.killed = true;
      run.abort.abort();
      await Promise.all(loops);
    },
  };
}
