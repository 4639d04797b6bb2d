/**
 * Starts the AWS stand-ins on 127.0.0.1 with ephemeral ports: dynalite (DynamoDB), kinesalite (Kinesis, behind an
 * HTTP/1.1 + HTTP/2 front door) and fauxqs (SQS, in a child process because it is ESM-only).
 *
 * With a data directory their state is on disk and a later start resumes it: dynalite and kinesalite keep theirs in
 * LevelDB (`DIR/dynamodb`, `DIR/kinesis`; every write is in LevelDB's log before the emulator answers), and fauxqs,
 * which has no persistence of its own, journals every send, receive, delete and purge to `DIR/sqs.journal` before it
 * answers (see fauxqs-process.mjs). Without one, everything is in memory.
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { listenOnLoopback } from './listen';
import { startHttp2Bridge } from './kinesis-http2-bridge';
import { PERSISTED, privateTree } from './persistence';
import { childEnded } from './child-ended';

/** Where the emulators listen. */
export interface EmulatorEndpoints {
  /** dynalite itself (the stack puts the capture proxy in front of it). */
  dynamodb: string;
  /** kinesalite's front door: accepts HTTP/1.1 and the SDK's default HTTP/2. */
  kinesis: string;
  /** kinesalite directly (HTTP/1.1 only). */
  kinesisHttp1: string;
  /** fauxqs. */
  sqs: string;
}

/** Running emulators. */
export interface Emulators {
  readonly endpoints: EmulatorEndpoints;
  /** Stops all three; safe to call twice. */
  stop(): Promise<void>;
  /**
   * Kills them as a kill -9 of the stack would, as far as one process can: fauxqs (its own process) gets SIGKILL;
   * dynalite's and kinesalite's connections are cut and their servers closed at once. Their LevelDB stores are closed
   * (a process cannot reopen a store it still holds): LevelDB keeps every acknowledged write in its log, which the
   * next open replays either way.
   */
  kill(): Promise<void>;
}

export interface EmulatorOptions {
  region?: string;
  /** Kinesis shard limit (kinesalite defaults to 10). */
  shardLimit?: number;
  /** How long to wait for the SQS emulator process to come up. */
  startTimeoutMs?: number;
  /** Keep the emulators' state in this directory (created 0700) and resume what is there; default: in memory. */
  dataDir?: string;
  /**
   * Port of the SQS emulator (default: a free one). Queue URLs carry it, so a stack restarted in the same process
   * (whose handlers keep the queue URLs they were imported with) needs the same one again.
   */
  sqsPort?: number;
}

/** Raised when an emulator does not start. */
export class EmulatorStartError extends Error {
  override readonly name = 'EmulatorStartError';
}

