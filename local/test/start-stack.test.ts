/**
 * startStack composes emulators, capture, resources, pollers and the API into one pipeline: a write through the API
 * (or by any SDK client) reaches the transform handler as a Kinesis record and the load handler as an SQS message,
 * the merge runs on its schedule, and a CLI in another process can find the stack and ask it for its status.
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { SQSClient, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { startStack, StackStartError, type RunningStack, type StackHandlers } from '../src/stack/start-stack';
import { callStackControl, readStackInfo, StackControlError } from '../src/stack/stack-client';
import type { DynamoDBKinesisRecord } from '../src/stack/ddb-kinesis-capture';
import { compiledStackEnv } from './support/node-entry';
import { waitUntil } from './support/wait';

// The stacks of this file fork their children (AWS processes, handler process) from local/dist while it is current (no
// tsx at each start); this file's process.env is its own.
Object.assign(process.env, compiledStackEnv());

const FIXTURE = path.join(__dirname, 'fixtures', 'env-at-import-handler');

describe('startStack', () => {
  let stateDir: string;
  let stack: RunningStack;
  const loaded: SQSRecord[] = [];
  let merges = 0;

  /** Fakes that use plain env-configured SDK clients, as the real handlers do (the API handler is imported). */
  const fakes = (): Partial<StackHandlers> => {
    let sqs: SQSClient | undefined;
    return {
      transform: async (event) => {
        sqs ??= new SQSClient({});
        const rows = event.Records.map((r) => JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString()) as DynamoDBKinesisRecord);
        await sqs.send(new SendMessageBatchCommand({
          QueueUrl: process.env.LOAD_QUEUE_URL,
          Entries: rows.map((row, i) => ({ Id: String(i), MessageBody: JSON.stringify({ event: row.eventName, claimId: row.dynamodb.Keys.claim_id!.S }) })),
        }));
        return { batchItemFailures: [] };
      },
      load: async (event) => {
        loaded.push(...event.Records);
        return { batchItemFailures: [] };
      },
      merge: async () => ({ merged: ++merges }),
    };
  };

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-stack-'));
    stack = await startStack({
      stateDir,
      handlers: fakes(),
      mergeIntervalMs: 50,
      config: { api: { handlerModule: FIXTURE, routes: ['POST /claims/samples', 'GET /env'] } },
    });
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const apiCall = (pathname: string, body?: unknown) =>
    fetch(new URL(pathname, stack.endpoints.api), {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('points the AWS SDK environment at loopback endpoints, DynamoDB at the capture proxy', () => {
    // Assess
    expect(process.env.AWS_ENDPOINT_URL_DYNAMODB).toBe(stack.endpoints.dynamodb);
    expect(stack.counters().capture).toBeDefined();
    for (const url of [stack.endpoints.dynamodb!, stack.endpoints.kinesis!, stack.endpoints.sqs!, stack.endpoints.api]) {
      expect(new URL(url).hostname).toBe('127.0.0.1');
    }
    expect(stack.env).toMatchObject({ CLAIMS_TABLE_NAME: 'InsuranceClaims', LOAD_QUEUE_URL: stack.resources.queues.load.url });
  });

  it('creates the table, the stream and the queues from the config', () => {
    // Assess
    expect(stack.resources.table.name).toBe(stack.config.table.name);
    expect(stack.resources.stream).toMatchObject({ name: stack.config.stream.name, shardIds: ['shardId-000000000000'] });
    expect(Object.values(stack.resources.queues).map((q) => q.name).sort()).toEqual(Object.values(stack.config.queues).map((q) => q.name).sort());
  });

  it('sets the environment before a handler module named in the config is imported', async () => {
    // Act: the API handler of this stack is not given as a function but imported from FIXTURE.
    const reply = await apiCall('/env');
    // Assess
    expect(reply.status).toBe(200);
    expect(await reply.json()).toEqual({ dynamodb: stack.endpoints.dynamodb, table: 'InsuranceClaims', loadQueue: stack.resources.queues.load.url });
  });

  it('carries a write by any SDK client through capture, stream, transform and queue to load', async () => {
    // Prepare: a client that knows nothing but the environment, like a user's script.
    const script = new DynamoDBClient({});
    try {
      // Act
      await script.send(new PutItemCommand({ TableName: 'InsuranceClaims', Item: { claim_id: { S: 'FROM-SCRIPT' } } }));
      // Assess
      const record = await waitUntil(() => loaded.find((r) => JSON.parse(r.body).claimId === 'FROM-SCRIPT'), 'the script write at load');
      expect(JSON.parse(record.body)).toEqual({ event: 'INSERT', claimId: 'FROM-SCRIPT' });
      expect(record.eventSourceARN).toBe(stack.resources.queues.load.arn);
    } finally {
      script.destroy();
    }
  });

  it.each(['stream', 'dynamodb'] as const)('restarts its %s process when it dies, on the same endpoints, with its data, still capturing', async (role) => {
    // Prepare
    const script = new DynamoDBClient({});
    const dead = stack.childPids()[role]!;
    const endpoints = { ...stack.endpoints };
    const claimId = `AFTER-${role.toUpperCase()}-RESTART`;
    const before = `BEFORE-${role.toUpperCase()}-RESTART`;
    try {
      await script.send(new PutItemCommand({ TableName: 'InsuranceClaims', Item: { claim_id: { S: before } } }));
      // Act
      process.kill(dead, 'SIGKILL');
      await waitUntil(() => (stack.childPids()[role] !== dead ? true : undefined), `a new ${role} process`);
      await script.send(new PutItemCommand({ TableName: 'InsuranceClaims', Item: { claim_id: { S: claimId } } }));
      // Assess
      const record = await waitUntil(() => loaded.find((r) => JSON.parse(r.body).claimId === claimId), 'the write after the restart at load');
      expect(JSON.parse(record.body)).toEqual({ event: 'INSERT', claimId });
      expect(stack.endpoints).toEqual(endpoints);
      const { Item } = await script.send(new GetItemCommand({ TableName: 'InsuranceClaims', Key: { claim_id: { S: before } }, ConsistentRead: true }));
      expect(Item).toEqual({ claim_id: { S: before } });
    } finally {
      script.destroy();
    }
  });

  it('runs the merge on its schedule and on demand', async () => {
    // Act
    await waitUntil(() => (stack.counters().merge?.invocations ?? 0) >= 2, 'two scheduled merges');
    const result = await stack.triggerMerge();
    // Assess
    expect(result).toEqual({ merged: expect.any(Number) });
    expect(stack.counters().merge).toMatchObject({ failures: 0 });
  });

  it('publishes a state file (owner-only) through which another process reaches the status control route', async () => {
    // Prepare
    const info = readStackInfo(stateDir);
    // Act
    const status = await callStackControl<{ pid: number; counters: { api: { requests: number } }; queueDepths: Record<string, number> }>(info!, 'status');
    // Assess
    expect(info).toMatchObject({ pid: process.pid, apiUrl: stack.endpoints.api, token: stack.token });
    expect(statSync(path.join(stateDir, 'stack.json')).mode & 0o077).toBe(0);
    expect(status.pid).toBe(process.pid);
    expect(Object.keys(status.queueDepths).sort()).toEqual(['load', 'loadDlq', 'quarantine', 'transformFailure']);
    await expect(callStackControl({ apiUrl: info!.apiUrl, token: 'wrong' }, 'status')).rejects.toEqual(new StackControlError(403, 'status: Forbidden: wrong token'));
  });

  it('refuses a second stack in the same process', async () => {
    // Act + Assess
    await expect(startStack({ stateDir, handlers: fakes() })).rejects.toThrow(StackStartError);
  });

});

