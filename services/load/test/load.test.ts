import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { packRows, type ClaimRow, type QuarantineMessage, readRowMessage, RecordRejectedError } from '@claims-cdc/shared';
import { claims, type Op, row, sqsEvent } from '@claims-cdc/shared/test-support/factories';
import { DuckDbWarehouse } from '@claims-cdc/shared/warehouse/duckdb';
import { type CallOptions, type Warehouse, WarehouseDataError, WarehouseDeadlineError, WarehouseError } from '@claims-cdc/shared/warehouse/port';
import { stageIsolating } from '@claims-cdc/shared/warehouse/stage-isolating';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { load, WAREHOUSE_MARGIN_MS } from '../src/handlers/load';
import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import type { SendBodies } from '@claims-cdc/shared/aws/sqs-sender';
import type { BatchReport } from '@claims-cdc/shared/batch/batch-stage';
import type { SQSRecord } from 'aws-lambda';
import { type LoadSummary, loadStage } from '../src/load-stage';
import { openTestWarehouse } from '@claims-cdc/shared/test-support/warehouse';

const sqs = mockClient(SQSClient);
const T = 1_732_000_000_000_000;
const sample = claims(8, 21);
const ops: Op[] = sample.map((claim, i) => ({ eventName: 'INSERT', claim, micros: T + i, eventId: `load-${i}` }));
const bodies = (rows = ops.map(row), maxBytes = 12_000): string[] => packRows(rows, maxBytes).messages.map((m) => m.body);
const QUARANTINE = process.env.QUARANTINE_QUEUE_URL as string;
const okSend: SendBodies = async () => new Map<number, Error>();

/** Runs one batch through the load stage: the ids the reply fails (all of them on a full-batch failure) and the stage's report. */
const runBatch = async (records: SQSRecord[], warehouse: Warehouse, send: SendBodies = okSend, options?: CallOptions): Promise<{ failedIds: string[]; report: BatchReport<LoadSummary> }> => {
  let report: BatchReport<LoadSummary> | undefined;
  const stage = loadStage({ warehouse, quarantineQueueUrl: QUARANTINE, send, ...(options === undefined ? {} : { callOptions: () => options }) }, (r) => {
    report = r;
  });
  const failedIds = await stage.handle({ Records: records }).then(
    (reply) => reply.batchItemFailures.map((f) => f.itemIdentifier),
    (error: unknown) => {
      if (error instanceof FullBatchFailureError) return records.map((r) => r.messageId);
      throw error;
    },
  );
  return { failedIds, report: report as BatchReport<LoadSummary> };
};

/** A send that keeps what it is given and succeeds. */
const keeping = (sent: string[]): SendBodies => async (_url, b) => {
  sent.push(...b);
  return new Map();
};

beforeEach(() => {
  sqs.reset();
  sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string }> }) => ({ Successful: input.Entries.map((e) => ({ Id: e.Id })), Failed: [] }));
});