/** Starts dynalite, kinesalite and fauxqs in this process (fauxqs in its child); stops whatever started if one fails. */
export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  const level = await startLevelDbEmulators(options);
  let sqs: SqsEmulator;
  try {
    sqs = await startSqsEmulator(options);
  } catch (error) {
    await level.stop().catch(() => undefined);
    throw error;
  }
  let stopped = false;
  return {
    endpoints: { ...level.endpoints, sqs: sqs.endpoint },
    async stop() {
      if (stopped) return;
      stopped = true;
      const results = await Promise.allSettled([sqs.stop(), level.stop()]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
    async kill() {
      stopped = true;
      // All at once: nothing is let finish.
      await Promise.allSettled([sqs.kill(), level.kill()]);
    },
  };
}

/** dynalite and kinesalite, running in this process. */
export interface LevelDbEmulators {
  readonly endpoints: Omit<EmulatorEndpoints, 'sqs'>;
  stop(): Promise<void>;
  /** See `Emulators.kill`: connections cut, requests inside let finish against the store, stores closed. */
  kill(): Promise<void>;
}

/** Ports to listen on (0 or absent: a free one); a restarted emulator process asks for the ports it had. */
export interface LevelDbEmulatorPorts {
  dynamodb?: number;
  kinesis?: number;
  kinesisHttp2?: number;
}

/** Starts dynalite and kinesalite (with kinesalite's HTTP/2 front door) in this process. */
export async function startLevelDbEmulators(options: EmulatorOptions & { ports?: LevelDbEmulatorPorts } = {}): Promise<LevelDbEmulators> {
  const dynamo = await startDynalite(options);
  let kinesis: Awaited<ReturnType<typeof startKinesalite>>;
  try {
    kinesis = await startKinesalite(options);
  } catch (error) {
    await dynamo.stop().catch(() => undefined);
    throw error;
  }
  return {
    endpoints: { dynamodb: dynamo.endpoint, kinesis: kinesis.endpoints.kinesis, kinesisHttp1: kinesis.endpoints.kinesisHttp1 },
    async stop() {
      const results = await Promise.allSettled([kinesis.stop(), dynamo.stop()]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
    async kill() {
      await Promise.allSettled([kinesis.kill(), dynamo.kill()]);
    },
  };
}

/** A LevelDB-backed emulator's server in this process, with its store (see `store`), stop and kill. */
interface LevelDbServer {
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** Serves an emulator on 127.0.0.1; its store is kept private (0700/0600) while it runs and once it stops. */
async function serveLevelDb(server: http.Server, dir: string | undefined, port: number | undefined): Promise<LevelDbServer & { port: number }> {
  const listening = await listenOnLoopback(server, port);
  const requests = trackRequests(server);
  return {
    port: listening,
    async stop() {
      // As at a kill, requests already inside the emulator finish before its store closes: closing it under a
      // GetRecords still reading took the whole process down ("cannot call iterator() before open()").
      await killServer(server, requests);
      // Tightened again at stop: LevelDB writes new files for as long as it runs.
      if (dir) privateTree(dir);
    },
    kill: () => killServer(server, requests),
  };
}

/** The store directory of one emulator (created 0700), or none (in memory). */
function storeOf(options: EmulatorOptions, name: string): { path?: string } {
  if (!options.dataDir) return {};
  const dir = path.join(options.dataDir, name);
  privateTree(dir);
  return { path: dir };
}

/** dynalite (DynamoDB) in this process, on `<dataDir>/dynamodb` when a data directory is given. */
export async function startDynalite(options: EmulatorOptions & { port?: number } = {}): Promise<LevelDbServer & { endpoint: string }> {
  const store = storeOf(options, PERSISTED.dynamodb);
  // Loaded here, not at the top: the stack's own process and the `stream` process never run dynalite.
  const { default: dynalite } = await import('dynalite');
  const server = await serveLevelDb(dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...store }), store.path, options.port);
  return { ...server, endpoint: `http://127.0.0.1:${server.port}` };
}

/** kinesalite (Kinesis) and its HTTP/2 front door in this process, on `<dataDir>/kinesis` when a data directory is given. */
export async function startKinesalite(
  options: EmulatorOptions & { ports?: Pick<LevelDbEmulatorPorts, 'kinesis' | 'kinesisHttp2'> } = {},
): Promise<LevelDbServer & { endpoints: { kinesis: string; kinesisHttp1: string } }> {
  const store = storeOf(options, PERSISTED.kinesis);
  // Loaded here, not at the top: the stack's own process and the `dynamodb` process never run kinesalite.
  const { default: kinesalite } = await import('kinesalite');
  const kinesis = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: options.shardLimit ?? 64, ...store });
  const server = await serveLevelDb(kinesis, store.path, options.ports?.kinesis);
  let bridge: Awaited<ReturnType<typeof startHttp2Bridge>>;
  try {
    bridge = await startHttp2Bridge(server.port, options.ports?.kinesisHttp2);
  } catch (error) {
    await server.stop().catch(() => undefined);
    throw error;
  }
  return {
    endpoints: { kinesis: `http://127.0.0.1:${bridge.port}`, kinesisHttp1: `http://127.0.0.1:${server.port}` },
    async stop() {
      await bridge.close();
      await server.stop();
    },
    async kill() {
      await Promise.allSettled([server.kill(), bridge.close()]);
    },
  };
}

/** Closes a dynalite/kinesalite server: both wrap close() to also close their store. */
function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error?: Error) => (error ? reject(error) : resolve()));
    // Keep-alive sockets of our own clients would otherwise hold close() open.
    server.closeAllConnections();
  });
}