describe('startStack, stopped', () => {
  it('stops everything, restores the environment and removes its state file', async () => {
    // Prepare
    const envBefore = process.env.AWS_ENDPOINT_URL_DYNAMODB;
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-stack-'));
    const noop = async () => ({ batchItemFailures: [] });
    const stack = await startStack({ stateDir, handlers: { transform: noop, load: noop, merge: async () => ({}) } });
    try {
      // Act
      await stack.stop();
      // Assess
      expect(process.env.AWS_ENDPOINT_URL_DYNAMODB).toBe(envBefore);
      expect(existsSync(path.join(stateDir, 'stack.json'))).toBe(false);
      await expect(fetch(stack.endpoints.api)).rejects.toThrow();
    } finally {
      await stack.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe('startStack refusing to start', () => {
  it('refuses a state directory whose stack.json names another live process', async () => {
    // Prepare: the state file of a stack run by our parent process (alive for the whole test).
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-stack-'));
    writeFileSync(path.join(stateDir, 'stack.json'), JSON.stringify({ pid: process.ppid, apiUrl: 'http://127.0.0.1:9', token: 't', stateDir, endpoints: {} }));
    try {
      // Act + Assess
      await expect(startStack({ stateDir })).rejects.toThrow(`a stack is already running for ${stateDir} (pid ${process.ppid}`);
      expect(process.env.AWS_ENDPOINT_URL_DYNAMODB).toBeUndefined();
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('fails when a handler cannot be loaded, naming the module, and leaves nothing running behind', async () => {
    // Prepare
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-stack-'));
    try {
      // Act
      const starting = startStack({ stateDir, disable: ['api', 'load', 'merge'], config: { transform: { handlerModule: path.join(stateDir, 'missing-handler') } } });
      // Assess
      await expect(starting).rejects.toThrow(/cannot load the transform handler from .*missing-handler/);
      expect(readStackInfo(stateDir)).toBeUndefined();
      expect(process.env.AWS_ENDPOINT_URL_DYNAMODB).toBeUndefined();
      const again = await startStack({ stateDir, disable: ['api', 'transform', 'load', 'merge'] });
      await again.stop();
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe('startStack with external endpoints (LocalStack or AWS)', () => {
  it('starts no emulator and no capture, and points handlers at the given endpoints', async () => {
    // Prepare: emulators started by the test stand in for LocalStack (whose table already streams to Kinesis).
    const { startEmulators } = await import('../src/stack/emulators');
    const external = await startEmulators();
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-stack-'));
    const endpoints = { dynamodb: external.endpoints.dynamodb, kinesis: external.endpoints.kinesis, sqs: external.endpoints.sqs };
    const previousKeys = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = 'external-key';
    process.env.AWS_SECRET_ACCESS_KEY = 'external-secret';
    let stack: RunningStack | undefined;
    try {
      // Act
      stack = await startStack({
        stateDir,
        external: { endpoints, enableStreamingDestination: false },
        disable: ['api', 'transform', 'load', 'merge'],
      });
      // Assess
      expect(stack.counters().capture).toBeUndefined();
      expect(stack.endpoints).toMatchObject(endpoints);
      expect(process.env.AWS_ENDPOINT_URL_DYNAMODB).toBe(external.endpoints.dynamodb);
      expect(process.env.AWS_ACCESS_KEY_ID).toBe('external-key');
      expect(stack.resources.queues.load.url.startsWith(external.endpoints.sqs)).toBe(true);
    } finally {
      await stack?.stop();
      await external.stop();
      process.env.AWS_ACCESS_KEY_ID = previousKeys.id;
      process.env.AWS_SECRET_ACCESS_KEY = previousKeys.secret;
      if (previousKeys.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      if (previousKeys.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
