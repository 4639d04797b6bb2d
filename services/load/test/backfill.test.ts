/**
 * The deployed backfill function against a mocked DynamoDB Scan and SQS: it reads its segment page by page, sends
 * snapshot rows to the load queue, stops with a continuation when the invocation's time runs short, keeps event ids
 * and versions when invoked again with the same input, and quarantines items the pipeline cannot process.
 */
import { DynamoDBClient, ProvisionedThroughputExceededException, ScanCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { marshall } from '@aws-sdk/util-dynamodb';
import { QuarantineMessageSchema } from '@claims-cdc/shared/domain/quarantine';
import { parseRowMessage } from '@claims-cdc/shared/domain/row-message';
import { DEFAULT_SKEW_MARGIN_MS, SNAPSHOT_EVENT_NAME, snapshotEventId } from '@claims-cdc/shared/domain/snapshot';
import { logger } from '@claims-cdc/shared/observability/logger';
import { alteredClaim, claims } from '@claims-cdc/shared/test-support/factories';
import { phiFinder, phiValues } from '@claims-cdc/shared/test-support/phi';
import { mockClient } from 'aws-sdk-client-mock';
import { ZodError } from 'zod';
import { backfill, DEFAULT_RESERVE_MS } from '../src/handlers/backfill';

const ddb = mockClient(DynamoDBClient);
const sqs = mockClient(SQSClient);
const LOAD = process.env.LOAD_QUEUE_URL as string;
const QUARANTINE = process.env.QUARANTINE_QUEUE_URL as string;
const sample = claims(6, 93);
const items = sample.map((c) => marshall(c, { removeUndefinedValues: true }));
const keyOf = (i: number) => ({ claim_id: items[i]!.claim_id! });
const T = 1_764_500_000_000;

/** A Lambda context whose remaining time follows `times` (the last one repeats). */
const lambdaContext = (...times: number[]) => {
  let call = 0;
  return { getRemainingTimeInMillis: () => times[Math.min(call++, times.length - 1)] as number };
};
const plenty = () => lambdaContext(900_000);

const batches = (queueUrl: string) => sqs.commandCalls(SendMessageBatchCommand).filter((c) => c.args[0].input.QueueUrl === queueUrl);
const sentRows = () => batches(LOAD).flatMap((c) => (c.args[0].input.Entries ?? []).flatMap((e) => parseRowMessage(e.MessageBody ?? '')));
const scans = () => ddb.commandCalls(ScanCommand).map((c) => c.args[0].input);

beforeEach(() => {
  ddb.reset();
  sqs.reset();
  sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string }> }) => ({ Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: e.Id, MD5OfMessageBody: '' })), Failed: [] }));
});

