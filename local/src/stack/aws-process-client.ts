/**
 * The parent's side of the stack's AWS processes (aws-process.ts): dynalite in one child process, kinesalite and the
 * DynamoDB → Kinesis capture in another, so that they use the second core instead of competing with the pollers and
 * handlers for the stack's main thread (and DynamoDB's work and the capture's do not share one thread either).
 *
 * - `stats()` is the capture's last reported counters (pushed every 100 ms, and with every reply).
 * - `stop()` lets the capture deliver what it holds, then closes the stores; `kill()` is a SIGKILL of both (what a
 *   kill -9 of the stack does to them: the LevelDB logs and the capture journal keep every acknowledged write).
 * - A process that dies on its own is restarted on the same state directory and the same ports (its clients'
 *   endpoints stay valid; the journal replays what was between DynamoDB and Kinesis). When it cannot be restarted,
 *   `onFailure` is called: the stack must go down, never run on without its capture.
 *
 * Where the entry file is: see child-entry.ts (beside this module, under tsx from source or compiled from local/dist;
 * from local/dist also for a stack run from source when the tests ask for it).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { childEntry } from './child-entry';
import { childEnded } from './child-ended';
import type { CaptureStats } from './ddb-kinesis-capture';
import { AWS_PROCESS_OPTIONS_ENV, type AwsProcessCommand, type AwsProcessEvent, type AwsProcessOptions } from './aws-process-protocol';

/** The running AWS processes, as the stack sees them. */
export interface AwsProcess {
  readonly endpoints: { dynamodb: string; dynamodbUncaptured: string; kinesis: string; kinesisHttp1: string };
  /** Process ids now (they change when a process is restarted). */
  pids(): { dynamodb: number; stream: number };
  /** The capture's counters, as last reported. */
  stats(): CaptureStats;
  /** Resolves when every change accepted so far is on the stream. */
  flush(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Kills both processes (SIGKILL) as a kill -9 of the stack would; the capture is first cut (see AwsProcessCommand
   * `kill`) so that `stats()` afterwards counts every record it captured. Resolves once both have exited.
   */
  kill(): Promise<void>;
}

/** Raised when the AWS process does not start, or dies and cannot be restarted. */
export class AwsProcessError extends Error {
  override readonly name = 'AwsProcessError';
}

/** What `startAwsProcess` needs. */
export interface StartAwsProcessOptions {
  region: string;
  /** Table name → stream name, as the capture's `destinations`. */
  destinations: Record<string, string>;
  /** State directory: the emulators' stores and the capture journal; absent: all in memory. */
  dataDir?: string;
  startTimeoutMs?: number;
  /** Restarts allowed after unexpected exits (default 3). */
  maxRestarts?: number;
  /** Called when the process died and could not be restarted. */
  onFailure?: (error: AwsProcessError) => void;
}

/** One child: started, answering commands, exited. */
class Child {
  private nextId = 1;
  private readonly replies = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  readonly exited: Promise<void>;
  stderr = '';
  stats: CaptureStats | undefined;

  constructor(readonly process: ChildProcess) {
    process.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4_000);
    });
    this.exited = childEnded(process).then((startError) => {
      this.failed = startError;
    });
    process.on('message', (event: AwsProcessEvent) => {
      if ((event.type === 'stats' || event.type === 'reply' || event.type === 'ready') && event.stats) this.stats = event.stats;
      if (event.type !== 'reply') return;
      const waiter = this.replies.get(event.id);
      this.replies.delete(event.id);
      if (event.error) waiter?.reject(new AwsProcessError(event.error));
      else waiter?.resolve();
    });
    void this.exited.then(() => {
      for (const waiter of this.replies.values()) waiter.reject(new AwsProcessError(`the AWS process exited (${this.describeExit()})`));
      this.replies.clear();
    });
  }

  /** Why the process could not be started, when it could not. */
  failed: string | undefined;

  get alive(): boolean {
    return this.failed === undefined && this.process.exitCode === null && this.process.signalCode === null;
  }

  describeExit(): string {
    const how = this.failed ?? this.process.signalCode ?? `code ${this.process.exitCode}`;
    return this.stderr.trim() ? `${how}: ${this.stderr.trim()}` : how;
  }

  command(type: AwsProcessCommand['type']): Promise<void> {
    if (!this.alive || !this.process.connected) return Promise.reject(new AwsProcessError(`the AWS process is not running (${this.describeExit()})`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.replies.set(id, { resolve, reject });
      // A write to a process that has just died fails (EPIPE): an unhandled 'error' event without this callback.
      this.process.send({ type, id } satisfies AwsProcessCommand, (error) => {
        if (!error || !this.replies.delete(id)) return;
        reject(new AwsProcessError(`the AWS process could not take the ${type} command (${error.message})`));
      });
    });
  }
}

type Ready = Extract<AwsProcessEvent, { type: 'ready' }>;

