import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { packRows, type ClaimRow, type QuarantineMessage } from '@claims-cdc/shared';
import { claims, type Op, row, sqsEvent } from '@claims-cdc/shared/test-support/factories';
import { DuckDbWarehouse } from '@claims-cdc/shared/warehouse/duckdb';
import { type CallOptions, type Warehouse, WarehouseDataError, WarehouseDeadlineError, WarehouseError } from '@claims-cdc/shared/warehouse/port';
import { stageIsolating } from '@claims-cdc/shared/warehouse/stage-isolating';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { load, WAREHOUSE_MARGIN_MS } from '../src/handlers/load';
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

  it('one row breaking the warehouse rules among 60: that row is quarantined alone, the other 59 are staged (issue 9 §1)', async () => {
    // Prepare: 60 claims in one batch; one row (crafted past the transform) has an impossible calendar date
    const many: Op[] = claims(60, 5).map((claim, i) => ({ eventName: 'INSERT', claim, micros: T + i, eventId: `many-${i}` }));
    const rows = many.map(row);
    const bad = { ...rows[17], createdTimeStamp: '2024-02-30T10:00:00.000000Z' } as ClaimRow;
    const event = sqsEvent(bodies([...rows.slice(0, 17), bad, ...rows.slice(18)]));
    const sent: string[] = [];
    // Act
    const { outcomes, summary } = await stageMessages(event.Records, warehouse, QUARANTINE, async (_url, b) => {
      sent.push(...b);
      return new Map();
    });
    // Assess
    expect(outcomes.size).toBe(0);
    expect(summary).toMatchObject({ received: 59, staged: 59 });
    expect(await warehouse.status()).toMatchObject({ staged: 59, history: 59 });
    expect(sent).toHaveLength(1);
    const message = JSON.parse(sent[0] as string) as QuarantineMessage;
    expect(message.reason).toBe('invalid-value');
    expect(message.detail).toContain('createdTimeStamp (created_timestamp)');
    expect(message.detail).not.toContain('2024-02-30');
    expect(JSON.parse(message.payload).rows[0].eventId).toBe('many-17');
  });

  it('rows the warehouse itself refuses are found by bisection and quarantined as warehouse-rejected; the rest is staged', async () => {
    // Prepare: a warehouse that refuses two particular events as a data error
    const refused = new Set(['load-2', 'load-5']);
    const picky = {
      stage: async (rs: readonly ClaimRow[]) => {
        if (rs.some((r) => refused.has(String(r.eventId)))) throw new WarehouseDataError('duckdb refused a row: Conversion Error');
        return warehouse.stage(rs);
      },
    } as unknown as Warehouse;
    const event = sqsEvent(bodies());
    const sent: string[] = [];
    // Act
    const { outcomes, summary } = await stageMessages(event.Records, picky, QUARANTINE, async (_url, b) => {
      sent.push(...b);
      return new Map();
    });
    // Assess
    expect(outcomes.size).toBe(0);
    expect(summary.staged).toBe(6);
    const quarantined = sent.map((b) => JSON.parse(b) as QuarantineMessage);
    expect(quarantined.map((m) => m.reason)).toEqual(['warehouse-rejected', 'warehouse-rejected']);
    expect(quarantined.map((m) => JSON.parse(m.payload).rows[0].eventId).sort()).toEqual(['load-2', 'load-5']);
  });

  it('an infrastructure error still fails the batch for retry, and quarantines nothing yet', async () => {
    // Prepare
    const down = { stage: async () => Promise.reject(new WarehouseError('connection lost')) } as unknown as Warehouse;
    const bad = { ...row(ops[0] as Op), patientGender: 'MF' };
    const event = sqsEvent([...bodies(), JSON.stringify({ format: 'claims-cdc.rows.v1', rows: [bad, row(ops[1] as Op)] })]);
    const sent: string[] = [];
    // Act
    const { outcomes } = await stageMessages(event.Records, down, QUARANTINE, async (_url, b) => {
      sent.push(...b);
      return new Map();
    });
    // Assess
    expect([...outcomes.keys()]).toEqual(event.Records.map((r) => r.messageId));
    expect(sent).toEqual([]);
  });

  it('every stage call is bounded by the deadline given, the bisected halves included', async () => {
    // Prepare: a warehouse that refuses one event (so the batch is bisected) and records the options of each call
    const seen: Array<CallOptions | undefined> = [];
    const picky = {
      stage: async (rs: readonly ClaimRow[], options?: CallOptions) => {
        seen.push(options);
        if (rs.some((r) => r.eventId === 'load-2')) throw new WarehouseDataError('snowflake refused a row');
        return warehouse.stage(rs);
      },
    } as unknown as Warehouse;
    const deadline = Date.now() + 30_000;
    // Act
    const { summary } = await stageMessages(sqsEvent(bodies()).Records, picky, QUARANTINE, okSend, { deadline });
    // Assess
    expect(summary.stageAttempts).toBeGreaterThan(1);
    expect(seen).toHaveLength(summary.stageAttempts);
    expect(seen).toEqual(seen.map(() => ({ deadline })));
  });

  it('a stage that ran out of time (WarehouseDeadlineError) fails the batch for redelivery, bisects nothing and quarantines nothing', async () => {
    // Prepare
    let calls = 0;
    const late = {
      stage: async () => {
        calls += 1;
        throw new WarehouseDeadlineError('snowflake stage: merge into history failed: time ran out');
      },
    } as unknown as Warehouse;
    const event = sqsEvent([...bodies(), 'garbage']);
    const sent: string[] = [];
    // Act
    const { outcomes } = await stageMessages(event.Records, late, QUARANTINE, async (_url, b) => {
      sent.push(...b);
      return new Map();
    }, { deadline: Date.now() + 30_000 });
    // Assess
    expect(calls).toBe(1);
    expect([...outcomes.keys()]).toEqual(event.Records.slice(0, -1).map((r) => r.messageId));
    expect(sent.map((b) => (JSON.parse(b) as QuarantineMessage).reason)).toEqual(['bad-row-message']);
  });

  it('the handler bounds the warehouse by the invocation: remaining time less the margin', async () => {
    // Prepare: the handler's warehouse is the process's DuckDB (DUCKDB_PATH=:memory:); watch what reaches the adapter
    const stage = jest.spyOn(DuckDbWarehouse.prototype, 'stage');
    const context = { getRemainingTimeInMillis: () => 45_000 } as unknown as Context;
    const event = sqsEvent(bodies());
    // Act
    const before = Date.now();
    const response = await load(event, context);
    const after = Date.now();
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(stage).toHaveBeenCalledTimes(1);
    // DuckDB's stage declares no options parameter (it ignores them), so the second argument is read untyped.
    const deadline = ((stage.mock.calls[0] as unknown[])[1] as CallOptions).deadline as number;
    expect(deadline).toBeGreaterThanOrEqual(before + 45_000 - WAREHOUSE_MARGIN_MS);
    expect(deadline).toBeLessThanOrEqual(after + 45_000 - WAREHOUSE_MARGIN_MS);
    stage.mockRestore();
  });

  it('the real DuckDB: an impossible timestamp that reaches the warehouse is isolated, the other rows go in', async () => {
    // Prepare: rows handed straight to the warehouse, past every check
    const rows = ops.map(row);
    rows[3] = { ...rows[3], createdTimeStamp: '2024-02-30T10:00:00.000000Z' } as ClaimRow;
    // Act
    const result = await stageIsolating(warehouse, rows);
    // Assess
    expect(result.rejected.map((r) => r.index)).toEqual([3]);
    expect(result.rejected[0]?.detail).toMatch(/^duckdb refused a row: Conversion Error/);
    expect(result.rejected[0]?.detail).not.toContain('2024-02-30');
    expect(result.staged).toBe(7);
  });
});
