/**
 * The stack's side of a handler process (handler-process.ts): a Lambda handler that runs in a child process, called
 * like the in-process one. The stack runs the transform this way: its decode, flatten and SQS sends are the heaviest
 * JavaScript of the pipeline, and in a child they use the second core instead of competing with the pollers, the load
 * and the merge for the stack's main thread.
 *
 * - An invocation crosses as structured clone (`serialization: 'advanced'`); its context as the fields the child
 *   needs to rebuild one. A thrown error comes back with its name and message, and is thrown here: the poller retries
 *   or bisects as it would for an in-process handler.
 * - A child that dies fails its invocations in flight with {@link HandlerProcessError} (an infrastructure error: the
 *   poller retries the batch); the next invocation starts a new child.
 * - `stop()` waits for the invocations in flight (the pollers stop first), then ends the child; `kill()` is a SIGKILL,
 *   what a kill -9 of the stack does to it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Context } from 'aws-lambda';
import { handlerChildEntry } from './child-entry';
import { childEnded } from './child-ended';
import { HANDLER_PROCESS_REF_ENV, type HandlerProcessCommand, type HandlerProcessEvent, type HandlerProcessRef } from './handler-process-protocol';
import type { LambdaHandler } from './lambda-runtime';

const START_TIMEOUT_MS = 60_000;

/** A handler process failed to start, or died with invocations in flight. */
export class HandlerProcessError extends Error {
  override readonly name = 'HandlerProcessError';
}

/** An error the handler threw in the child, with its name and message. */
class CrossedHandlerError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** A handler running in a child process. */
export interface HandlerProcess<TEvent, TResult> {
  /** Call it as the handler itself. */
  readonly handler: LambdaHandler<TEvent, TResult>;
  /** The child's process id, when one is running. */
  pid(): number | undefined;
  /** Waits for the invocations in flight, then ends the child. */
  stop(): Promise<void>;
  /** SIGKILL: invocations in flight fail. */
  kill(): Promise<void>;
}

type Waiter = { resolve: (result: unknown) => void; reject: (error: Error) => void };

/** One forked child: its replies by invocation id. */
class Child {
  readonly waiters = new Map<number, Waiter>();
  readonly exited: Promise<void>;

  constructor(readonly process: ChildProcess, what: string) {
    // The handler's stderr is the stack's (warnings and errors are logged there, as on Lambda).
    process.stderr?.on('data', (chunk: Buffer) => globalThis.process.stderr.write(chunk));
    process.on('message', (event: HandlerProcessEvent) => {
      if (event.type !== 'result' && event.type !== 'error') return;
      const waiter = this.waiters.get(event.id);
      this.waiters.delete(event.id);
      if (event.type === 'result') waiter?.resolve(event.result ?? undefined);
      else waiter?.reject(new CrossedHandlerError(event.error.name, event.error.message));
    });
    this.exited = childEnded(process).then((startError) => {
      if (startError !== undefined) this.broken = true;
    });
    void this.exited.then(() => {
      const how = process.signalCode ?? `code ${process.exitCode}`;
      for (const waiter of this.waiters.values()) waiter.reject(new HandlerProcessError(`the ${what} process exited (${how}) during an invocation`));
      this.waiters.clear();
    });
  }

  /** How the process ended: its signal or exit code. */
  describeExit(): string {
    return this.process.signalCode ?? `code ${this.process.exitCode}`;
  }

  /** Set when a write to the child failed: it is dead or dying even if its exit has not been seen yet. */
  broken = false;

  get alive(): boolean {
    return !this.broken && this.process.exitCode === null && this.process.signalCode === null && this.process.connected;
  }
}

