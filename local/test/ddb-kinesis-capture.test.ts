/**
 * The DynamoDB → Kinesis capture writes, for every item a write changes, one record in the format of DynamoDB's
 * Kinesis streaming destination, and nothing for writes that change nothing.
 */
import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamToKinesisRecord } from '@aws-lambda-powertools/parser/schemas/dynamodb';
import { startEmulators, type Emulators } from '../src/stack/emulators';
import { createStackClients, LOCAL_CREDENTIALS, type StackClients } from '../src/stack/aws-env';
import { createResources } from '../src/stack/resources';
import { defaultStackConfig } from '../src/stack/local-config';
import { startDdbKinesisCapture, type DdbKinesisCapture, type DynamoDBKinesisRecord } from '../src/stack/ddb-kinesis-capture';
import { changePartitionKey } from '../src/stack/partition-key';
import { openStreamReader, type StreamReader } from './support/stream-reader';

const config = defaultStackConfig();
const TABLE = config.table.name;

describe('DynamoDB → Kinesis capture', () => {
  let emulators: Emulators;
  let clients: StackClients;
  let capture: DdbKinesisCapture;
  let ddb: DynamoDBClient;
  let reader: StreamReader;

  /** Runs a write through the capture and returns the records it produced. */
  async function captured(act: () => Promise<unknown>): Promise<DynamoDBKinesisRecord[]> {
    await act();
    await capture.flush();
    const records = await reader.next();
    return records.map((r) => JSON.parse(Buffer.from(r.Data!).toString('utf8')) as DynamoDBKinesisRecord);
  }
  async function capturedWithKeys(act: () => Promise<unknown>) {
    await act();
    await capture.flush();
    return reader.next();
  }

  const claim = (id: string, extra: Record<string, AttributeValue> = {}): Record<string, AttributeValue> => ({
    claim_id: { S: id },
    claim_status: { S: 'In Review' },
    billed_amount: { N: '120.5' },
    ...extra,
  });
  const put = (item: Record<string, AttributeValue>) => ddb.send(new PutItemCommand({ TableName: TABLE, Item: item }));
  const key = (id: string) => ({ claim_id: { S: id } });

  beforeAll(async () => {
    emulators = await startEmulators();
    clients = createStackClients(
      { dynamodb: emulators.endpoints.dynamodb, kinesis: emulators.endpoints.kinesisHttp1, sqs: emulators.endpoints.sqs },
      config.region,
      LOCAL_CREDENTIALS,
    );
    await createResources(clients, config);
    await clients.dynamodb.send(new CreateTableCommand({
      TableName: 'NotCaptured', BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    }));
    capture = await startDdbKinesisCapture({
      dynamodbEndpoint: emulators.endpoints.dynamodb,
      kinesis: clients.kinesis,
      region: config.region,
      destinations: { [TABLE]: config.stream.name },
    });
    ddb = new DynamoDBClient({ endpoint: capture.endpoint, region: config.region, credentials: LOCAL_CREDENTIALS });
    reader = await openStreamReader(clients.kinesis, config.stream.name);
  });

  afterAll(async () => {
    ddb.destroy();
    await capture.stop();
    clients.destroy();
    await emulators.stop();
  });

  describe.each([
    {
      name: 'INSERT (PutItem of a new item)',
      prepare: async () => undefined,
      act: () => put(claim('C-INS')),
      expected: { eventName: 'INSERT', keys: key('C-INS'), newImage: claim('C-INS'), oldImage: undefined },
    },
    {
      name: 'MODIFY (PutItem over an existing item)',
      prepare: () => put(claim('C-PUT')),
      act: () => put(claim('C-PUT', { claim_status: { S: 'Approved' } })),
      expected: { eventName: 'MODIFY', keys: key('C-PUT'), newImage: claim('C-PUT', { claim_status: { S: 'Approved' } }), oldImage: claim('C-PUT') },
    },
    {
      name: 'MODIFY (UpdateItem)',
      prepare: () => put(claim('C-UPD')),
      act: () =>
        ddb.send(new UpdateItemCommand({
          TableName: TABLE, Key: key('C-UPD'),
          UpdateExpression: 'SET claim_status = :s, payment_status = :p',
          ExpressionAttributeValues: { ':s': { S: 'Rejected' }, ':p': { S: 'Denied' } },
        })),
      expected: {
        eventName: 'MODIFY', keys: key('C-UPD'),
        newImage: claim('C-UPD', { claim_status: { S: 'Rejected' }, payment_status: { S: 'Denied' } }),
        oldImage: claim('C-UPD'),
      },
    },
    {
      name: 'REMOVE (DeleteItem)',
      prepare: () => put(claim('C-DEL')),
      act: () => ddb.send(new DeleteItemCommand({ TableName: TABLE, Key: key('C-DEL') })),
      expected: { eventName: 'REMOVE', keys: key('C-DEL'), newImage: undefined, oldImage: claim('C-DEL') },
    },
  ])('$name', ({ prepare, act, expected }) => {
    let records: DynamoDBKinesisRecord[];
    let partitionKeys: string[];
    let window: { fromMicros: number; toMicros: number };

    beforeAll(async () => {
      // Prepare
      await captured(prepare);
      // Act
      const fromMicros = Date.now() * 1000;
      const raw = await capturedWithKeys(act);
      window = { fromMicros, toMicros: (Date.now() + 1) * 1000 };
      records = raw.map((r) => JSON.parse(Buffer.from(r.Data!).toString('utf8')) as DynamoDBKinesisRecord);
      partitionKeys = raw.map((r) => r.PartitionKey!);
    });

    it('emits exactly one record that the Powertools DynamoDBStreamToKinesisRecord schema accepts', () => {
      // Assess
      expect(records).toHaveLength(1);
      const parsed = DynamoDBStreamToKinesisRecord.safeParse(records[0]);
      expect(parsed.error).toBeUndefined();
      expect(parsed.success).toBe(true);
    });

    it('has the AWS envelope: fields, order, fixed values', () => {
      // Assess
      const [record] = records;
      expect(Object.keys(record!)).toEqual(['awsRegion', 'eventID', 'eventName', 'userIdentity', 'recordFormat', 'tableName', 'dynamodb', 'eventSource']);
      expect(record).toMatchObject({
        awsRegion: config.region,
        eventName: expected.eventName,
        userIdentity: null,
        recordFormat: 'application/json',
        tableName: TABLE,
        eventSource: 'aws:dynamodb',
      });
      expect(record!.eventID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    });

    it('carries Keys, NewImage and OldImage as AWS does for this event', () => {
      // Assess
      const { dynamodb } = records[0]!;
      expect(dynamodb.Keys).toEqual(expected.keys);
      expect(dynamodb.NewImage).toEqual(expected.newImage);
      expect(dynamodb.OldImage).toEqual(expected.oldImage);
      expect('NewImage' in dynamodb).toBe(expected.newImage !== undefined);
      expect('OldImage' in dynamodb).toBe(expected.oldImage !== undefined);
      expect(dynamodb.SizeBytes).toBeGreaterThan(0);
    });

    it('stamps ApproximateCreationDateTime as integer microseconds with its precision field', () => {
      // Assess
      const { dynamodb } = records[0]!;
      expect(dynamodb.ApproximateCreationDateTimePrecision).toBe('MICROSECOND');
      expect(Number.isInteger(dynamodb.ApproximateCreationDateTime)).toBe(true);
      expect(dynamodb.ApproximateCreationDateTime).toBeGreaterThanOrEqual(window.fromMicros);
      expect(dynamodb.ApproximateCreationDateTime).toBeLessThanOrEqual(window.toMicros);
    });

    it('uses an upper-case MD5 hex hash as the partition key, not the item key: the one formula of partition-key.ts', () => {
      // Assess
      expect(partitionKeys[0]).toMatch(/^[0-9A-F]{32}$/);
      expect(partitionKeys[0]).toBe(changePartitionKey(records[0]!.tableName, records[0]!.dynamodb.Keys));
      expect(partitionKeys[0]).not.toContain((expected.keys.claim_id as { S: string }).S);
    });
  });

  it('captures every item of a BatchWriteItem (puts and deletes) and nothing for items it did not change', async () => {
    // Prepare
    await captured(() => Promise.all([put(claim('B-OLD')), put(claim('B-SAME'))]));
    // Act
    const records = await captured(() =>
      ddb.send(new BatchWriteItemCommand({
        RequestItems: {
          [TABLE]: [
            { PutRequest: { Item: claim('B-NEW') } },
            { PutRequest: { Item: claim('B-SAME') } },
            { DeleteRequest: { Key: key('B-OLD') } },
            { DeleteRequest: { Key: key('B-MISSING') } },
          ],
          NotCaptured: [{ PutRequest: { Item: { id: { S: 'x' } } } }],
        },
      })),
    );
    // Assess
    const summary = records.map((r) => [r.eventName, r.dynamodb.Keys.claim_id!.S]).sort();
    expect(summary).toEqual([['INSERT', 'B-NEW'], ['REMOVE', 'B-OLD']]);
    for (const record of records) expect(DynamoDBStreamToKinesisRecord.safeParse(record).success).toBe(true);
  });

  describe.each([
    { name: 'a PutItem identical to the stored item', act: () => put(claim('N-SAME')) },
    {
      name: 'an UpdateItem that sets the values already stored',
      act: () => ddb.send(new UpdateItemCommand({
        TableName: TABLE, Key: key('N-SAME'), UpdateExpression: 'SET claim_status = :s', ExpressionAttributeValues: { ':s': { S: 'In Review' } },
      })),
    },
    {
      name: 'a conditional write whose condition fails',
      act: () =>
        ddb.send(new PutItemCommand({ TableName: TABLE, Item: claim('N-SAME', { claim_status: { S: 'Paid' } }), ConditionExpression: 'attribute_not_exists(claim_id)' }))
          .catch((e: unknown) => expect(e).toBeInstanceOf(ConditionalCheckFailedException)),
    },
    { name: 'a DeleteItem of an item that does not exist', act: () => ddb.send(new DeleteItemCommand({ TableName: TABLE, Key: key('N-NEVER') })) },
    { name: 'a write to a table without a destination', act: () => ddb.send(new PutItemCommand({ TableName: 'NotCaptured', Item: { id: { S: 'y' } } })) },
  ])('emits nothing for $name', ({ act }) => {
    it('leaves the stream unchanged', async () => {
      // Prepare
      await captured(() => put(claim('N-SAME')));
      // Act
      const records = await captured(act);
      // Assess
      expect(records).toEqual([]);
    });
  });

  it('keeps concurrent writes to one item consistent: each OldImage is the previous NewImage, times strictly increase', async () => {
    // Prepare
    await captured(() => put(claim('HOT', { n: { N: '0' } })));
    // Act: 25 concurrent increments race through the proxy.
    const records = await captured(() =>
      Promise.all(
        Array.from({ length: 25 }, () =>
          ddb.send(new UpdateItemCommand({ TableName: TABLE, Key: key('HOT'), UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': { N: '1' } } })),
        ),
      ),
    );
    // Assess
    expect(records).toHaveLength(25);
    expect(records.map((r) => r.dynamodb.NewImage!.n)).toEqual(Array.from({ length: 25 }, (_, i) => ({ N: String(i + 1) })));
    for (let i = 1; i < records.length; i++) {
      expect(records[i]!.dynamodb.OldImage).toEqual(records[i - 1]!.dynamodb.NewImage);
      expect(records[i]!.dynamodb.ApproximateCreationDateTime).toBeGreaterThan(records[i - 1]!.dynamodb.ApproximateCreationDateTime);
    }
    expect(capture.stats().captureErrors).toBe(0);
  });
});