/** Forks one AWS process and waits for it to listen. */
async function spawnChild(options: AwsProcessOptions, timeoutMs: number): Promise<{ child: Child; ready: Ready }> {
  const entry = childEntry('aws-process');
  const child = new Child(
    fork(entry.file, [], {
      execArgv: entry.execArgv,
      env: { ...process.env, NODE_NO_WARNINGS: '1', [AWS_PROCESS_OPTIONS_ENV]: JSON.stringify(options) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    }),
  );
  const what = `the ${options.role} process`;
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.process.kill('SIGKILL');
      reject(new AwsProcessError(`${what} did not start within ${timeoutMs} ms: ${child.stderr.trim()}`));
    }, timeoutMs);
    child.process.on('message', (event: AwsProcessEvent) => {
      if (event.type === 'ready') {
        clearTimeout(timer);
        resolve(event);
      } else if (event.type === 'failed') {
        clearTimeout(timer);
        reject(new AwsProcessError(`${what} did not start: ${event.error}`));
      }
    });
    void child.exited.then(() => {
      clearTimeout(timer);
      reject(new AwsProcessError(`${what} exited while starting (${child.describeExit()})`));
    });
  });
  return { child, ready };
}

/** One AWS process, restarted on its ports when it dies on its own. */
class Supervised {
  private ending = false;
  private restarts = 0;

  private constructor(
    private child: Child,
    readonly ready: Ready,
    private readonly again: AwsProcessOptions,
    private readonly timeoutMs: number,
    private readonly maxRestarts: number,
    private readonly onFailure: ((error: AwsProcessError) => void) | undefined,
  ) {
    this.watch(child);
  }

  static async start(options: AwsProcessOptions, settings: Pick<StartAwsProcessOptions, 'maxRestarts' | 'onFailure'> & { timeoutMs: number }): Promise<Supervised> {
    const { child, ready } = await spawnChild(options, settings.timeoutMs);
    // The same ports and state directory again: clients keep their endpoints, the journal and stores resume.
    return new Supervised(child, ready, { ...options, ports: ready.ports }, settings.timeoutMs, settings.maxRestarts ?? 3, settings.onFailure);
  }

  get current(): Child {
    return this.child;
  }

  private watch(current: Child): void {
    void current.exited.then(async () => {
      if (this.ending || current !== this.child) return;
      const reason = `the ${this.again.role} process died (${current.describeExit()})`;
      if (this.restarts >= this.maxRestarts) return void this.onFailure?.(new AwsProcessError(`${reason}; it was restarted ${this.restarts} times already`));
      this.restarts += 1;
      try {
        const next = await spawnChild(this.again, this.timeoutMs);
        if (this.ending) return void next.child.process.kill('SIGKILL');
        this.child = next.child;
        this.watch(next.child);
      } catch (error) {
        this.onFailure?.(new AwsProcessError(`${reason} and could not be restarted: ${(error as Error).message}`));
      }
    });
  }

  async stop(): Promise<void> {
    this.ending = true;
    const current = this.child;
    if (!current.alive) return;
    const killer = setTimeout(() => current.process.kill('SIGKILL'), 30_000);
    try {
      await current.command('stop');
    } finally {
      if (current.process.connected) current.process.disconnect();
      await current.exited;
      clearTimeout(killer);
    }
  }

  /**
   * SIGKILL. With `settleFirst`, the process is first asked to die as far as it can on its own (the capture stops
   * emitting and reports its final counters, see AwsProcessCommand), for at most KILL_SETTLE_MS.
   */
  async kill(settleFirst = false): Promise<void> {
    this.ending = true;
    const current = this.child;
    if (settleFirst && current.alive) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, KILL_SETTLE_MS)));
      await Promise.race([current.command('kill').catch(() => undefined), timeout]);
      clearTimeout(timer);
    }
    if (current.alive) current.process.kill('SIGKILL');
    await current.exited;
  }
}

/** How long a kill waits for the capture to report its final counters before the SIGKILL. */
const KILL_SETTLE_MS = 5_000;

/** Starts the `dynamodb` process, then the `stream` process in front of it; see the module comment. */
export async function startAwsProcess(options: StartAwsProcessOptions): Promise<AwsProcess> {
  const settings = { timeoutMs: options.startTimeoutMs ?? 60_000, maxRestarts: options.maxRestarts ?? 3, ...(options.onFailure ? { onFailure: options.onFailure } : {}) };
  const common = { region: options.region, ...(options.dataDir ? { dataDir: options.dataDir } : {}) };
  const dynamodb = await Supervised.start({ role: 'dynamodb', ...common }, settings);
  let stream: Supervised;
  try {
    stream = await Supervised.start({ role: 'stream', ...common, destinations: options.destinations, dynamodbEndpoint: dynamodb.ready.endpoints.dynamodb! }, settings);
  } catch (error) {
    await dynamodb.stop().catch(() => undefined);
    throw error;
  }
  const endpoints = {
    dynamodb: stream.ready.endpoints.capture!,
    dynamodbUncaptured: dynamodb.ready.endpoints.dynamodb!,
    kinesis: stream.ready.endpoints.kinesis!,
    kinesisHttp1: stream.ready.endpoints.kinesisHttp1!,
  };
  const first = stream.ready.stats!;
  return {
    endpoints,
    pids: () => ({ dynamodb: dynamodb.current.process.pid ?? 0, stream: stream.current.process.pid ?? 0 }),
    stats: () => stream.current.stats ?? first,
    flush: () => stream.current.command('flush'),
    async stop() {
      // The capture first: it may still read DynamoDB for a pending change and deliver what it holds.
      try {
        await stream.stop();
      } finally {
        await dynamodb.stop();
      }
    },
    // DynamoDB dies at once, so the capture's requests in flight fail at once too; the capture's counters are final.
    async kill() {
      await Promise.allSettled([stream.kill(true), dynamodb.kill()]);
    },
  };
}