describe('backfill function', () => {
  it('reads its segment page by page (consistent, from the given key) and sends every item as a snapshot row', async () => {
    // Prepare
    ddb
      .on(ScanCommand)
      .resolvesOnce({ Items: items.slice(1, 3), LastEvaluatedKey: keyOf(2), ConsumedCapacity: { CapacityUnits: 2 } })
      .resolvesOnce({ Items: items.slice(3), ConsumedCapacity: { CapacityUnits: 2 } });
    // Act
    const reply = await backfill({ segment: 3, totalSegments: 8, exclusiveStartKey: keyOf(0), pageRequestedAtMs: T, pageSize: 2 }, plenty());
    // Assess
    expect(scans().map((s) => [s.TableName, s.Segment, s.TotalSegments, s.ConsistentRead, s.Limit, s.ExclusiveStartKey])).toEqual([
      ['InsuranceClaims', 3, 8, true, 2, keyOf(0)],
      ['InsuranceClaims', 3, 8, true, 2, keyOf(2)],
    ]);
    const rows = sentRows();
    expect(rows.map((r) => [r.claimId, r.eventName])).toEqual(items.slice(1).map((i) => [i.claim_id!.S, SNAPSHOT_EVENT_NAME]));
    // The first page is versioned at the request time it was given.
    expect(rows[0]).toMatchObject({ eventCreationUnixTime: String((T - DEFAULT_SKEW_MARGIN_MS) * 1000), sequenceNumber: '' });
    expect(reply).toMatchObject({ segment: 3, totalSegments: 8, done: true, read: 5, sent: 5, rejected: 0, pages: 2, rejectedClaims: [] });
    expect(reply.exclusiveStartKey).toBeUndefined();
    expect(reply.pageRequestedAtMs).toBeUndefined();
    expect(batches(QUARANTINE)).toEqual([]);
  });

  it('stops when the time left is under the reserve and continues, as passed back, from the next page under the request time it took', async () => {
    // Prepare: the first invocation has time for one page only.
    ddb
      .on(ScanCommand)
      .resolvesOnce({ Items: items.slice(0, 3), LastEvaluatedKey: keyOf(2) })
      .resolvesOnce({ Items: items.slice(3) });
    const before = Date.now();
    // Act
    const first = await backfill({ segment: 0, totalSegments: 2, pageRequestedAtMs: T }, lambdaContext(900_000, DEFAULT_RESERVE_MS - 1));
    const after = Date.now();
    const second = await backfill(first, plenty());
    // Assess
    expect(first).toMatchObject({ done: false, exclusiveStartKey: keyOf(2), read: 3, sent: 3, pages: 1 });
    expect(first.pageRequestedAtMs).toBeGreaterThanOrEqual(before);
    expect(first.pageRequestedAtMs).toBeLessThanOrEqual(after);
    expect(scans().map((s) => s.ExclusiveStartKey)).toEqual([undefined, keyOf(2)]);
    const rows = sentRows();
    expect(rows.slice(3).map((r) => r.eventId)).toEqual(items.slice(3).map((i) => snapshotEventId({ reader: 'segment-0', requestedAtMs: first.pageRequestedAtMs! }, i.claim_id!.S as string)));
    // The counts run over the segment's invocations; the last reply holds its totals.
    expect(second).toMatchObject({ done: true, read: 6, sent: 6, rejected: 0, pages: 1 });
  });

  it('sends the same event ids and versions when invoked again with the same input (a retried invocation), an ISO request time being the same time', async () => {
    // Prepare
    ddb.on(ScanCommand).resolves({ Items: items.slice(0, 2) });
    // Act
    await backfill({ segment: 1, totalSegments: 4, pageRequestedAtMs: T }, plenty());
    await backfill({ segment: 1, totalSegments: 4, pageRequestedAtMs: new Date(T).toISOString() }, plenty());
    // Assess
    const [once, again] = [sentRows().slice(0, 2), sentRows().slice(2)];
    const expectedIds = items.slice(0, 2).map((i) => snapshotEventId({ reader: 'segment-1', requestedAtMs: T }, i.claim_id!.S as string));
    expect(once?.map((r) => r.eventId)).toEqual(expectedIds);
    expect(again?.map((r) => [r.eventId, r.eventCreationUnixTime])).toEqual(once?.map((r) => [r.eventId, r.eventCreationUnixTime]));
  });

  it('quarantines an item the pipeline cannot process, with its reason, and sends the others', async () => {
    // Prepare
    const bad = marshall(alteredClaim(claims(1, 5)[0], { total_charge: 'a lot' }), { removeUndefinedValues: true });
    ddb.on(ScanCommand).resolves({ Items: [items[0]!, bad, items[1]!] });
    // Act
    const reply = await backfill({ segment: 0, totalSegments: 1, pageRequestedAtMs: T }, plenty());
    // Assess
    expect(sentRows().map((r) => r.claimId)).toEqual([items[0]!.claim_id!.S, items[1]!.claim_id!.S]);
    const quarantined = batches(QUARANTINE).flatMap((c) => (c.args[0].input.Entries ?? []).map((e) => QuarantineMessageSchema.parse(JSON.parse(e.MessageBody ?? ''))));
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0]).toMatchObject({ origin: { stage: 'transform', source: 'backfill:InsuranceClaims' } });
    expect(quarantined[0]?.reason).toBe('claim-schema');
    expect(reply.rejectedClaims[0]?.reason).toBe('claim-schema');
    expect(reply).toMatchObject({ done: true, read: 3, sent: 2, rejected: 1, rejectedClaims: [{ claimId: bad.claim_id!.S }] });
  });

  it('replies and logs claim ids, counts and reasons only, never a value', async () => {
    // Prepare: a page with an item the pipeline rejects, and a continuation (its start key is a claim id)
    const badClaim = alteredClaim(sample[4], { total_charge: 'a lot' });
    ddb.on(ScanCommand).resolves({ Items: [items[0]!, marshall(badClaim, { removeUndefinedValues: true })], LastEvaluatedKey: keyOf(0) });
    const logged = [jest.spyOn(logger, 'info'), jest.spyOn(logger, 'warn')];
    const find = phiFinder(phiValues(sample));
    // Act
    const reply = await backfill({ segment: 0, totalSegments: 1, pageRequestedAtMs: T }, lambdaContext(900_000, 0));
    // Assess
    const text = JSON.stringify({ reply, logs: logged.flatMap((spy) => spy.mock.calls) });
    logged.forEach((spy) => spy.mockRestore());
    expect(reply).toMatchObject({ done: false, rejected: 1, rejectedClaims: [{ claimId: badClaim.claim_id, reason: 'claim-schema' }] });
    expect(text).toContain(badClaim.claim_id);
    expect(text).toContain('backfill item quarantined');
    expect(find(text)).toEqual([]);
  });

  it('does not wait out a throttled read it has no time for: it returns the unread page with its request time kept', async () => {
    // Prepare: throttled, and the backoff would eat into the reserve.
    ddb.on(ScanCommand).rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));
    // Act
    const reply = await backfill({ segment: 2, totalSegments: 4, exclusiveStartKey: keyOf(1), pageRequestedAtMs: T }, lambdaContext(DEFAULT_RESERVE_MS + 50));
    // Assess
    expect(scans()).toHaveLength(1);
    expect(reply).toMatchObject({ done: false, exclusiveStartKey: keyOf(1), pageRequestedAtMs: T, read: 0, pages: 0 });
    expect(sentRows()).toEqual([]);
  });

  it('reads nothing for a segment passed back done, and refuses a segment outside totalSegments', async () => {
    // Act
    const reply = await backfill({ segment: 0, totalSegments: 2, done: true, read: 9, sent: 9 }, plenty());
    // Assess
    expect(reply).toMatchObject({ done: true, read: 9, sent: 9, pages: 0 });
    expect(scans()).toEqual([]);
    await expect(backfill({ segment: 2, totalSegments: 2 }, plenty())).rejects.toThrow(ZodError);
  });
});
