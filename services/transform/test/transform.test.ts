import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { joinQuarantineParts, parseRowMessage, type QuarantineMessage } from '@claims-cdc/shared';
import { alteredClaim, changeRecord, claims, kinesisEvent, row } from '@claims-cdc/shared/test-support/factories';
import { mockClient } from 'aws-sdk-client-mock';
import type { Context } from 'aws-lambda';
import { SEND_POLICY, sendBodies } from '@claims-cdc/shared/aws/sqs-sender';
import { handler, transform } from '../src/handlers/transform';
import { transformStage } from '../src/transform-stage';

const sqs = mockClient(SQSClient);
const LOAD = process.env.LOAD_QUEUE_URL as string;
const QUARANTINE = process.env.QUARANTINE_QUEUE_URL as string;
const T = 1_732_000_000_000_000;
const sample = claims(6, 5);
const good = sample.map((claim, i) => changeRecord({ eventName: 'INSERT', claim, micros: T + i }));

const sentTo = (queueUrl: string): string[] =>
  sqs.commandCalls(SendMessageBatchCommand).filter((call) => call.args[0].input.QueueUrl === queueUrl).flatMap((call) => (call.args[0].input.Entries ?? []).map((e) => e.MessageBody as string));

beforeEach(() => {
  sqs.reset();
  sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string }> }) => ({ Successful: input.Entries.map((e) => ({ Id: e.Id })), Failed: [] }));
});

