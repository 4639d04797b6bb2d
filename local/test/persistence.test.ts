/**
 * The embedded stack's state survives its process: the emulators' data after kill -9 (DynamoDB items, stream records,
 * SQS messages waiting, in flight and dead-lettered, with their receive counts), the transform's shard checkpoints,
 * and the capture's journal of what was between DynamoDB and Kinesis. Files 0600 and directories 0700.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { createStackClients, LOCAL_CREDENTIALS, type StackClients } from '../src/stack/aws-env';
import { CaptureJournal } from '../src/stack/capture-journal';
import { startDdbKinesisCapture, type DynamoDBKinesisRecord } from '../src/stack/ddb-kinesis-capture';
import { canonicalKey } from '../src/stack/dynamodb-wire';
import { startEmulators, type Emulators } from '../src/stack/emulators';
import { startKinesisPoller } from '../src/stack/kinesis-poller';
import { defaultStackConfig } from '../src/stack/local-config';
import { clearPipelineState, fileCheckpointStore, PERSISTED, PIPELINE_STATE } from '../src/stack/persistence';
import { createResources, type StackResources } from '../src/stack/resources';
import { openStreamReader } from './support/stream-reader';
import { killAllTsChildren, REPO_ROOT, startTsChild } from './support/ts-child';
import { waitUntil } from './support/wait';

const FIXTURE = path.join(REPO_ROOT, 'local', 'test', 'fixtures', 'emulator-state.ts');
const config = defaultStackConfig();
const root = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-persist-'));

/** Every entry below `dir` whose mode is not private (directories 0700, files 0600). */
function notPrivate(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .map((e) => path.join(e.parentPath, e.name))
    .filter((file) => (statSync(file).mode & 0o777) !== (statSync(file).isDirectory() ? 0o700 : 0o600));
}

afterAll(() => {
  killAllTsChildren();
  rmSync(root, { recursive: true, force: true });
});

describe('emulators on a data directory', () => {
  it('keep the item, the stream record and every SQS message across a kill -9, in private files', async () => {
    // Prepare: a run that writes, then is killed (its own process only: the SQS emulator's process must follow).
    const dir = path.join(root, 'emulators');
    const writer = startTsChild(FIXTURE, [dir, 'write']);
    await writer.waitForOutput(/^written \["in-flight"\]$/m);
    writer.signal('SIGKILL');
    await writer.exited;
    // Act
    const reader = startTsChild(FIXTURE, [dir, 'read']);
    expect(await reader.exited).toBe(0);
    // Assess
    const found = JSON.parse(reader.stdout().trim().split('\n').pop()!) as Record<string, unknown>;
    expect(found).toEqual({
      item: { id: { S: 'a' }, n: { N: '7' } },
      records: ['record-1'],
      // The in-flight message is visible again at once (its consumer died), with its receive count kept.
      queue: ['in-flight:2', 'waiting:1'],
      dlq: ['poison:4'],
    });
    expect(readdirSync(dir).sort()).toEqual([PERSISTED.dynamodb, PERSISTED.kinesis, PERSISTED.sqsJournal].sort());
    expect(notPrivate(dir)).toEqual([]);
  });
});

