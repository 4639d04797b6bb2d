/**
 * createResources turns on the table's Kinesis streaming destination when asked (external endpoints): it reports
 * ACTIVE once the endpoint says so, reports an endpoint that does not implement the operation instead of failing the
 * start, and fails on any other refusal (a missing permission must not pass for "unsupported").
 */
import {
  CreateTableCommand,
  DescribeKinesisStreamingDestinationCommand,
  DescribeTableCommand,
  DynamoDBClient,
  DynamoDBServiceException,
  EnableKinesisStreamingDestinationCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import type { StackClients } from '../src/stack/aws-env';
import { loadStackConfig } from '../src/stack/local-config';
import { createResources } from '../src/stack/resources';

const config = loadStackConfig();
const streamArn = `arn:aws:kinesis:${config.region}:${config.accountId}:stream/${config.stream.name}`;

/** Clients whose table, stream and queues exist; DynamoDB's streaming-destination calls are left to each test. */
function clients() {
  const dynamodb = mockClient(DynamoDBClient);
  const kinesis = mockClient(KinesisClient);
  const sqs = mockClient(SQSClient);
  dynamodb.on(CreateTableCommand).resolves({});
  dynamodb.on(DescribeTableCommand).resolves({ Table: { TableStatus: 'ACTIVE', TableArn: 'arn:table' } });
  kinesis.on(CreateStreamCommand).resolves({});
  kinesis.on(DescribeStreamCommand).resolves({
    StreamDescription: {
      StreamName: config.stream.name,
      StreamARN: streamArn,
      StreamStatus: 'ACTIVE',
      // One shard over the whole hash key range (2^128 - 1), as a new one-shard stream has.
      Shards: [{ ShardId: 'shardId-000000000000', HashKeyRange: { StartingHashKey: '0', EndingHashKey: '340282366920938463463374607431768211455' }, SequenceNumberRange: { StartingSequenceNumber: '0' } }],
      HasMoreShards: false,
      RetentionPeriodHours: 24,
      StreamCreationTimestamp: new Date(),
      EnhancedMonitoring: [],
    },
  });
  sqs.on(CreateQueueCommand).callsFake((input: { QueueName: string }) => ({ QueueUrl: `http://sqs/${input.QueueName}` }));
  sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { QueueArn: 'arn:queue' } });
  const stack: StackClients = {
    dynamodb: new DynamoDBClient({ region: config.region }),
    kinesis: new KinesisClient({ region: config.region }),
    sqs: new SQSClient({ region: config.region }),
    destroy: () => undefined,
  };
  return { dynamodb, stack, restore: () => [dynamodb, kinesis, sqs].forEach((m) => m.restore()) };
}

const awsError = (name: string, message: string, httpStatusCode = 400) =>
  new DynamoDBServiceException({ name, message, $fault: 'client', $metadata: { httpStatusCode } });

describe('createResources: the table\'s Kinesis streaming destination', () => {
  it('enables it and reports ACTIVE once the endpoint describes it so', async () => {
    // Prepare
    const m = clients();
    try {
      m.dynamodb
        .on(DescribeKinesisStreamingDestinationCommand)
        .resolvesOnce({ KinesisDataStreamDestinations: [] })
        .resolvesOnce({ KinesisDataStreamDestinations: [{ StreamArn: streamArn, DestinationStatus: 'ENABLING' }] })
        .resolves({ KinesisDataStreamDestinations: [{ StreamArn: streamArn, DestinationStatus: 'ACTIVE' }] });
      m.dynamodb.on(EnableKinesisStreamingDestinationCommand).resolves({ DestinationStatus: 'ENABLING' });
      // Act
      const resources = await createResources(m.stack, config, { enableStreamingDestination: true });
      // Assess
      expect(resources.streamingDestination).toEqual({ status: 'ACTIVE' });
      expect(m.dynamodb.commandCalls(EnableKinesisStreamingDestinationCommand)[0]?.args[0].input).toMatchObject({ TableName: config.table.name, StreamArn: streamArn });
    } finally {
      m.restore();
    }
  });

  it('reuses a destination already ACTIVE without enabling it again', async () => {
    // Prepare
    const m = clients();
    try {
      m.dynamodb.on(DescribeKinesisStreamingDestinationCommand).resolves({ KinesisDataStreamDestinations: [{ StreamArn: streamArn, DestinationStatus: 'ACTIVE' }] });
      // Act
      const resources = await createResources(m.stack, config, { enableStreamingDestination: true });
      // Assess
      expect(resources.streamingDestination).toEqual({ status: 'ACTIVE' });
      expect(m.dynamodb.commandCalls(EnableKinesisStreamingDestinationCommand)).toHaveLength(0);
    } finally {
      m.restore();
    }
  });

  it.each([
    ['UnknownOperationException (dynalite)', awsError('UnknownOperationException', '')],
    ['501 Not Implemented', awsError('InternalFailure', 'The API action is not implemented', 501)],
  ])('reports an endpoint that does not implement it: %s', async (_, error) => {
    // Prepare
    const m = clients();
    try {
      m.dynamodb.on(DescribeKinesisStreamingDestinationCommand).rejects(error);
      // Act
      const resources = await createResources(m.stack, config, { enableStreamingDestination: true });
      // Assess
      expect(resources.streamingDestination).toMatchObject({ status: 'UNSUPPORTED', reason: expect.stringContaining(`changes to table ${config.table.name} reach stream ${config.stream.name} only if`) });
    } finally {
      m.restore();
    }
  });

  it('fails the start on any other refusal, such as a missing permission', async () => {
    // Prepare
    const m = clients();
    try {
      m.dynamodb.on(DescribeKinesisStreamingDestinationCommand).resolves({ KinesisDataStreamDestinations: [] });
      m.dynamodb.on(EnableKinesisStreamingDestinationCommand).rejects(awsError('ValidationException', 'User does not have a permission to use kinesis stream'));
      // Act
      const creating = createResources(m.stack, config, { enableStreamingDestination: true });
      // Assess
      await expect(creating).rejects.toThrow(/permission to use kinesis stream/);
    } finally {
      m.restore();
    }
  });

  it('leaves it alone when not asked (the embedded capture streams the table)', async () => {
    // Prepare
    const m = clients();
    try {
      // Act
      const resources = await createResources(m.stack, config);
      // Assess
      expect(resources.streamingDestination).toBeUndefined();
      expect(m.dynamodb.commandCalls(DescribeKinesisStreamingDestinationCommand)).toHaveLength(0);
    } finally {
      m.restore();
    }
  });
});
