/**
 * The poller's two ways to read a shard give the same records: the SDK's GetRecords (any endpoint) and the JSON
 * reader of the stack's own kinesalite. Compared on bytes that are not text, an empty record set, and the errors the
 * poller acts on (an expired iterator is the SDK's ExpiredIteratorException from both).
 */
import { randomBytes } from 'node:crypto';
import { CreateStreamCommand, DescribeStreamCommand, ExpiredIteratorException, GetShardIteratorCommand, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { createStackClients, LOCAL_CREDENTIALS, type StackClients } from '../src/stack/aws-env';
import { startEmulators, type Emulators } from '../src/stack/emulators';
import { jsonGetRecords, sdkGetRecords, type GetRecords } from '../src/stack/kinesis-get-records';
import { waitUntil } from './support/wait';

const REGION = 'us-east-1';

describe('reading a shard', () => {
  let emulators: Emulators;
  let clients: StackClients;
  let readers: [string, GetRecords][];
  let streams = 0;
  const signal = new AbortController().signal;

  beforeAll(async () => {
    emulators = await startEmulators();
    clients = createStackClients({ kinesis: emulators.endpoints.kinesisHttp1 }, REGION, LOCAL_CREDENTIALS);
    readers = [
      ['sdk', sdkGetRecords(clients.kinesis)],
      ['json', jsonGetRecords(emulators.endpoints.kinesisHttp1, REGION)],
    ];
  });
  afterAll(async () => {
    clients.destroy();
    await emulators.stop();
  });

  /** A one-shard stream holding `payloads`, and an iterator at its start. */
  async function streamWith(payloads: Buffer[], keys: string[] = payloads.map((_, i) => `key-${i}`)): Promise<{ iterator: () => Promise<string>; name: string }> {
    const name = `get-records-${++streams}`;
    await clients.kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    const shardId = await waitUntil(async () => {
      const { StreamDescription } = await clients.kinesis.send(new DescribeStreamCommand({ StreamName: name }));
      return StreamDescription?.StreamStatus === 'ACTIVE' ? StreamDescription.Shards?.[0]?.ShardId : undefined;
    }, 'stream ACTIVE');
    for (const [i, data] of payloads.entries()) await clients.kinesis.send(new PutRecordCommand({ StreamName: name, PartitionKey: keys[i], Data: data }));
    const iterator = async () =>
      (await clients.kinesis.send(new GetShardIteratorCommand({ StreamName: name, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator as string;
    return { iterator, name };
  }

  it('returns the same records both ways: sequence numbers, keys, arrival times and the exact bytes as base64', async () => {
    // Prepare: bytes that are not UTF-8, JSON text, one empty-ish byte, and a 100 KB record.
    const payloads = [randomBytes(300), Buffer.from('{"claim_id":{"S":"CLM-1"},"n":{"N":"12345678901234567890123456789012345678"}}'), Buffer.from([0]), randomBytes(100_000)];
    const stream = await streamWith(payloads);
    // Act
    const replies = await Promise.all(readers.map(async ([, read]) => read(await stream.iterator(), 100, signal)));
    // Assess
    const [sdk, json] = replies;
    expect(json?.records).toEqual(sdk?.records);
    expect(json?.records.map((r) => Buffer.from(r.dataBase64, 'base64'))).toEqual(payloads);
    expect(json?.records.map((r) => r.partitionKey)).toEqual(['key-0', 'key-1', 'key-2', 'key-3']);
    expect(typeof json?.nextShardIterator).toBe('string');
    expect(json?.millisBehindLatest).toBe(sdk?.millisBehindLatest);
  });

  it.each([
    ['ASCII only', ['CLM-1', 'key 2']],
    ['accents, CJK and an emoji (a reply that is not ASCII)', ['réclamation-é', '請求-42', 'claim-🦷']],
  ])('returns partition keys exactly, both ways: %s', async (_, keys) => {
    // Prepare
    const stream = await streamWith(keys.map((key) => Buffer.from(`{"k":"${key}"}`)), keys);
    // Act
    const replies = await Promise.all(readers.map(async ([, read]) => read(await stream.iterator(), 100, signal)));
    // Assess
    const [sdk, json] = replies;
    expect(json?.records.map((r) => r.partitionKey)).toEqual(keys);
    expect(json?.records).toEqual(sdk?.records);
  });

  it('returns no records and a next iterator at the end of a shard, both ways', async () => {
    // Prepare
    const stream = await streamWith([]);
    // Act
    const replies = await Promise.all(readers.map(async ([, read]) => read(await stream.iterator(), 10, signal)));
    // Assess
    for (const reply of replies) {
      expect(reply.records).toEqual([]);
      expect(reply.nextShardIterator).toEqual(expect.any(String));
    }
  });

  it.each([0, 1])('throws the SDK exception the poller renews the iterator on, for an expired iterator (reader %i)', async (index) => {
    // Prepare: kinesalite iterators expire after five minutes; one minted six minutes ago is expired.
    const [, read] = readers[index] as [string, GetRecords];
    const stream = await streamWith([Buffer.from('x')]);
    const now = Date.now;
    let expired: string;
    try {
      Date.now = () => now() - 6 * 60_000;
      expired = await stream.iterator();
    } finally {
      Date.now = now;
    }
    // Act
    const reading = read(expired, 10, signal);
    // Assess
    await expect(reading).rejects.toBeInstanceOf(ExpiredIteratorException);
  });

  it.each([0, 1])('rejects an iterator that is not one, naming the error (reader %i)', async (index) => {
    // Prepare
    const [, read] = readers[index] as [string, GetRecords];
    // Act
    const reading = read('not-an-iterator', 10, signal);
    // Assess
    await expect(reading).rejects.toThrow(/Invalid|validation|ShardIterator/i);
  });
});

describe('the JSON reader, on a reply that is not JSON', () => {
  it('names the status and length, never the body (it carries records, claim images)', async () => {
    // Prepare: a server that answers with text cut in the middle of a record.
    const http = await import('node:http');
    const body = '{"Records":[{"Data":"eyJwYXRpZW50Ijp7Imxhc3RfbmFtZSI6IkRvZSJ9fQ==", "PartitionKey":"CLM-SECRET';
    const server = http.createServer((_request, response) => response.writeHead(500).end(body));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      // Act
      const reading = jsonGetRecords(`http://127.0.0.1:${port}`, REGION)('iterator', 10, new AbortController().signal);
      // Assess
      const error = (await reading.catch((e: unknown) => e)) as Error;
      expect(error.message).toBe(`GetRecords reply is not JSON (HTTP 500, ${body.length} characters)`);
      expect(error.message).not.toMatch(/eyJ|SECRET/);
    } finally {
      server.close();
    }
  });
});

describe('the JSON reader, on a kept-alive socket the server closes', () => {
  it('sends the request again on a new socket, once', async () => {
    // Prepare: a server that answers the first request on each connection and drops the connection when a second one
    // arrives on it, as a server whose keep-alive timeout fired just as the client reused the socket.
    const http = await import('node:http');
    const reply = JSON.stringify({ Records: [], NextShardIterator: 'next', MillisBehindLatest: 0 });
    let connections = 0;
    let dropped = 0;
    const server = http.createServer((request, response) => {
      const socket = request.socket as import('node:net').Socket & { served?: boolean };
      if (socket.served) {
        dropped += 1;
        return void socket.destroy();
      }
      socket.served = true;
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(reply);
    });
    server.on('connection', () => (connections += 1));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const read = jsonGetRecords(`http://127.0.0.1:${port}`, REGION);
    try {
      await read('first', 10, new AbortController().signal);
      // The first socket back in the agent's pool before the next call, so that the call goes out on it.
      await new Promise((resolve) => setImmediate(resolve));
      // Act: the second call goes out on the kept-alive socket, which the server drops.
      const second = await read('second', 10, new AbortController().signal);
      // Assess
      expect(second).toEqual({ records: [], nextShardIterator: 'next', millisBehindLatest: 0 });
      expect({ dropped, connections }).toEqual({ dropped: 1, connections: 2 });
    } finally {
      server.close();
      server.closeAllConnections();
    }
  });
});
