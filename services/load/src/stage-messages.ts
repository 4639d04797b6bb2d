import { type ClaimRow, quarantineMessages, readRowMessage, rowMessageBody } from '@claims-cdc/shared';
import type { Outcomes } from '@claims-cdc/shared/batch/outcomes';
import type { CallOptions, StageResult, Warehouse } from '@claims-cdc/shared/warehouse/port';
import { stageIsolating } from '@claims-cdc/shared/warehouse/stage-isolating';
import type { SQSRecord } from 'aws-lambda';
import { ZodError } from 'zod';

/** Sends bodies to a queue; returns the errors of the bodies it could not send, by index. */
export type Send = (queueUrl: string, bodies: readonly string[]) => Promise<Map<number, Error>>;

/** What one batch did (counts only). */
export interface StageSummary extends StageResult {
  readonly messages: number;
  readonly quarantined: ReadonlyArray<{ messageId: string; reason: string }>;
  readonly failed: number;
  /** Stage calls made: more than 1 when the warehouse refused rows and the batch was bisected. */
  readonly stageAttempts: number;
}

/** One thing to quarantine: a whole message, or one row of it kept as a one-row message (ready to re-drive). */
interface Reject {
  readonly record: SQSRecord;
  readonly reason: 'bad-row-message' | 'invalid-value' | 'warehouse-rejected';
  readonly detail: string;
  readonly payload: string;
}

const describe = (error: unknown): string => {
  if (error instanceof ZodError) return error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  return 'body is not valid JSON';
};

/** Splits a batch into stageable rows (with the message each came from) and rejects. */
const readBatch = (records: readonly SQSRecord[]): { rows: ClaimRow[]; owners: SQSRecord[]; rejects: Reject[] } => {
  const rows: ClaimRow[] = [];
  const owners: SQSRecord[] = [];
  const rejects: Reject[] = [];
  for (const record of records) {
    try {
      const read = readRowMessage(record.body);
      for (const r of read.rows) {
        rows.push(r);
        owners.push(record);
      }
      for (const bad of read.rejects) rejects.push({ record, reason: 'invalid-value', detail: `row ${bad.index}: ${bad.detail}`, payload: rowMessageBody([bad.row]) });
    } catch (error) {
      rejects.push({ record, reason: 'bad-row-message', detail: `not a row message: ${describe(error)}`, payload: record.body });
    }
  }
  return { rows, owners, rejects };
};

/**
 * The warehouse with every stage call bounded by `options`: `stageIsolating` calls stage again for each half when it
 * bisects, and every one of those calls must end by the invocation's deadline too.
 */
const bounded = (warehouse: Warehouse, options: CallOptions | undefined): Warehouse =>
  options === undefined
    ? warehouse
    : {
        init: () => warehouse.init(),
        stage: (rows) => warehouse.stage(rows, options),
        merge: (hook, mergeOptions) => warehouse.merge(hook, mergeOptions ?? options),
        query: (sql) => warehouse.query(sql),
        status: () => warehouse.status(),
        close: () => warehouse.close(),
      };

/**
 * Stages every row of a batch of load-queue messages (idempotent by event id, so a redelivered batch is harmless).
 * Whatever cannot be staged is quarantined with its reason and payload, and the rest of the batch goes on: a message
 * that is not a row message, a row that breaks the warehouse's rules, and a row the warehouse itself refuses (found by
 * bisecting the batch, reason `warehouse-rejected`). An infrastructure failure fails every message that carried rows,
 * for redelivery; their rows' quarantines wait for that retry, so nothing is quarantined twice. `options.deadline`
 * bounds every stage call (a call that runs out of time is such an infrastructure failure).
 */
export const stageMessages = async (
  records: readonly SQSRecord[],
  warehouse: Warehouse,
  quarantineQueueUrl: string,
  send: Send,
  options?: CallOptions,
): Promise<{ outcomes: Outcomes; summary: StageSummary }> => {
  const { rows, owners, rejects } = readBatch(records);
  const outcomes = new Map<string, Error>();
  let staged = 0;
  let stageAttempts = 0;
  try {
    const isolated = await stageIsolating(bounded(warehouse, options), rows);
    staged = isolated.staged;
    stageAttempts = isolated.attempts;
    for (const { index, detail } of isolated.rejected) {
      rejects.push({ record: owners[index] as SQSRecord, reason: 'warehouse-rejected', detail, payload: rowMessageBody([rows[index]]) });
    }
  } catch (error) {
    for (const record of owners) outcomes.set(record.messageId, error instanceof Error ? error : new Error(String(error)));
  }
  const toQuarantine = rejects.filter((r) => !outcomes.has(r.record.messageId));
  const messages = toQuarantine.flatMap(({ record, reason, detail, payload }) =>
    quarantineMessages(reason, detail, { stage: 'load', id: record.messageId, source: record.eventSourceARN }, payload).map((m) => ({ record, body: JSON.stringify(m) })),
  );
  for (const [i, error] of await send(quarantineQueueUrl, messages.map((q) => q.body))) outcomes.set((messages[i] as { record: SQSRecord }).record.messageId, error);
  return {
    outcomes,
    summary: {
      received: rows.length,
      staged,
      stageAttempts,
      messages: records.length,
      quarantined: toQuarantine.map(({ record, reason }) => ({ messageId: record.messageId, reason })),
      failed: outcomes.size,
    },
  };
};
