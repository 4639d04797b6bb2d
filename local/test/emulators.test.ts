/**
 * The emulators speak the AWS wire protocols well enough for the clients our handlers build: a plain
 * `new XClient({})` configured only through AWS_ENDPOINT_URL_* and dummy credentials.
 */
import { DynamoDBClient, CreateTableCommand, PutItemCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { KinesisClient, CreateStreamCommand, PutRecordCommand, GetShardIteratorCommand, GetRecordsCommand, DescribeStreamCommand } from '@aws-sdk/client-kinesis';
import { SQSClient, CreateQueueCommand, SendMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startEmulators, type Emulators } from '../src/stack/emulators';
import { applyEnvironment, awsEnvironment } from '../src/stack/aws-env';

describe('embedded emulators', () => {
  let emulators: Emulators;
  let restoreEnv: () => void;

  beforeAll(async () => {
    emulators = await startEmulators();
    const { dynamodb, kinesis, sqs } = emulators.endpoints;
    restoreEnv = applyEnvironment(awsEnvironment({ dynamodb, kinesis, sqs }, 'us-east-1', true));
  });

  afterAll(async () => {
    restoreEnv();
    await emulators.stop();
  });

  it('listens on loopback only, on distinct ephemeral ports', () => {
    // Assess
    const urls = Object.values(emulators.endpoints).map((e) => new URL(e));
    expect(urls.every((u) => u.hostname === '127.0.0.1')).toBe(true);
    expect(new Set(urls.map((u) => u.port)).size).toBe(urls.length);
  });

  it('serves a plain DynamoDBClient from the environment alone', async () => {
    // Prepare
    const client = new DynamoDBClient({});
    try {
      await client.send(new CreateTableCommand({
        TableName: 'EnvOnly', BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      }));
      // Act
      await client.send(new PutItemCommand({ TableName: 'EnvOnly', Item: { id: { S: 'a' }, n: { N: '7' } } }));
      const { Item } = await client.send(new GetItemCommand({ TableName: 'EnvOnly', Key: { id: { S: 'a' } }, ConsistentRead: true }));
      // Assess
      expect(Item).toEqual({ id: { S: 'a' }, n: { N: '7' } });
    } finally {
      client.destroy();
    }
  });

  it('serves a plain SQSClient, with queue URLs on the endpoint origin', async () => {
    // Prepare
    const client = new SQSClient({});
    try {
      const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'env-only' }));
      // Act
      await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' }));
      const { Messages } = await client.send(new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
      // Assess
      expect(new URL(QueueUrl!).origin).toBe(new URL(emulators.endpoints.sqs).origin);
      expect(Messages?.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount])).toEqual([['hello', '1']]);
    } finally {
      client.destroy();
    }
  });

  it('needs the front door: kinesalite itself refuses the SDK default HTTP/2 client (the quirk the bridge exists for)', async () => {
    // Prepare
    const client = new KinesisClient({ endpoint: emulators.endpoints.kinesisHttp1, maxAttempts: 1 });
    try {
      // Act + Assess
      await expect(client.send(new DescribeStreamCommand({ StreamName: 'any' }))).rejects.toThrow(/Protocol error|ERR_HTTP2/);
    } finally {
      client.destroy();
    }
  });

  describe.each([
    ['the SDK default (HTTP/2)', () => new KinesisClient({})],
    ['an HTTP/1.1 handler', () => new KinesisClient({ requestHandler: new NodeHttpHandler() })],
  ])('serves a KinesisClient with %s', (_label, makeClient) => {
    it('round-trips a record through one shard', async () => {
      // Prepare
      const client = makeClient();
      const stream = `env-only-${Math.random().toString(36).slice(2, 8)}`;
      try {
        await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
        const { StreamDescription } = await client.send(new DescribeStreamCommand({ StreamName: stream }));
        // Act
        const put = await client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'p', Data: Buffer.from('payload') }));
        const { ShardIterator } = await client.send(new GetShardIteratorCommand({
          StreamName: stream, ShardId: StreamDescription!.Shards![0]!.ShardId!, ShardIteratorType: 'TRIM_HORIZON',
        }));
        const { Records } = await client.send(new GetRecordsCommand({ ShardIterator }));
        // Assess
        expect(Records?.map((r) => [r.SequenceNumber, Buffer.from(r.Data!).toString()])).toEqual([[put.SequenceNumber, 'payload']]);
      } finally {
        client.destroy();
      }
    });
  });
});
