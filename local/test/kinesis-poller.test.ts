/**
 * The Kinesis poller behaves like Lambda's event source mapping: real event shape, batches in shard order,
 * partial-failure retry from the lowest failed sequence number, bisect + bounded retries + on-failure destination
 * for thrown errors, N shards each in order.
 */
import { CreateStreamCommand, DescribeStreamCommand, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { KinesisDataStreamSchema } from '@aws-lambda-powertools/parser/schemas/kinesis';
import type { KinesisStreamEvent, KinesisStreamBatchResponse } from 'aws-lambda';
import { startEmulators, type Emulators } from '../src/stack/emulators';
import { createStackClients, LOCAL_CREDENTIALS, type StackClients } from '../src/stack/aws-env';
import { startKinesisPoller, type KinesisHandler, type KinesisOnFailureRecord, type KinesisPollerOptions } from '../src/stack/kinesis-poller';
import { waitUntil } from './support/wait';

const REGION = 'us-east-1';

describe('Kinesis poller', () => {
  let emulators: Emulators;
  let clients: StackClients;
  let streams = 0;

  beforeAll(async () => {
    emulators = await startEmulators();
    clients = createStackClients(
      { dynamodb: emulators.endpoints.dynamodb, kinesis: emulators.endpoints.kinesisHttp1, sqs: emulators.endpoints.sqs },
      REGION,
      LOCAL_CREDENTIALS,
    );
  });

  afterAll(async () => {
    clients.destroy();
    await emulators.stop();
  });

  /** A fresh stream holding `payloads` (partition keys chosen by `keyOf`), with its shard ids and ARN. */
  async function streamWith(payloads: string[], shardCount = 1, keyOf: (p: string, i: number) => string = () => 'one-key') {
    const name = `poller-${++streams}`;
    await clients.kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shardCount }));
    const described = await waitUntil(async () => {
      const { StreamDescription } = await clients.kinesis.send(new DescribeStreamCommand({ StreamName: name }));
      return StreamDescription?.StreamStatus === 'ACTIVE' ? StreamDescription : undefined;
    }, 'stream ACTIVE');
    for (const [i, p] of payloads.entries()) {
      await clients.kinesis.send(new PutRecordCommand({ StreamName: name, PartitionKey: keyOf(p, i), Data: Buffer.from(p) }));
    }
    return { name, arn: described.StreamARN!, shardIds: described.Shards!.map((s) => s.ShardId!) };
  }

  function pollerOptions(stream: { name: string; arn: string; shardIds: string[] }, handler: KinesisHandler, overrides: Partial<KinesisPollerOptions['mapping']> = {}): KinesisPollerOptions {
    return {
      kinesis: clients.kinesis,
      sqs: clients.sqs,
      streamName: stream.name,
      streamArn: stream.arn,
      shardIds: stream.shardIds,
      region: REGION,
      handler,
      function: { functionName: 'transform', functionArn: `arn:aws:lambda:${REGION}:000000000000:function:transform` },
      roleArn: 'arn:aws:iam::000000000000:role/transform-role',
      mapping: { batchSize: 4, batchingWindowMs: 0, startingPosition: 'TRIM_HORIZON', maxRetryAttempts: 2, bisectBatchOnFunctionError: true, idlePollMs: 10, ...overrides },
    };
  }

  const payloadsOf = (event: KinesisStreamEvent) => event.Records.map((r) => Buffer.from(r.kinesis.data, 'base64').toString());
  const range = (n: number) => Array.from({ length: n }, (_, i) => `r${i + 1}`);

  it('invokes with the real Lambda Kinesis event shape, at most batchSize records per call', async () => {
    // Prepare
    const stream = await streamWith(range(6));
    const events: KinesisStreamEvent[] = [];
    const poller = startKinesisPoller(pollerOptions(stream, async (event) => void events.push(event)));
    // Act
    await waitUntil(() => events.flatMap(payloadsOf).length >= 6, 'all records delivered');
    await poller.stop();
    // Assess
    for (const event of events) {
      expect(KinesisDataStreamSchema.safeParse(event).success).toBe(true);
      expect(event.Records.length).toBeLessThanOrEqual(4);
    }
    const record = events[0]!.Records[0]!;
    expect(record).toMatchObject({
      eventSource: 'aws:kinesis',
      eventName: 'aws:kinesis:record',
      eventVersion: '1.0',
      eventSourceARN: stream.arn,
      awsRegion: REGION,
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/transform-role',
      kinesis: { kinesisSchemaVersion: '1.0', partitionKey: 'one-key' },
    });
    expect(record.eventID).toBe(`${stream.shardIds[0]}:${record.kinesis.sequenceNumber}`);
    expect(typeof record.kinesis.approximateArrivalTimestamp).toBe('number');
    expect(events.flatMap(payloadsOf)).toEqual(range(6));
  });

  it('reads ahead while the handler runs: the records after its batch are fetched before it returns, and delivered in order', async () => {
    // Prepare: the first invocation waits until the test lets it go.
    const stream = await streamWith(range(12));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const delivered: string[] = [];
    const poller = startKinesisPoller(pollerOptions(stream, async (event) => {
      if (delivered.length === 0) await held;
      delivered.push(...payloadsOf(event));
    }));
    try {
      // Act: while the first batch (4 records) is held, the other 8 are read.
      const ahead = await waitUntil(() => (poller.counters().pendingRecords >= 12 ? poller.counters().pendingRecords : undefined), 'the records after the first batch fetched');
      release();
      await waitUntil(() => delivered.length >= 12, 'all records delivered');
      // Assess
      expect(ahead).toBe(12);
      expect(delivered).toEqual(range(12));
    } finally {
      release();
      await poller.stop();
    }
  });

  it('retries from the lowest failed sequence number after a partial failure, checkpointing what came before', async () => {
    // Prepare: r2 and r3 fail the first time they are seen.
    const stream = await streamWith(range(8));
    const failOnce = new Set(['r2', 'r3']);
    const invocations: string[][] = [];
    const acknowledged: string[] = [];
    const handler: KinesisHandler = async (event): Promise<KinesisStreamBatchResponse> => {
      const payloads = payloadsOf(event);
      invocations.push(payloads);
      const failed = event.Records.filter((_, i) => failOnce.delete(payloads[i]!) );
      // Lambda acknowledges every record before the lowest failed one; report failures in reverse to prove "lowest".
      const firstFailed = failed.length ? payloads.indexOf(Buffer.from(failed[0]!.kinesis.data, 'base64').toString()) : payloads.length;
      acknowledged.push(...payloads.slice(0, firstFailed));
      return { batchItemFailures: failed.reverse().map((r) => ({ itemIdentifier: r.kinesis.sequenceNumber })) };
    };
    const poller = startKinesisPoller(pollerOptions(stream, handler));
    // Act
    await waitUntil(() => acknowledged.length >= 8, 'every record acknowledged');
    await poller.stop();
    // Assess
    expect(invocations[0]).toEqual(['r1', 'r2', 'r3', 'r4']);
    expect(invocations[1]![0]).toBe('r2');
    expect(acknowledged).toEqual(range(8));
    const counters = poller.counters();
    expect(counters).toMatchObject({ failures: 1, batchItemFailures: 2, discardedBatches: 0, pendingRecords: 0 });
    expect(counters.shards[stream.shardIds[0]!]!.checkpoint).toBe(await lastSequence(stream.name, stream.shardIds[0]!));
  });

  it('bisects a batch whose invocation throws, retries the poison record a bounded number of times, then sends its metadata to the on-failure queue', async () => {
    // Prepare
    const stream = await streamWith(range(8));
    const { QueueUrl } = await clients.sqs.send(new CreateQueueCommand({ QueueName: `on-failure-${streams}` }));
    const succeeded: string[] = [];
    const poisonAttempts: number[] = [];
    const handler: KinesisHandler = async (event) => {
      const payloads = payloadsOf(event);
      if (payloads.includes('r3')) {
        poisonAttempts.push(payloads.length);
        throw new Error('cannot process r3');
      }
      succeeded.push(...payloads);
    };
    const poller = startKinesisPoller({ ...pollerOptions(stream, handler), onFailureQueueUrl: QueueUrl! });
    // Act
    await waitUntil(() => succeeded.length >= 7, 'every other record processed');
    await poller.stop();
    // Assess
    expect(succeeded).toEqual(range(8).filter((r) => r !== 'r3'));
    expect(poisonAttempts.filter((size) => size === 1)).toHaveLength(3); // first attempt + maxRetryAttempts (2)
    expect(poisonAttempts.slice(0, 2)).toEqual([4, 2]); // halved before being retried alone
    const { Messages } = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    expect(Messages).toHaveLength(1);
    const failure = JSON.parse(Messages![0]!.Body!) as KinesisOnFailureRecord;
    const r3Sequence = await sequenceOf(stream.name, stream.shardIds[0]!, 'r3');
    expect(failure).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 },
      responseContext: { functionError: 'Unhandled' },
      KinesisBatchInfo: { shardId: stream.shardIds[0], startSequenceNumber: r3Sequence, endSequenceNumber: r3Sequence, batchSize: 1, streamArn: stream.arn },
    });
    expect(poller.counters()).toMatchObject({ discardedBatches: 1, discardedRecords: 1, lastError: 'Error: cannot process r3' });
  });

  it('treats a batchItemFailures entry that names no record of the batch as a whole-batch failure', async () => {
    // Prepare
    const stream = await streamWith(range(2));
    const invocations: string[][] = [];
    let lie = true;
    const poller = startKinesisPoller(pollerOptions(stream, async (event) => {
      invocations.push(payloadsOf(event));
      if (lie) {
        lie = false;
        return { batchItemFailures: [{ itemIdentifier: 'not-a-sequence-number' }] };
      }
      return { batchItemFailures: [] };
    }));
    // Act
    await waitUntil(() => invocations.length >= 3, 'retries after the bad response');
    await poller.stop();
    // Assess: the batch was split and redelivered from its first record.
    expect(invocations.slice(0, 3)).toEqual([['r1', 'r2'], ['r1'], ['r2']]);
  });

  it('polls every shard and keeps each shard in order', async () => {
    // Prepare
    const payloads = Array.from({ length: 40 }, (_, i) => `k${i % 8}-${String(i).padStart(2, '0')}`);
    const stream = await streamWith(payloads, 3, (p) => p.split('-')[0]!);
    const byShard = new Map<string, string[]>();
    const poller = startKinesisPoller(pollerOptions(stream, async (event) => {
      for (const r of event.Records) {
        const shard = r.eventID.split(':')[0]!;
        byShard.set(shard, [...(byShard.get(shard) ?? []), Buffer.from(r.kinesis.data, 'base64').toString()]);
      }
    }, { batchSize: 5 }));
    // Act
    await waitUntil(() => [...byShard.values()].flat().length >= 40, 'all records from all shards');
    await poller.stop();
    // Assess
    expect([...byShard.values()].flat().sort()).toEqual([...payloads].sort());
    expect(byShard.size).toBeGreaterThan(1);
    for (const [, seen] of byShard) {
      for (const key of new Set(seen.map((p) => p.split('-')[0]))) {
        const ofKey = seen.filter((p) => p.startsWith(`${key}-`));
        expect(ofKey).toEqual(payloads.filter((p) => p.startsWith(`${key}-`)));
      }
    }
  });

  it('lets an invocation in flight finish and checkpoint when stopped', async () => {
    // Prepare
    const stream = await streamWith(range(1));
    let release!: () => void;
    let started!: () => void;
    const inFlight = new Promise<void>((resolve) => (started = resolve));
    const poller = startKinesisPoller(pollerOptions(stream, () => {
      started();
      return new Promise<void>((resolve) => (release = resolve));
    }));
    await inFlight;
    // Act
    const stopping = poller.stop();
    release();
    await stopping;
    // Assess
    expect(poller.counters()).toMatchObject({ invocations: 1, failures: 0, pendingRecords: 0 });
    expect(poller.counters().shards[stream.shardIds[0]!]!.checkpoint).toBe(await lastSequence(stream.name, stream.shardIds[0]!));
  });

  async function allRecords(streamName: string, shardId: string) {
    const { GetShardIteratorCommand, GetRecordsCommand } = await import('@aws-sdk/client-kinesis');
    const { ShardIterator } = await clients.kinesis.send(new GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }));
    const { Records } = await clients.kinesis.send(new GetRecordsCommand({ ShardIterator }));
    return Records ?? [];
  }
  async function lastSequence(streamName: string, shardId: string) {
    return (await allRecords(streamName, shardId)).at(-1)?.SequenceNumber;
  }
  async function sequenceOf(streamName: string, shardId: string, payload: string) {
    return (await allRecords(streamName, shardId)).find((r) => Buffer.from(r.Data!).toString() === payload)?.SequenceNumber;
  }
});
