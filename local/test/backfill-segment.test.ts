/**
 * One Scan segment against a mocked DynamoDB and SQS: pages are sent with the request time recorded before the read,
 * a throttled read is retried after a backoff at a lower rate, a page read again after a failure keeps its request
 * time (same event ids), and a segment that cannot send its page leaves its checkpoint at that page.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient, ProvisionedThroughputExceededException, ScanCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { marshall } from '@aws-sdk/util-dynamodb';
import { parseRowMessage } from '@claims-cdc/shared/domain/row-message';
import { claims } from '@claims-cdc/shared/test-support/factories';
import { mockClient } from 'aws-sdk-client-mock';
import { CheckpointFile, newCheckpoint, readCheckpoint } from '../src/backfill/checkpoint';
import { AdaptiveRateLimiter } from '@claims-cdc/shared/backfill/rate-limiter';
import { scanSegment, type SegmentContext } from '../src/backfill/scan-segment';

const ddb = mockClient(DynamoDBClient);
const sqs = mockClient(SQSClient);
const items = claims(4, 71).map((c) => marshall(c, { removeUndefinedValues: true }));
const throttle = () => new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} });

describe('scanSegment', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-segment-'));
  const file = path.join(dir, 'backfill-checkpoints.json');
  let clock = 1_764_000_000_000;
  const slept: number[] = [];
  const context = (checkpoints: CheckpointFile, limiter = new AdaptiveRateLimiter(100)): SegmentContext => ({
    dynamodb: new DynamoDBClient({ region: 'us-east-1' }),
    tableName: 'InsuranceClaims',
    totalSegments: 2,
    pageSize: 2,
    marginMs: 1000,
    limiter,
    checkpoints,
    targets: { sqs: new SQSClient({ region: 'us-east-1' }), tableName: 'InsuranceClaims', loadQueueUrl: 'http://q/load', quarantineQueueUrl: 'http://q/quarantine' },
    now: () => (clock += 1000),
    sleep: async (ms) => {
      slept.push(ms);
    },
  });
  const sentRows = () =>
    sqs
      .commandCalls(SendMessageBatchCommand)
      .flatMap((c) => c.args[0].input.Entries ?? [])
      .flatMap((e) => parseRowMessage(e.MessageBody ?? ''));

  beforeEach(() => {
    ddb.reset();
    sqs.reset();
    slept.length = 0;
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string }> }) => ({ Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: e.Id, MD5OfMessageBody: '' })), Failed: [] }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sends every page as snapshots, retries a throttled read after a backoff at half the rate, and marks the segment done', async () => {
    // Prepare
    const checkpoints = new CheckpointFile(file, newCheckpoint('InsuranceClaims', 'c1', 2, 1000));
    const limiter = new AdaptiveRateLimiter(100);
    ddb
      .on(ScanCommand)
      .rejectsOnce(throttle())
      .resolvesOnce({ Items: items.slice(0, 2), LastEvaluatedKey: { claim_id: items[1]!.claim_id! }, ConsumedCapacity: { CapacityUnits: 1 } })
      .resolvesOnce({ Items: items.slice(2), ConsumedCapacity: { CapacityUnits: 1 } });
    // Act
    await scanSegment(1, context(checkpoints, limiter));
    // Assess
    const scans = ddb.commandCalls(ScanCommand).map((c) => c.args[0].input);
    expect(scans.map((s) => [s.Segment, s.TotalSegments, s.ConsistentRead, s.ExclusiveStartKey?.claim_id])).toEqual([
      [1, 2, true, undefined],
      [1, 2, true, undefined],
      [1, 2, true, items[1]!.claim_id],
    ]);
    expect(slept.length).toBe(1);
    expect(limiter.rate).toBeLessThan(100);
    const rows = sentRows();
    expect(rows.map((r) => [r.claimId, r.eventName])).toEqual(items.map((i) => [i.claim_id!.S, 'SNAPSHOT']));
    expect(readCheckpoint(file)?.segments[1]).toEqual({ done: true, read: 4, sent: 4, rejected: 0 });
  });

  it('a page whose rows cannot be sent stays in the checkpoint with its request time; read again, it gets the same event ids', async () => {
    // Prepare: the first send fails on every attempt.
    const checkpoints = new CheckpointFile(file, newCheckpoint('InsuranceClaims', 'c1', 2, 1000));
    ddb.on(ScanCommand).resolves({ Items: items.slice(0, 2), ConsumedCapacity: { CapacityUnits: 1 } });
    sqs.on(SendMessageBatchCommand).rejects(Object.assign(new Error('down'), { name: 'ServiceUnavailable' }));
    // Act
    const failed = await scanSegment(0, context(checkpoints)).catch((error: unknown) => error);
    const stuck = readCheckpoint(file)?.segments[0];
    sqs.reset();
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string }> }) => ({ Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: e.Id, MD5OfMessageBody: '' })), Failed: [] }));
    await scanSegment(0, context(new CheckpointFile(file, readCheckpoint(file)!)));
    // Assess
    expect((failed as Error).name).toBe('SnapshotSendError');
    expect(stuck).toMatchObject({ done: false, read: 0, pageRequestedAtMs: expect.any(Number) });
    const rows = sentRows();
    expect(rows.map((r) => r.eventCreationUnixTime)).toEqual([String((stuck!.pageRequestedAtMs! - 1000) * 1000), String((stuck!.pageRequestedAtMs! - 1000) * 1000)]);
    expect(readCheckpoint(file)?.segments[0]).toEqual({ done: true, read: 2, sent: 2, rejected: 0 });
  });
});