/** Requests a server is handling (answered or not: until its handler ends the response). */
interface RequestTracker {
  /** From now on every new connection is cut as it arrives: no request can start. */
  refuse(): void;
  /** Resolves when no request is being handled. */
  idle(): Promise<void>;
}

function trackRequests(server: http.Server): RequestTracker {
  let active = 0;
  let refusing = false;
  const waiters: (() => void)[] = [];
  // Ahead of the HTTP server's own listener: a socket destroyed here is never parsed.
  server.prependListener('connection', (socket: import('node:net').Socket) => {
    if (refusing) socket.destroy();
  });
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    active += 1;
    let done = false;
    const end = res.end.bind(res) as (...args: unknown[]) => http.ServerResponse;
    (res as unknown as { end: (...args: unknown[]) => http.ServerResponse }).end = (...args: unknown[]) => {
      if (!done) {
        done = true;
        active -= 1;
        if (active === 0) for (const wake of waiters.splice(0)) wake();
      }
      return end(...args);
    };
  });
  return {
    refuse: () => {
      refusing = true;
    },
    idle: () => (active === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
  };
}

/**
 * Kills a dynalite/kinesalite server: every connection is cut at once (its clients see the stack die), then the
 * handlers of requests already inside the emulator run to their end against the store — a request the emulator had
 * taken is applied or not, as at a kill — and only then is the store closed: a request whose next step finds the
 * store closed takes the whole process down (dynalite throws uncaught; kinesalite's leveldown reads freed memory).
 * New connections (a client retrying) are cut as they arrive, so none starts a request meanwhile.
 */
async function killServer(server: http.Server, requests: RequestTracker): Promise<void> {
  requests.refuse();
  server.closeAllConnections();
  await requests.idle();
  await closeServer(server);
}

/** The SQS emulator (fauxqs) in its own process. */
export interface SqsEmulator {
  readonly endpoint: string;
  readonly pid: number;
  stop(): Promise<void>;
  /** SIGKILL. */
  kill(): Promise<void>;
}

/** Starts fauxqs in its child process, journaling to `<dataDir>/sqs.journal` when a data directory is given. */
export function startSqsEmulator(options: EmulatorOptions = {}): Promise<SqsEmulator> {
  if (options.dataDir) privateTree(options.dataDir);
  const journal = options.dataDir ? path.join(options.dataDir, PERSISTED.sqsJournal) : undefined;
  return startFauxqsProcess(options.region ?? 'us-east-1', options.startTimeoutMs ?? 30_000, journal, options.sqsPort);
}

async function startFauxqsProcess(region: string, timeoutMs: number, journal?: string, port?: number): Promise<SqsEmulator> {
  const entry = path.join(__dirname, 'fauxqs-process.mjs');
  const child: ChildProcess = fork(entry, [], {
    execArgv: [],
    env: {
      ...process.env,
      FAUXQS_REGION: region,
      NODE_NO_WARNINGS: '1',
      ...(journal ? { FAUXQS_JOURNAL: journal } : {}),
      ...(port !== undefined ? { FAUXQS_PORT: String(port) } : {}),
    },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4_000);
  });
  const ended = childEnded(child);
  const exited = ended.then(() => undefined);

  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new EmulatorStartError(`SQS emulator (fauxqs) did not start within ${timeoutMs} ms: ${stderr.trim()}`));
    }, timeoutMs);
    child.on('message', (message: { type?: string; endpoint?: string }) => {
      if (message?.type === 'ready' && message.endpoint) {
        clearTimeout(timer);
        resolve(message.endpoint);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new EmulatorStartError(`SQS emulator (fauxqs) exited with code ${code}: ${stderr.trim()}`));
    });
    void ended.then((startError) => {
      if (startError === undefined) return;
      clearTimeout(timer);
      reject(new EmulatorStartError(`SQS emulator (fauxqs) could not be started: ${startError}`));
    });
  });

  return {
    endpoint,
    pid: child.pid ?? 0,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      // A child that died since the check fails the write (EPIPE): ended by the exit it is already in, or the killer.
      if (child.connected) child.send({ type: 'stop' }, () => undefined);
      else child.kill('SIGTERM');
      await exited;
      clearTimeout(killer);
      child.stderr?.destroy();
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      child.stderr?.destroy();
    },
  };
}
