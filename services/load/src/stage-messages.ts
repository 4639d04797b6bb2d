import { type ClaimRow, parseRowMessage, quarantineMessages } from '@claims-cdc/shared';
import type { Outcomes } from '@claims-cdc/shared/batch/outcomes';
import type { StageResult, Warehouse } from '@claims-cdc/shared/warehouse/port';
import type { SQSRecord } from 'aws-lambda';
import { ZodError } from 'zod';

/** Sends bodies to a queue; returns the errors of the bodies it could not send, by index. */
export type Send = (queueUrl: string, bodies: readonly string[]) => Promise<Map<number, Error>>;

/** What one batch did (counts only). */
export interface StageSummary extends StageResult {
  readonly messages: number;
  readonly quarantined: ReadonlyArray<{ messageId: string; reason: string }>;
  readonly failed: number;
}

const describe = (error: unknown): string => {
  if (error instanceof ZodError) return error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  return 'body is not valid JSON';
};

/**
 * Stages every row of a batch of load-queue messages in ONE warehouse transaction (idempotent by event id, so a
 * redelivered batch is harmless). A message that is not a valid row message is quarantined with its reason and
 * body; if the warehouse fails, every valid message of the batch fails and is redelivered.
 */
export const stageMessages = async (records: readonly SQSRecord[], warehouse: Warehouse, quarantineQueueUrl: string, send: Send): Promise<{ outcomes: Outcomes; summary: StageSummary }> => {
  const rows: ClaimRow[] = [];
  const valid: SQSRecord[] = [];
  const rejects: Array<{ record: SQSRecord; detail: string }> = [];
  for (const record of records) {
    try {
      rows.push(...parseRowMessage(record.body));
      valid.push(record);
    } catch (error) {
      rejects.push({ record, detail: `not a row message: ${describe(error)}` });
    }
  }
  const outcomes = new Map<string, Error>();
  const quarantine = rejects.flatMap(({ record, detail }) =>
    quarantineMessages('bad-row-message', detail, { stage: 'load', id: record.messageId, source: record.eventSourceARN }, record.body).map((m) => ({ record, body: JSON.stringify(m) })),
  );
  for (const [i, error] of await send(quarantineQueueUrl, quarantine.map((q) => q.body))) outcomes.set((quarantine[i] as { record: SQSRecord }).record.messageId, error);

  let result: StageResult = { received: rows.length, staged: 0 };
  if (rows.length > 0) {
    try {
      result = await warehouse.stage(rows);
    } catch (error) {
      for (const record of valid) outcomes.set(record.messageId, error instanceof Error ? error : new Error(String(error)));
    }
  }
  return {
    outcomes,
    summary: { ...result, messages: records.length, quarantined: rejects.map(({ record }) => ({ messageId: record.messageId, reason: 'bad-row-message' })), failed: outcomes.size },
  };
};
