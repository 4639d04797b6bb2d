/**
 * Entry point of the stack's AWS processes: `dynamodb` runs dynalite, `stream` runs kinesalite (with its HTTP/2 front
 * door) and the DynamoDB → Kinesis capture in front of the `dynamodb` process (see aws-process-protocol.ts). They run
 * beside the stack's own process, which keeps the pollers and the handlers: the emulators' work and the capture's no
 * longer compete with the pipeline for one thread. Started by aws-process-client.ts (`fork`), never imported; from
 * source it runs under tsx, from the bundled CLI as `aws-process.js` next to the bundle.
 *
 * Talks to its parent over the IPC channel; options come in `CLAIMS_CDC_AWS_PROCESS` (JSON). Sends `ready` once it
 * listens, then (`stream`) the capture's counters every STATS_INTERVAL_MS, and answers `flush` and `stop`. It exits
 * when its parent goes away: a process that dies with its parent leaves what a kill -9 leaves (the LevelDB logs, the
 * capture journal), which the next start replays.
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import http from 'node:http';
import path from 'node:path';
import { LOCAL_CREDENTIALS } from './aws-env';
import { AWS_PROCESS_OPTIONS_ENV, type AwsProcessCommand, type AwsProcessEvent, type AwsProcessOptions, type AwsProcessPorts } from './aws-process-protocol';
import { startDdbKinesisCapture, type CaptureStats } from './ddb-kinesis-capture';
import { startDynalite, startKinesalite } from './emulators';
import { PERSISTED } from './persistence';

const STATS_INTERVAL_MS = 100;

/** What a role started: its endpoints and how to stop it. */
interface Started {
  ready: Extract<AwsProcessEvent, { type: 'ready' }>;
  stop(): Promise<void>;
  flush?(): Promise<void>;
  kill?(): Promise<void>;
  stats?(): CaptureStats;
}

const send = (event: AwsProcessEvent): void => {
  if (process.connected) process.send?.(event);
};
const portOf = (url: string): number => Number(new URL(url).port);
const dataDirOf = (options: AwsProcessOptions) => (options.dataDir ? { dataDir: options.dataDir } : {});

async function startDynamodb(options: AwsProcessOptions): Promise<Started> {
  const dynamo = await startDynalite({ ...dataDirOf(options), ...(options.ports?.dynamodb ? { port: options.ports.dynamodb } : {}) });
  return {
    ready: { type: 'ready', endpoints: { dynamodb: dynamo.endpoint }, ports: { dynamodb: portOf(dynamo.endpoint) } },
    stop: () => dynamo.stop(),
  };
}

async function startStream(options: AwsProcessOptions): Promise<Started> {
  if (!options.dynamodbEndpoint || !options.destinations) throw new Error('the stream process needs dynamodbEndpoint and destinations');
  const kinesis = await startKinesalite({ region: options.region, ...dataDirOf(options), ...(options.ports ? { ports: options.ports } : {}) });
  const client = new KinesisClient({
    region: options.region,
    credentials: LOCAL_CREDENTIALS,
    endpoint: kinesis.endpoints.kinesisHttp1,
    requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: true, maxSockets: 16 }) }),
  });
  let capture: Awaited<ReturnType<typeof startDdbKinesisCapture>>;
  try {
    capture = await startDdbKinesisCapture({
      dynamodbEndpoint: options.dynamodbEndpoint,
      kinesis: client,
      region: options.region,
      destinations: options.destinations,
      ...(options.ports?.capture ? { port: options.ports.capture } : {}),
      ...(options.dataDir ? { journalFile: path.join(options.dataDir, PERSISTED.captureJournal) } : {}),
    });
  } catch (error) {
    client.destroy();
    await kinesis.stop().catch(() => undefined);
    throw error;
  }
  const timer = setInterval(() => send({ type: 'stats', stats: capture.stats() }), STATS_INTERVAL_MS);
  const endpoints = { capture: capture.endpoint, ...kinesis.endpoints };
  const ports: AwsProcessPorts = { capture: portOf(capture.endpoint), kinesis: portOf(kinesis.endpoints.kinesisHttp1), kinesisHttp2: portOf(kinesis.endpoints.kinesis) };
  return {
    ready: { type: 'ready', endpoints, ports, stats: capture.stats() },
    // The capture first: it delivers what it holds to kinesalite.
    async stop() {
      clearInterval(timer);
      try {
        await capture.stop();
      } finally {
        client.destroy();
        await kinesis.stop();
      }
    },
    flush: () => capture.flush(),
    kill: () => {
      clearInterval(timer);
      return capture.kill();
    },
    stats: () => capture.stats(),
  };
}

/** Serves the parent's commands once started. */
function serve(started: Started): void {
  let stopping: Promise<void> | undefined;
  process.on('message', (command: AwsProcessCommand) => {
    const work =
      command.type === 'flush' ? (started.flush?.() ?? Promise.resolve()) : command.type === 'kill' ? (started.kill?.() ?? Promise.resolve()) : (stopping ??= started.stop());
    const stats = () => (started.stats ? { stats: started.stats() } : {});
    work.then(
      () => send({ type: 'reply', id: command.id, ...stats() }),
      (error: Error) => send({ type: 'reply', id: command.id, ...stats(), error: error.message }),
    );
  });
  send(started.ready);
}

function main(): void {
  // The parent is gone (killed, or it died): nobody is left to serve, and a new stack may already be replaying the
  // journal and reopening the stores. Leaving at once is what a kill -9 would have done.
  process.on('disconnect', () => process.exit(0));
  let options: AwsProcessOptions;
  try {
    options = JSON.parse(process.env[AWS_PROCESS_OPTIONS_ENV] ?? '') as AwsProcessOptions;
  } catch {
    process.stderr.write(`${AWS_PROCESS_OPTIONS_ENV} is missing or not JSON: this file is started by the stack, not run by hand\n`);
    process.exit(2);
  }
  (options.role === 'dynamodb' ? startDynamodb(options) : startStream(options)).then(serve, (error: Error) => {
    send({ type: 'failed', error: error.message });
    // The parent reads the message before the channel closes.
    setTimeout(() => process.exit(1), 100);
  });
}

main();
