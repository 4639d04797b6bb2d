/**
 * The `stream` role of the stack's AWS processes (see aws-process.ts): kinesalite with its HTTP/2 front door, and the
 * DynamoDB → Kinesis capture in front of the `dynamodb` process. Loaded by that process only when it plays this role.
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import http from 'node:http';
import path from 'node:path';
import { LOCAL_CREDENTIALS } from './local-credentials';
import type { AwsProcessOptions, AwsProcessPorts } from './aws-process-protocol';
import { dataDirOf, portOf, send, type Started } from './aws-process-role';
import { startDdbKinesisCapture } from './ddb-kinesis-capture';
import { startKinesalite } from './emulators';
import { PERSISTED } from './persistence';

/** How often the capture's counters go to the parent. */
const STATS_INTERVAL_MS = 100;

/** Starts kinesalite and the capture; see the module comment. */
export async function startStream(options: AwsProcessOptions): Promise<Started> {
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
