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
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';
import { startHttp2Bridge } from './kinesis-http2-bridge';
import { PERSISTED, privateTree } from './persistence';

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

/** Starts dynalite, kinesalite and fauxqs; stops whatever started if one of them fails. */
export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  const stops: (() => Promise<void>)[] = [];
  const kills: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    const errors: unknown[] = [];
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  };
  try {
    const dataDir = options.dataDir;
    const store = (name: string) => {
      if (!dataDir) return {};
      const dir = path.join(dataDir, name);
      privateTree(dir);
      // Tightened again at stop: LevelDB writes new files for as long as it runs.
      stops.push(async () => privateTree(dir));
      return { path: dir };
    };
    const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...store(PERSISTED.dynamodb) });
    const dynamoPort = await listen(dynamo);
    const dynamoRequests = trackRequests(dynamo);
    stops.push(() => closeServer(dynamo));
    kills.push(() => killServer(dynamo, dynamoRequests));

    const kinesis = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: options.shardLimit ?? 64, ...store(PERSISTED.kinesis) });
    const kinesisPort = await listen(kinesis);
    const kinesisRequests = trackRequests(kinesis);
    stops.push(() => closeServer(kinesis));
    kills.push(() => killServer(kinesis, kinesisRequests));
    const bridge = await startHttp2Bridge(kinesisPort);
    stops.push(() => bridge.close());
    kills.push(() => bridge.close());

    const journal = dataDir ? path.join(dataDir, PERSISTED.sqsJournal) : undefined;
    const sqs = await startFauxqsProcess(options.region ?? 'us-east-1', options.startTimeoutMs ?? 30_000, journal, options.sqsPort);
    stops.push(sqs.stop);
    kills.unshift(sqs.kill);

    return {
      endpoints: {
        dynamodb: `http://127.0.0.1:${dynamoPort}`,
        kinesis: `http://127.0.0.1:${bridge.port}`,
        kinesisHttp1: `http://127.0.0.1:${kinesisPort}`,
        sqs: sqs.endpoint,
      },
      stop: stopAll,
      async kill() {
        stops.splice(0);
        // All at once: nothing is let finish.
        await Promise.allSettled(kills.splice(0).map((kill) => kill()));
      },
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
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

async function startFauxqsProcess(
  region: string,
  timeoutMs: number,
  journal?: string,
  port?: number,
): Promise<{ endpoint: string; stop: () => Promise<void>; kill: () => Promise<void> }> {
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
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

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
  });

  return {
    endpoint,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      if (child.connected) child.send({ type: 'stop' });
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