describe('transform shard checkpoints', () => {
  let emulators: Emulators;
  let clients: StackClients;
  let resources: StackResources;

  beforeAll(async () => {
    emulators = await startEmulators();
    clients = createStackClients({ dynamodb: emulators.endpoints.dynamodb, kinesis: emulators.endpoints.kinesisHttp1, sqs: emulators.endpoints.sqs }, config.region, LOCAL_CREDENTIALS);
    resources = await createResources(clients, { ...config, stream: { ...config.stream, shardCount: 1 } });
  });

  afterAll(async () => {
    clients.destroy();
    await emulators.stop();
  });

  it('a new poller starts after the last batch an earlier one finished, from the checkpoint file', async () => {
    // Prepare
    const file = path.join(root, 'checkpoints.json');
    const put = (data: string) => clients.kinesis.send(new PutRecordCommand({ StreamName: resources.stream.name, PartitionKey: 'p', Data: Buffer.from(data) }));
    const poll = () => {
      const seen: string[] = [];
      const poller = startKinesisPoller({
        kinesis: clients.kinesis,
        streamName: resources.stream.name,
        streamArn: resources.stream.arn,
        shardIds: resources.stream.shardIds,
        region: config.region,
        handler: async (event: KinesisStreamEvent) => {
          seen.push(...event.Records.map((r) => Buffer.from(r.kinesis.data, 'base64').toString('utf8')));
        },
        function: { functionName: 'f', functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f', timeoutMs: 5_000 },
        roleArn: 'arn:aws:iam::000000000000:role/r',
        mapping: { ...config.transform, batchingWindowMs: 0, idlePollMs: 20 },
        checkpoints: fileCheckpointStore(file, resources.stream.name),
      });
      return { seen, poller };
    };
    for (const n of [1, 2, 3]) await put(`r${n}`);
    const first = poll();
    await waitUntil(() => first.seen.length === 3, 'the first three records');
    await first.poller.stop();
    // Act
    for (const n of [4, 5]) await put(`r${n}`);
    const second = poll();
    await waitUntil(() => second.seen.length >= 2, 'the next records');
    await sleep(200);
    await second.poller.stop();
    // Assess
    expect(first.seen).toEqual(['r1', 'r2', 'r3']);
    expect(second.seen).toEqual(['r4', 'r5']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
    expect(Object.keys(stored[resources.stream.name]!)).toEqual(resources.stream.shardIds);
  });
});

describe('a coalescing checkpoint store', () => {
  const stored = (file: string): Record<string, string> | undefined =>
    existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>).s : undefined;
  const fresh = (name: string) => {
    const dir = path.join(root, `coalesce-${name}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return path.join(dir, 'checkpoints.json');
  };

  it('writes the file owner-only even over a wider .tmp left by a killed process', () => {
    // Prepare
    const file = fresh('modes');
    writeFileSync(`${file}.tmp`, 'left behind', { mode: 0o644 });
    // Act
    fileCheckpointStore(file, 's').set('shard-1', '1');
    // Assess
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('writes the checkpoints of one window together, once the window is over', async () => {
    // Prepare
    const file = fresh('window');
    const store = fileCheckpointStore(file, 's', { coalesceMs: 50 });
    // Act
    store.set('shard-1', '100');
    store.set('shard-2', '200');
    store.set('shard-1', '101');
    const during = stored(file);
    await sleep(150);
    // Assess
    expect(during).toBeUndefined();
    expect(stored(file)).toEqual({ 'shard-1': '101', 'shard-2': '200' });
    expect(fileCheckpointStore(file, 's').get('shard-1')).toBe('101');
  });

  it('keeps a write that failed in its timer for the next set to throw, instead of taking the process down', async () => {
    // Prepare: the checkpoint file's directory disappears inside the window.
    const file = fresh('failing');
    const store = fileCheckpointStore(file, 's', { coalesceMs: 20 });
    store.set('shard-1', '5');
    rmSync(path.dirname(file), { recursive: true, force: true });
    // Act
    await sleep(100);
    const next = () => store.set('shard-1', '6');
    // Assess
    expect(next).toThrow(/ENOENT/);
    expect(next).not.toThrow();
  });

  it.each([
    ['flush (a poller stopping) writes what the window holds now', 'flush', { 'shard-1': '7' }],
    ['discard (a poller killed) writes nothing of the window, now or later', 'discard', { 'shard-1': '5' }],
  ] as const)('%s', async (_name, action, expected) => {
    // Prepare: one checkpoint written, a later one still held back.
    const file = fresh(action);
    const store = fileCheckpointStore(file, 's', { coalesceMs: 10_000 });
    store.set('shard-1', '5');
    store.flush();
    store.set('shard-1', '7');
    // Act
    store[action]();
    await sleep(50);
    // Assess
    expect(stored(file)).toEqual(expected);
  });
});

describe('capture journal', () => {
  let emulators: Emulators;
  let clients: StackClients;
  const table = config.table.name;
  const target = (id: string) => {
    const key = { claim_id: { S: id } };
    return { table, key, lockKey: `${table}\u0000${canonicalKey(key)}` };
  };

  beforeAll(async () => {
    emulators = await startEmulators();
    clients = createStackClients({ dynamodb: emulators.endpoints.dynamodb, kinesis: emulators.endpoints.kinesisHttp1, sqs: emulators.endpoints.sqs }, config.region, LOCAL_CREDENTIALS);
    await createResources(clients, config);
  });

  afterAll(async () => {
    clients.destroy();
    await emulators.stop();
  });

  it('a start puts the records an earlier run had not delivered, then the changes of writes it applied but had not captured', async () => {
    // Prepare: what a run killed at the worst moments leaves. A record committed but never acknowledged by Kinesis;
    // a write of C-APPLIED that DynamoDB applied after its intent was journaled; a write of C-NEVER killed before it
    // was forwarded (its intent is open, its item unchanged).
    const file = path.join(root, 'capture.journal');
    const journal = new CaptureJournal(file);
    const undelivered = JSON.stringify({ eventID: 'evt-left-by-the-killed-run', eventName: 'INSERT', dynamodb: { Keys: { claim_id: { S: 'C-EARLIER' } } } });
    journal.commit([], [{ streamName: config.stream.name, partitionKey: 'pk-earlier', data: undelivered }]);
    journal.begin([{ target: target('C-APPLIED'), oldImage: undefined }, { target: target('C-NEVER'), oldImage: undefined }]);
    const applied = { claim_id: { S: 'C-APPLIED' }, claim_status: { S: 'Submitted' } };
    await clients.dynamodb.send(new PutItemCommand({ TableName: table, Item: applied }));
    journal.close();
    const reader = await openStreamReader(clients.kinesis, config.stream.name);
    // Act
    const capture = await startDdbKinesisCapture({
      dynamodbEndpoint: emulators.endpoints.dynamodb,
      kinesis: clients.kinesis,
      region: config.region,
      destinations: { [table]: config.stream.name },
      journalFile: file,
    });
    await capture.flush();
    const stats = capture.stats();
    const records = (await reader.next()).map((r) => Buffer.from(r.Data!).toString('utf8'));
    await capture.stop();
    // Assess
    expect(stats.recovered).toEqual({ records: 1, changes: 2 });
    expect(records[0]).toBe(undelivered);
    expect(records).toHaveLength(2);
    const change = JSON.parse(records[1]!) as DynamoDBKinesisRecord;
    expect(change).toMatchObject({ eventName: 'INSERT', dynamodb: { Keys: { claim_id: { S: 'C-APPLIED' } }, NewImage: applied } });
    const reopened = new CaptureJournal(file);
    expect(reopened.recovered).toEqual({ intents: [], records: [] });
    reopened.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('journals a write through the proxy until Kinesis has its record, and ignores a line torn by a kill', async () => {
    // Prepare
    const file = path.join(root, 'capture-live.journal');
    const capture = await startDdbKinesisCapture({
      dynamodbEndpoint: emulators.endpoints.dynamodb,
      kinesis: clients.kinesis,
      region: config.region,
      destinations: { [table]: config.stream.name },
      journalFile: file,
    });
    const ddb = new DynamoDBClient({ endpoint: capture.endpoint, region: config.region, credentials: LOCAL_CREDENTIALS });
    // Act
    await ddb.send(new PutItemCommand({ TableName: table, Item: { claim_id: { S: 'C-LIVE' }, claim_status: { S: 'Paid' } } }));
    await capture.flush();
    ddb.destroy();
    await capture.stop();
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { o: string }).o);
    appendFileSync(file, '{"o":"c","i":[],"r":[[99,"InsuranceClaimsStream","k","tor');
    const reopened = new CaptureJournal(file);
    // Assess: intent, commit with the record, acknowledgement; nothing open; the torn line changed nothing.
    expect(lines).toEqual(['i', 'c', 'a']);
    expect(reopened.recovered).toEqual({ intents: [], records: [] });
    reopened.close();
  });
});

describe('clearPipelineState (up --fresh)', () => {
  it('removes the emulator data, journals, checkpoints, warehouse and quarantine, and keeps the log and the lock', () => {
    // Prepare
    const dir = path.join(root, 'fresh');
    mkdirSync(path.join(dir, PERSISTED.dynamodb), { recursive: true });
    mkdirSync(path.join(dir, PERSISTED.kinesis), { recursive: true });
    for (const name of [...PIPELINE_STATE.filter((n) => n !== PERSISTED.dynamodb && n !== PERSISTED.kinesis), 'handlers.log', 'stack.lock']) {
      writeFileSync(path.join(dir, name), 'x');
    }
    // Act
    clearPipelineState(dir);
    // Assess
    expect(readdirSync(dir).sort()).toEqual(['handlers.log', 'stack.lock']);
    expect(existsSync(path.join(dir, PERSISTED.dynamodb))).toBe(false);
  });
});