/** Forks a child for `ref` and waits until it has imported the handler. */
async function spawnChild(ref: HandlerProcessRef, what: string): Promise<Child> {
  const entry = handlerChildEntry(ref.handlerModule);
  const child = new Child(
    fork(entry.file, [], {
      execArgv: entry.execArgv,
      env: { ...process.env, [HANDLER_PROCESS_REF_ENV]: JSON.stringify({ ...ref, handlerModule: entry.handlerModule }) },
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    }),
    what,
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new HandlerProcessError(`the ${what} process did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    child.process.on('message', (event: HandlerProcessEvent) => {
      if (event.type === 'ready') resolve();
      if (event.type === 'start-failed') reject(new HandlerProcessError(`the ${what} process could not load its handler: ${event.error.name}: ${event.error.message}`));
    });
    // Its stderr is already on the stack's (see Child); the message does not quote handler output.
    void child.exited.then(() => reject(new HandlerProcessError(`the ${what} process exited while starting (${child.describeExit()}); its output is on stderr above`)));
    void child.exited.finally(() => clearTimeout(timer));
  }).catch((error: unknown) => {
    child.process.kill('SIGKILL');
    throw error;
  });
  return child;
}

/** Starts a child running `ref`'s handler (`what` names it in errors, e.g. `transform`). */
export async function startHandlerProcess<TEvent, TResult>(ref: HandlerProcessRef, what: string): Promise<HandlerProcess<TEvent, TResult>> {
  let current: Promise<Child> = spawnChild(ref, what);
  await current;
  let nextId = 1;
  let closed = false;
  let pid: number | undefined = (await current).process.pid;
  const inFlight = new Set<Promise<unknown>>();
  // Invocations overlap (one per shard): the first to find the child dead starts the next one, the others wait for it
  // (two would leave one of them running, unstopped). A child that failed to start is tried again at the next call.
  const running = async (): Promise<Child> => {
    const seen = current;
    const child = await seen.catch(() => undefined);
    if (child?.alive) return child;
    if (closed) throw new HandlerProcessError(`the ${what} process was stopped`);
    if (current === seen) {
      current = spawnChild(ref, what);
      void current.then((next) => (pid = next.process.pid), () => undefined);
    }
    return current;
  };
  const invoke = async (event: TEvent, context: Context): Promise<TResult> => {
    const child = await running();
    const id = nextId++;
    const command: HandlerProcessCommand = {
      type: 'invoke',
      id,
      event,
      context: {
        functionName: context.functionName,
        functionArn: context.invokedFunctionArn,
        awsRequestId: context.awsRequestId,
        memoryMb: Number(context.memoryLimitInMB),
        deadlineMs: Date.now() + context.getRemainingTimeInMillis(),
      },
    };
    return new Promise<TResult>((resolve, reject) => {
      child.waiters.set(id, { resolve: (result) => resolve(result as TResult), reject });
      // The child may die between the liveness check and this write (a crash, a kill -9): the write then fails
      // (EPIPE), which without a callback is an 'error' event that nothing handles and that takes the stack down.
      child.process.send(command, (error) => {
        if (!error || !child.waiters.delete(id)) return;
        // The next invocation starts a new child; this one is killed in case it is only unreachable.
        child.broken = true;
        child.process.kill('SIGKILL');
        reject(new HandlerProcessError(`the ${what} process could not take the invocation (${error.message})`));
      });
    });
  };
  // In flight from the call on, before any await: a stop() that comes while the child is looked up waits for it too.
  const handler = (event: TEvent, context: Context): Promise<TResult> => {
    const reply = invoke(event, context);
    inFlight.add(reply);
    return reply.finally(() => inFlight.delete(reply));
  };
  return {
    handler,
    pid: () => pid,
    async stop() {
      closed = true;
      const child = await current.catch(() => undefined);
      if (!child) return;
      await Promise.allSettled([...inFlight]);
      if (child.process.connected) child.process.disconnect();
      await child.exited;
    },
    async kill() {
      closed = true;
      const child = await current.catch(() => undefined);
      if (!child) return;
      child.process.kill('SIGKILL');
      await child.exited;
    },
  };
}