describe('load', () => {
  let warehouse: DuckDbWarehouse;
  beforeEach(async () => {
    warehouse = await openTestWarehouse({ path: ':memory:' });
    await warehouse.init();
  });
  afterEach(() => warehouse.close());

  it('stages every row of every message in one call; a redelivered batch stages nothing new', async () => {
    // Prepare
    const event = sqsEvent(bodies());
    // Act
    const first = await runBatch(event.Records, warehouse);
    const again = await runBatch(event.Records, warehouse);
    // Assess
    expect(event.Records.length).toBeGreaterThan(1);
    expect(first.report.summary).toMatchObject({ received: 8, staged: 8 });
    expect(again.report.summary).toMatchObject({ received: 8, staged: 0 });
    expect([...first.failedIds, ...again.failedIds]).toEqual([]);
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
    const { failedIds, report } = await runBatch(event.Records, warehouse, keeping(sent));
    // Assess
    expect(failedIds).toEqual([]);
    expect(report.summary?.staged).toBe(8);
    const message = JSON.parse(sent[0] as string) as QuarantineMessage;
    expect(message).toMatchObject({ reason: 'bad-row-message', origin: { stage: 'load', id: event.Records.at(-1)?.messageId }, payload: bad });
  });

  it('when the warehouse fails, every valid message fails (and will be redelivered), nothing is acknowledged', async () => {
    // Prepare
    const failing: Warehouse = { ...warehouse, stage: async () => Promise.reject(new Error('warehouse unavailable')) } as unknown as Warehouse;
    const event = sqsEvent(bodies());
    // Act
    const { failedIds } = await runBatch(event.Records, failing);
    // Assess
    expect(failedIds).toEqual(event.Records.map((r) => r.messageId));
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
    const { failedIds, report } = await runBatch(event.Records, warehouse, keeping(sent));
    // Assess
    expect(failedIds).toEqual([]);
    expect(report.summary).toMatchObject({ received: 59, staged: 59 });
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
    const { failedIds, report } = await runBatch(event.Records, picky, keeping(sent));
    // Assess
    expect(failedIds).toEqual([]);
    expect(report.summary?.staged).toBe(6);
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
    const { failedIds } = await runBatch(event.Records, down, keeping(sent));
    // Assess
    expect(failedIds).toEqual(event.Records.map((r) => r.messageId));
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
    const { report } = await runBatch(sqsEvent(bodies()).Records, picky, okSend, { deadline });
    // Assess
    const attempts = report.summary?.stageAttempts as number;
    expect(attempts).toBeGreaterThan(1);
    expect(seen).toHaveLength(attempts);
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
    const { failedIds } = await runBatch(event.Records, late, keeping(sent), { deadline: Date.now() + 30_000 });
    // Assess
    expect(calls).toBe(1);
    expect(failedIds).toEqual(event.Records.slice(0, -1).map((r) => r.messageId));
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

describe('the load reads every row of a message at its trust boundary, by hand', () => {
  const good = row(ops[0] as Op);
  const { claimId: _dropped, ...missing } = good;
  const cases: Array<[string, Record<string, unknown>, string | undefined]> = [
    ['a row as the transform writes it', good, undefined],
    ['a SNAPSHOT row (backfill)', { ...good, eventName: 'SNAPSHOT' }, undefined],
    ['an unknown column', { ...good, patientSsn: 'x' }, 'patientSsn: not a row column'],
    ['a missing column', missing, 'missing claimId'],
    ['an eventName no load row has', { ...good, eventName: 'UPSERT' }, 'eventName: not INSERT, MODIFY, REMOVE, SNAPSHOT'],
    ['a value the warehouse refuses', { ...good, patientGender: 'MF' }, 'patientGender (patient.gender): longer than 1 character'],
    ['a nested value', { ...good, totalCharge: { amount: 1 } }, 'totalCharge (total_charge): not a scalar'],
  ];

  it.each(cases)('%s', (_name, candidate, problem) => {
    // Act
    const read = readRowMessage(JSON.stringify({ format: 'claims-cdc.rows.v1', rows: [good, candidate] }));
    // Assess
    expect(read.rows).toHaveLength(problem === undefined ? 2 : 1);
    expect(read.rejects.map((r) => r.detail)).toEqual(problem === undefined ? [] : [problem]);
  });

  it.each([
    ['not JSON', '{"format":', 'not a row message: body is not valid JSON'],
    ['another format', JSON.stringify({ format: 'x', rows: [good] }), 'not a row message: format: expected "claims-cdc.rows.v1"'],
    ['no rows', JSON.stringify({ format: 'claims-cdc.rows.v1', rows: [] }), 'not a row message: rows: expected a non-empty array'],
    ['not an object', 'null', 'not a row message: format: expected "claims-cdc.rows.v1"'],
  ])('refuses a message that is %s as bad-row-message', (_name, body, detail) => {
    // Act
    const error = (() => {
      try {
        readRowMessage(body);
      } catch (e) {
        return e as RecordRejectedError;
      }
      throw new Error('expected a rejection');
    })();
    // Assess
    expect(error).toBeInstanceOf(RecordRejectedError);
    expect(error.reason).toBe('bad-row-message');
    expect(error.detail).toBe(detail);
  });
});
