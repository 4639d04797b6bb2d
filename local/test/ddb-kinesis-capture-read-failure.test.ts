/**
 * The capture when it cannot read an item's new image after the emulator accepted a write: the write is failed to its
 * client (InternalServerError, which SDKs retry) and its change is kept until the item can be read again — then
 * emitted exactly once, whether the client retries (even a retry that changes nothing, or fails its condition), a
 * later write comes, or nobody writes again. Never dropped.
 *
 * The failing reads are real HTTP failures: a small proxy between the capture and the DynamoDB emulator answers
 * GetItem with a 500 after a write, as many times as a test asks.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { startEmulators, type Emulators } from '../src/stack/emulators';
import { createStackClients, LOCAL_CREDENTIALS, type StackClients } from '../src/stack/aws-env';
import { createResources } from '../src/stack/resources';
import { defaultStackConfig } from '../src/stack/local-config';
import { startDdbKinesisCapture, type DdbKinesisCapture, type DynamoDBKinesisRecord } from '../src/stack/ddb-kinesis-capture';
import { openStreamReader, type StreamReader } from './support/stream-reader';
import { waitUntil } from './support/wait';

const config = defaultStackConfig();
const TABLE = config.table.name;
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

/** A proxy to the emulator that fails the next `n` GetItem calls once a write has gone through. */
async function startFaultyReads(upstream: string) {
  const target = new URL(upstream);
  let armed = 0;
  let failing = 0;
  let failed = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const operation = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
      if (operation === 'GetItem' && failing > 0) {
        failing -= 1;
        failed += 1;
        const body = JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'injected read failure' });
        res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(body);
        return;
      }
      const forward = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (reply) => {
        if (WRITES.has(operation) && reply.statusCode === 200 && armed > 0) {
          failing = armed;
          armed = 0;
        }
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      });
      forward.on('error', () => res.destroy());
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** After the next accepted write, fail this many GetItem calls (Infinity: until `heal`). */
    failReadsAfterNextWrite: (n: number) => (armed = n),
    heal: () => {
      armed = 0;
      failing = 0;
    },
    failed: () => failed,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('DynamoDB → Kinesis capture, when the new image cannot be read', () => {
  let emulators: Emulators;
  let clients: StackClients;
  let faults: Awaited<ReturnType<typeof startFaultyReads>>;
  let capture: DdbKinesisCapture;
  let retrying: DynamoDBClient;
  let once: DynamoDBClient;
  let reader: StreamReader;

  const claim = (id: string, extra: Record<string, AttributeValue> = {}): Record<string, AttributeValue> => ({
    claim_id: { S: id },
    claim_status: { S: 'In Review' },
    billed_amount: { N: '120.5' },
    ...extra,
  });
  const key = (id: string) => ({ claim_id: { S: id } });
  const decode = (records: Awaited<ReturnType<StreamReader['next']>>) =>
    records.map((r) => JSON.parse(Buffer.from(r.Data!).toString('utf8')) as DynamoDBKinesisRecord);
  const stored = async (id: string) => (await clients.dynamodb.send(new GetItemCommand({ TableName: TABLE, Key: key(id), ConsistentRead: true }))).Item;
  /** Every read the capture tries for one write (it retries 5 times before it fails the write). */
  const A_FAILED_WRITE = 5;

  beforeAll(async () => {
    emulators = await startEmulators();
    clients = createStackClients(
      { dynamodb: emulators.endpoints.dynamodb, kinesis: emulators.endpoints.kinesisHttp1, sqs: emulators.endpoints.sqs },
      config.region,
      LOCAL_CREDENTIALS,
    );
    await createResources(clients, config);
    faults = await startFaultyReads(emulators.endpoints.dynamodb);
    capture = await startDdbKinesisCapture({
      dynamodbEndpoint: faults.endpoint,
      kinesis: clients.kinesis,
      region: config.region,
      destinations: { [TABLE]: config.stream.name },
    });
    retrying = new DynamoDBClient({ endpoint: capture.endpoint, region: config.region, credentials: LOCAL_CREDENTIALS });
    once = new DynamoDBClient({ endpoint: capture.endpoint, region: config.region, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    reader = await openStreamReader(clients.kinesis, config.stream.name);
  });

  afterEach(() => faults.heal());

  afterAll(async () => {
    retrying.destroy();
    once.destroy();
    await capture.stop();
    await faults.close();
    clients.destroy();
    await emulators.stop();
  });

  it('fails the write to a client that does not retry, and still emits its change, with no flush and no other write', async () => {
    // Prepare
    await retrying.send(new PutItemCommand({ TableName: TABLE, Item: claim('F-ONCE') }));
    await capture.flush();
    await reader.next();
    const errorsBefore = capture.stats().captureErrors;
    faults.failReadsAfterNextWrite(A_FAILED_WRITE);
    // Act
    const write = once.send(new UpdateItemCommand({
      TableName: TABLE, Key: key('F-ONCE'), UpdateExpression: 'SET claim_status = :s', ExpressionAttributeValues: { ':s': { S: 'Rejected' } },
    }));
    // Assess: the client learns that its write is not confirmed (it was applied: DynamoDB says "may have succeeded").
    await expect(write).rejects.toMatchObject({ name: 'InternalServerError', $metadata: { httpStatusCode: 500 } });
    expect(faults.failed()).toBeGreaterThanOrEqual(A_FAILED_WRITE);
    expect((await stored('F-ONCE'))?.claim_status).toEqual({ S: 'Rejected' });
    const records = decode(await waitUntil(async () => {
      const next = await reader.next();
      return next.length > 0 ? next : undefined;
    }, 'the pending change on the stream'));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ eventName: 'MODIFY', dynamodb: { OldImage: claim('F-ONCE'), NewImage: claim('F-ONCE', { claim_status: { S: 'Rejected' } }) } });
    expect(capture.stats()).toMatchObject({ captureErrors: errorsBefore + 1, pendingChanges: 0 });
  });

  it.each([
    {
      name: 'an identical PutItem (the retry changes nothing)',
      id: 'F-PUT',
      act: (c: DynamoDBClient) => c.send(new PutItemCommand({ TableName: TABLE, Item: claim('F-PUT') })),
    },
    {
      name: 'a conditional PutItem (the retry fails its condition: the first attempt applied)',
      id: 'F-COND',
      act: (c: DynamoDBClient) =>
        c.send(new PutItemCommand({ TableName: TABLE, Item: claim('F-COND'), ConditionExpression: 'attribute_not_exists(claim_id)' })).catch((error: unknown) => {
          expect(error).toBeInstanceOf(ConditionalCheckFailedException);
        }),
    },
  ])('emits the change exactly once when the SDK retries $name', async ({ id, act }) => {
    // Prepare
    faults.failReadsAfterNextWrite(A_FAILED_WRITE);
    // Act
    await act(retrying);
    await capture.flush();
    const records = decode(await reader.next());
    // Assess
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ eventName: 'INSERT', dynamodb: { Keys: key(id), NewImage: claim(id) } });
    expect(records[0]!.dynamodb.OldImage).toBeUndefined();
    expect(capture.stats().pendingChanges).toBe(0);
  });

  it('emits a pending change before the change of the next write of the item, in order', async () => {
    // Prepare
    faults.failReadsAfterNextWrite(A_FAILED_WRITE);
    await expect(once.send(new PutItemCommand({ TableName: TABLE, Item: claim('F-NEXT') }))).rejects.toMatchObject({ name: 'InternalServerError' });
    // Act
    await once.send(new PutItemCommand({ TableName: TABLE, Item: claim('F-NEXT', { claim_status: { S: 'Approved' } }) }));
    await capture.flush();
    const records = decode(await reader.next());
    // Assess
    expect(records.map((r) => r.eventName)).toEqual(['INSERT', 'MODIFY']);
    expect(records[1]!.dynamodb.OldImage).toEqual(records[0]!.dynamodb.NewImage);
    expect(records[1]!.dynamodb.NewImage).toEqual(claim('F-NEXT', { claim_status: { S: 'Approved' } }));
    expect(records[1]!.dynamodb.ApproximateCreationDateTime).toBeGreaterThan(records[0]!.dynamodb.ApproximateCreationDateTime);
  });

  it('keeps a change through a long read outage: flush rejects while it is pending, and it is emitted once reads work', async () => {
    // Prepare
    faults.failReadsAfterNextWrite(Number.POSITIVE_INFINITY);
    await expect(once.send(new PutItemCommand({ TableName: TABLE, Item: claim('F-LONG') }))).rejects.toMatchObject({ name: 'InternalServerError' });
    // Act
    const whileDown = await capture.flush().then(() => 'flushed', (error: Error) => error.message);
    const pendingWhileDown = capture.stats().pendingChanges;
    faults.heal();
    await capture.flush();
    const records = decode(await reader.next());
    // Assess
    expect(whileDown).toMatch(/InternalServerError/);
    expect(pendingWhileDown).toBe(1);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ eventName: 'INSERT', dynamodb: { Keys: key('F-LONG'), NewImage: claim('F-LONG') } });
    expect(capture.stats().pendingChanges).toBe(0);
  });
});
