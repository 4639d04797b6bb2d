import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { packRows, type QuarantineMessage } from '@claims-cdc/shared';
import { claims, type Op, row, sqsEvent } from '@claims-cdc/shared/test-support/factories';
import { DuckDbWarehouse } from '@claims-cdc/shared/warehouse/duckdb';
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import { mockClient } from 'aws-sdk-client-mock';
import { load } from '../src/handlers/load';
import { stageMessages } from '../src/stage-messages';

const sqs = mockClient(SQSClient);
const T = 1_732_000_000_000_000;
const sample = claims(8, 21);
const ops: Op[] = sample.map((claim, i) => ({ eventName: 'INSERT', claim, micros: T + i, eventId: `load-${i}` }));
const bodies = (rows = ops.map(row), maxBytes = 12_000): string[] => packRows(rows, maxBytes).messages.map((m) => m.body);
const QUARANTINE = process.env.QUARANTINE_QUEUE_URL as string;
const okSend = async () => new Map<number, Error>();

beforeEach(() => {
  sqs.reset();
  sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string }> }) => ({ Successful: input.Entries.map((e) => ({ Id: e.Id })), Failed: [] }));
});

describe('load', () => {
  let warehouse: DuckDbWarehouse;
  beforeEach(async () => {
    warehouse = await DuckDbWarehouse.open({ path: ':memory:' });
    await warehouse.init();
  });
  afterEach(() => warehouse.close());

  it('stages every row of every message in one call; a redelivered batch stages nothing new', async () => {
    // Prepare
    const event = sqsEvent(bodies());
    // Act
    const first = await stageMessages(event.Records, warehouse, QUARANTINE, okSend);
    const again = await stageMessages(event.Records, warehouse, QUARANTINE, okSend);
    // Assess
    expect(event.Records.length).toBeGreaterThan(1);
    expect(first.summary).toMatchObject({ received: 8, staged: 8, failed: 0 });
    expect(again.summary).toMatchObject({ received: 8, staged: 0, failed: 0 });
    expect(await warehouse.status()).toMatchObject({ staged: 8, history: 8 });
  });

  it.each([
    ['not JSON', '{"format":'],
    ['another format', JSON.stringify({ format: 'something.else', rows: [] })],
    ['a row with a wrong type', JSON.stringify({ format: 'claims-cdc.rows.v1', rows: [{ ...row(ops[0] as Op), totalCharge: 'ten' }] })],
  ])('quarantines a message that is %s with reason and body, and stages the rest', async (_name, bad) => {
    // Prepare
    const sent: string[] = [];
    const event = sqsEvent([...bodies(), bad]);
    // Act
    const { outcomes, summary } = await stageMessages(event.Records, warehouse, QUARANTINE, async (_url, b) => {
      sent.push(...b);
      return new Map();
    });
    // Assess
    expect(outcomes.size).toBe(0);
    expect(summary.staged).toBe(8);
    const message = JSON.parse(sent[0] as string) as QuarantineMessage;
    expect(message).toMatchObject({ reason: 'bad-row-message', origin: { stage: 'load', id: event.Records.at(-1)?.messageId }, payload: bad });
  });

  it('when the warehouse fails, every valid message fails (and will be redelivered), nothing is acknowledged', async () => {
    // Prepare
    const failing: Warehouse = { ...warehouse, stage: async () => Promise.reject(new Error('warehouse unavailable')) } as unknown as Warehouse;
    const event = sqsEvent(bodies());
    // Act
    const { outcomes } = await stageMessages(event.Records, failing, QUARANTINE, okSend);
    // Assess
    expect([...outcomes.keys()]).toEqual(event.Records.map((r) => r.messageId));
  });

  it('the handler returns exactly the failed message ids (quarantine send failed for one bad message)', async () => {
    // Prepare: the quarantine queue refuses everything
    sqs.on(SendMessageBatchCommand, { QueueUrl: QUARANTINE }).resolves({ Successful: [], Failed: [{ Id: '0', Code: 'KMS.DisabledException', SenderFault: true }] });
    const event = sqsEvent([...bodies(), 'garbage']);
    // Act
    const response = await load(event);
    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records.at(-1)?.messageId }]);
  });
});
