/**
 * The SQS poller behaves like Lambda's SQS event source mapping: real SQSEvent shape, successes deleted, failures
 * left for redelivery after the visibility timeout, and the queue's RedrivePolicy moving a message that keeps failing
 * to its DLQ after maxReceiveCount receives.
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { SqsSchema } from '@aws-lambda-powertools/parser/schemas/sqs';
import type { SQSEvent } from 'aws-lambda';
import { startEmulators, type Emulators } from '../src/stack/emulators';
import { createStackClients, LOCAL_CREDENTIALS, type StackClients } from '../src/stack/aws-env';
import { startSqsPoller, type SqsHandler, type SqsPollerOptions } from '../src/stack/sqs-poller';
import { waitUntil } from './support/wait';

const REGION = 'us-east-1';

describe('SQS poller', () => {
  let emulators: Emulators;
  let clients: StackClients;
  let queues = 0;

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

  /** A source queue (visibility 0 s by default, so redelivery is immediate) with a DLQ after `maxReceiveCount` receives. */
  async function queuePair(maxReceiveCount: number, visibilityTimeout = '0') {
    const n = ++queues;
    const dlq = await createQueue(`dlq-${n}`, {});
    const source = await createQueue(`source-${n}`, {
      VisibilityTimeout: visibilityTimeout,
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount }),
    });
    return { source, dlq };
  }
  async function createQueue(name: string, attributes: Record<string, string>) {
    const { QueueUrl } = await clients.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const { Attributes } = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    return { url: QueueUrl!, arn: Attributes!.QueueArn! };
  }
  async function depth(url: string) {
    const { Attributes } = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return Number(Attributes!.ApproximateNumberOfMessages) + Number(Attributes!.ApproximateNumberOfMessagesNotVisible);
  }
  function options(queue: { url: string; arn: string }, handler: SqsHandler, batchSize = 10): SqsPollerOptions {
    return {
      sqs: clients.sqs,
      queueUrl: queue.url,
      queueArn: queue.arn,
      region: REGION,
      handler,
      function: { functionName: 'load', functionArn: `arn:aws:lambda:${REGION}:000000000000:function:load` },
      mapping: { batchSize, batchingWindowMs: 0, concurrency: 1 },
      waitTimeSeconds: 0,
    };
  }

  it('invokes with the real SQSEvent shape and deletes what succeeded', async () => {
    // Prepare
    const { source } = await queuePair(5);
    await clients.sqs.send(new SendMessageCommand({
      QueueUrl: source.url, MessageBody: '{"row":1}',
      MessageAttributes: { kind: { DataType: 'String', StringValue: 'row' } },
    }));
    const events: SQSEvent[] = [];
    const poller = startSqsPoller(options(source, async (event) => void events.push(event)));
    // Act
    await waitUntil(() => poller.counters().deleted >= 1, 'message deleted');
    await poller.stop();
    // Assess
    expect(SqsSchema.safeParse(events[0]).success).toBe(true);
    expect(events[0]!.Records[0]).toMatchObject({
      body: '{"row":1}',
      eventSource: 'aws:sqs',
      eventSourceARN: source.arn,
      awsRegion: REGION,
      attributes: { ApproximateReceiveCount: '1', SenderId: expect.any(String), SentTimestamp: expect.stringMatching(/^\d+$/) },
      messageAttributes: { kind: { dataType: 'String', stringValue: 'row', stringListValues: [], binaryListValues: [] } },
    });
    expect(await depth(source.url)).toBe(0);
  });

  it('receives up to batchSize messages over several ReceiveMessage calls', async () => {
    // Prepare: a real visibility timeout, so messages received first stay hidden while the batch fills.
    const { source } = await queuePair(5, '30');
    for (let i = 0; i < 25; i += 10) {
      await clients.sqs.send(new SendMessageBatchCommand({
        QueueUrl: source.url,
        Entries: Array.from({ length: Math.min(10, 25 - i) }, (_, j) => ({ Id: String(j), MessageBody: `m${i + j}` })),
      }));
    }
    const sizes: number[] = [];
    const poller = startSqsPoller(options(source, async (event) => void sizes.push(event.Records.length), 20));
    // Act
    await waitUntil(() => poller.counters().deleted >= 25, 'all deleted');
    await poller.stop();
    // Assess
    expect(sizes[0]).toBe(20);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(25);
  });

  it('puts a message received more than once while its batch fills in that batch once', async () => {
    // Prepare: visibility 0, so every receive while the batch fills sees the same messages again.
    const { source } = await queuePair(100);
    await clients.sqs.send(new SendMessageBatchCommand({
      QueueUrl: source.url,
      Entries: Array.from({ length: 10 }, (_, j) => ({ Id: String(j), MessageBody: `m${j}` })),
    }));
    const batches: string[][] = [];
    const poller = startSqsPoller({ ...options(source, async (event) => void batches.push(event.Records.map((r) => r.messageId)), 1_000), mapping: { batchSize: 1_000, batchingWindowMs: 200, concurrency: 1 } });
    // Act
    await waitUntil(() => (batches.length > 0 ? true : undefined), 'a first batch');
    await poller.stop();
    // Assess: each message once in the batch, however often it was received.
    expect(batches[0]!.length).toBe(10);
    expect(new Set(batches[0]).size).toBe(10);
  });

  it('redelivers reported failures, keeps successes deleted, and lets the redrive policy dead-letter after maxReceiveCount', async () => {
    // Prepare
    const maxReceiveCount = 3;
    const { source, dlq } = await queuePair(maxReceiveCount);
    await clients.sqs.send(new SendMessageBatchCommand({
      QueueUrl: source.url,
      Entries: [
        { Id: 'a', MessageBody: 'good' },
        { Id: 'b', MessageBody: 'flaky' },
        { Id: 'c', MessageBody: 'poison' },
      ],
    }));
    const seen: Record<string, string[]> = {};
    let flakyFailures = 1;
    const handler: SqsHandler = async (event) => {
      const failures: { itemIdentifier: string }[] = [];
      for (const record of event.Records) {
        (seen[record.body] ??= []).push(record.attributes.ApproximateReceiveCount);
        const fail = record.body === 'poison' || (record.body === 'flaky' && flakyFailures-- > 0);
        if (fail) failures.push({ itemIdentifier: record.messageId });
      }
      return { batchItemFailures: failures };
    };
    const poller = startSqsPoller(options(source, handler));
    // Act
    const deadLettered = await waitUntil(async () => {
      const { Messages } = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq.url, MessageSystemAttributeNames: ['All'] }));
      return Messages?.[0];
    }, 'poison message in the DLQ');
    await poller.stop();
    // Assess
    expect(deadLettered.Body).toBe('poison');
    expect(seen.good).toEqual(['1']);
    expect(seen.flaky).toEqual(['1', '2']);
    expect(seen.poison).toEqual(['1', '2', '3']);
    expect(await depth(source.url)).toBe(0);
    expect(poller.counters()).toMatchObject({ deleted: 2, batchItemFailures: 4 });
  });

  it('leaves the whole batch for redelivery when the handler throws', async () => {
    // Prepare
    const { source } = await queuePair(5);
    await clients.sqs.send(new SendMessageBatchCommand({
      QueueUrl: source.url, Entries: [{ Id: '1', MessageBody: 'x' }, { Id: '2', MessageBody: 'y' }],
    }));
    const receiveCounts: string[][] = [];
    let throwOnce = true;
    const poller = startSqsPoller(options(source, async (event) => {
      receiveCounts.push(event.Records.map((r) => r.attributes.ApproximateReceiveCount));
      if (throwOnce) {
        throwOnce = false;
        throw new Error('warehouse unavailable');
      }
    }));
    // Act
    await waitUntil(() => poller.counters().deleted >= 2, 'both deleted after the retry');
    await poller.stop();
    // Assess
    expect(receiveCounts.flat().sort()).toEqual(['1', '1', '2', '2']);
    expect(poller.counters()).toMatchObject({ failures: 1, leftForRedelivery: 2, lastError: 'Error: warehouse unavailable' });
  });
});