describe('transform', () => {
  it('packs every row of a batch into load-queue messages, in order, and fails nothing', async () => {
    // Act
    const response = await transform(kinesisEvent(good));
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const rows = sentTo(LOAD).flatMap(parseRowMessage);
    expect(rows.map((r) => r.claimId)).toEqual(sample.map((c) => c.claim_id));
    expect(sentTo(LOAD)).toHaveLength(1);
  });

  const poison: Array<[string, string | Record<string, unknown>, string]> = [
    ['not JSON', '{not json', 'not-json'],
    ['not a claim (Powertools sample item)', { ...changeRecord({ eventName: 'INSERT', claim: sample[0]!, micros: T }), dynamodb: { ApproximateCreationDateTime: 1, Keys: { id: { S: 'x' } }, NewImage: { id: { S: 'x' } }, SizeBytes: 1 } }, 'not-a-claim'],
    ['wrong types', changeRecord({ eventName: 'INSERT', claim: alteredClaim(sample[0], { total_charge: 'x' }), micros: T }), 'claim-schema'],
    ['unknown eventName', { ...changeRecord({ eventName: 'INSERT', claim: sample[0]!, micros: T }), eventName: 'TRUNCATE' }, 'unknown-event-name'],
    ['an impossible calendar date (30 February)', changeRecord({ eventName: 'INSERT', claim: alteredClaim(sample[0], { created_timestamp: '2024-02-30T10:00:00.000000Z' }), micros: T }), 'claim-schema'],
    ['a time in the year 55000 (µs labelled ms)', { ...changeRecord({ eventName: 'INSERT', claim: sample[0]!, micros: T }), dynamodb: { ...(changeRecord({ eventName: 'INSERT', claim: sample[0]!, micros: T }).dynamodb as object), ApproximateCreationDateTimePrecision: 'MILLISECOND' } }, 'implausible-time'],
    ['an N that is not a number', { ...changeRecord({ eventName: 'INSERT', claim: sample[0]!, micros: T }), dynamodb: { ...(changeRecord({ eventName: 'INSERT', claim: sample[0]!, micros: T }).dynamodb as { NewImage: object }), NewImage: { ...((changeRecord({ eventName: 'INSERT', claim: sample[0]!, micros: T }).dynamodb as { NewImage: object }).NewImage), ledger_ref: { N: 'twelve' } } } }, 'not-a-change-record'],
  ];

  it.each(poison)('quarantines %s with its reason and raw payload, and does not fail it', async (_name, payload, reason) => {
    // Prepare
    const event = kinesisEvent([good[0] as Record<string, unknown>, payload, good[1] as Record<string, unknown>]);
    // Act
    const response = await transform(event);
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const [message] = sentTo(QUARANTINE).map((b) => JSON.parse(b) as QuarantineMessage);
    expect(message).toMatchObject({ reason, origin: { stage: 'transform', id: event.Records[1]?.kinesis.sequenceNumber } });
    expect(message?.payload).toBe(event.Records[1]?.kinesis.data);
    expect(sentTo(LOAD).flatMap(parseRowMessage)).toHaveLength(2);
  });

  it('delivers a claim carrying every DynamoDB type, a 38-digit number among them, exactly (issue 9 §2)', async () => {
    // Prepare: attributes the claim schema does not know, in DynamoDB JSON as the stream sends them
    const record = changeRecord({ eventName: 'INSERT', claim: sample[3]!, micros: T }) as { dynamodb: { NewImage: Record<string, unknown> } };
    Object.assign(record.dynamodb.NewImage, {
      ledger_ref: { N: '12345678901234567890123456789012345678' },
      rate: { N: '0.12345678901234567890123456789012345678' },
      tags: { SS: ['x', 'y'] },
      scores: { NS: ['1', '2.50'] },
      scan: { B: 'AAEC' },
      note: { NULL: true },
    });
    const event = kinesisEvent([good[0] as Record<string, unknown>, record as unknown as Record<string, unknown>, good[1] as Record<string, unknown>]);
    // Act
    const response = await transform(event);
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(sentTo(QUARANTINE)).toEqual([]);
    const rows = sentTo(LOAD).flatMap(parseRowMessage);
    expect(rows).toHaveLength(3);
    const raw = String(rows[1]?.rawImage);
    expect(raw).toContain('"ledger_ref":12345678901234567890123456789012345678');
    expect(raw).toContain('"rate":"0.12345678901234567890123456789012345678"');
    expect(raw).toContain('"tags":["x","y"],"scores":[1,2.50],"scan":"AAEC","note":null');
  });

  it('quarantines a row larger than a queue message, whole, in parts', async () => {
    // Prepare
    const huge = alteredClaim(sample[2], { adjuster_notes: 'x'.repeat(300_000) });
    const event = kinesisEvent([changeRecord({ eventName: 'INSERT', claim: huge, micros: T })]);
    // Act
    const response = await transform(event);
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const parts = sentTo(QUARANTINE).map((b) => JSON.parse(b) as QuarantineMessage);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts[0]?.reason).toBe('too-large');
    expect(joinQuarantineParts(parts)).toBe(event.Records[0]?.kinesis.data);
    expect(sentTo(LOAD)).toEqual([]);
  });

  it('reports exactly the records whose load message could not be sent, after retries', async () => {
    // Prepare: the load queue always fails
    sqs.on(SendMessageBatchCommand, { QueueUrl: LOAD }).resolves({ Successful: [], Failed: [{ Id: '0', Code: 'InternalError', SenderFault: false }] });
    const event = kinesisEvent(good.slice(0, 3));
    // Act
    const plain = await transform(event).catch((error: Error) => error);
    const wrapped = await handler(event, {} as Context).catch((error: Error) => error);
    // Assess: every record of the failed message fails; as the whole batch failed, Powertools throws so Lambda retries
    expect((plain as Error).name).toBe('FullBatchFailureError');
    expect((wrapped as Error).name).toBe('FullBatchFailureError');
  });

  it('fails only the records of the message that failed when others went through, after the one retry policy', async () => {
    // Prepare: messages limited to one row each; the second message's entry fails every time (not the sender's fault)
    let calls = 0;
    sqs.on(SendMessageBatchCommand, { QueueUrl: LOAD }).callsFake((input: { Entries: Array<{ Id: string }> }) => {
      calls += 1;
      return { Successful: input.Entries.filter((e) => e.Id !== '1').map((e) => ({ Id: e.Id })), Failed: input.Entries.filter((e) => e.Id === '1').map((e) => ({ Id: e.Id, Code: 'Throttled', SenderFault: false })) };
    });
    const event = kinesisEvent(good.slice(0, 3));
    const oneRowPerMessage = Math.ceil(1.5 * Buffer.byteLength(JSON.stringify(row({ eventName: 'INSERT', claim: sample[0]!, micros: T }))));
    const client = new SQSClient({});
    const stage = transformStage({ loadQueueUrl: LOAD, quarantineQueueUrl: QUARANTINE, maxMessageBytes: oneRowPerMessage, send: (url, bodies) => sendBodies(client, url, bodies, { ...SEND_POLICY, baseDelayMs: 1 }) });
    // Act
    const response = await stage.handle(event);
    // Assess: the first call sends all three; only the failed entry is sent again, up to the policy's attempts
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[1]?.kinesis.sequenceNumber }]);
    expect(calls).toBe(SEND_POLICY.attempts);
    expect(sqs.commandCalls(SendMessageBatchCommand).slice(1).map((c) => c.args[0].input.Entries?.map((e) => e.Id))).toEqual([['1'], ['1']]);
  });

  it('does not send again an entry refused by the sender\'s fault, nor a call the SDK already retried', async () => {
    // Prepare: the load queue refuses one entry as the sender's fault; the quarantine queue's calls throw
    sqs.on(SendMessageBatchCommand, { QueueUrl: LOAD }).resolves({ Successful: [{ Id: '0', MessageId: 'm0', MD5OfMessageBody: '' }], Failed: [{ Id: '1', Code: 'InvalidMessageContents', SenderFault: true }] });
    const client = new SQSClient({});
    // Act
    const loadFailures = await sendBodies(client, LOAD, ['a', 'b'], { ...SEND_POLICY, baseDelayMs: 1 });
    sqs.on(SendMessageBatchCommand, { QueueUrl: QUARANTINE }).rejects(Object.assign(new Error('down'), { name: 'ServiceUnavailable' }));
    const quarantineFailures = await sendBodies(client, QUARANTINE, ['c'], { ...SEND_POLICY, baseDelayMs: 1 });
    // Assess
    expect([...loadFailures.keys()]).toEqual([1]);
    expect(loadFailures.get(1)?.message).toMatch(/InvalidMessageContents \(sender fault\)/);
    expect([...quarantineFailures.keys()]).toEqual([0]);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(2);
  });

  it('sends each row\'s JSON once: the load message body is the rows\' text joined, parsed back to the same rows', async () => {
    // Act
    await transform(kinesisEvent(good.slice(0, 2)));
    // Assess
    const [body] = sentTo(LOAD);
    const rows = parseRowMessage(body as string);
    expect(body).toBe(`{"format":"claims-cdc.rows.v1","rows":[${rows.map((r) => JSON.stringify(r)).join(',')}]}`);
  });

  it('quarantines a reject and still fails its record when the quarantine queue refuses it, so its payload is never lost', async () => {
    // Prepare
    sqs.on(SendMessageBatchCommand, { QueueUrl: QUARANTINE }).resolves({ Successful: [], Failed: [{ Id: '0', Code: 'KMS.DisabledException', SenderFault: true }] });
    const event = kinesisEvent([good[0] as Record<string, unknown>, '{not json', good[1] as Record<string, unknown>]);
    // Act
    const response = await transform(event);
    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[1]?.kinesis.sequenceNumber }]);
    expect(sentTo(LOAD).flatMap(parseRowMessage)).toHaveLength(2);
  });
});

describe('transform: a REMOVE whose old image is too large for a queue message', () => {
  beforeEach(() => {
    sqs.reset();
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string }> }) => ({ Successful: input.Entries.map((e) => ({ Id: e.Id })), Failed: [] }));
  });

  it('still delivers the delete (without the old image) instead of quarantining it', async () => {
    // Prepare
    const huge = alteredClaim(sample[3], { adjuster_notes: 'x'.repeat(300_000) });
    const event = kinesisEvent([changeRecord({ eventName: 'REMOVE', claim: huge, micros: T })]);
    // Act
    const response = await transform(event);
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(sentTo(QUARANTINE)).toEqual([]);
    const [removed] = sentTo(LOAD).flatMap(parseRowMessage);
    expect(removed).toMatchObject({ eventName: 'REMOVE', claimId: sample[3]?.claim_id, rawImage: null });
  });
});
