import type { SendBodies } from '@claims-cdc/shared/aws/sqs-sender';
import { type BatchReport, BatchStage, type Reject } from '@claims-cdc/shared/batch/batch-stage';
import type { ClaimRow } from '@claims-cdc/shared/domain/columns';
import { readRowMessage, type RowReject, rowMessageBody } from '@claims-cdc/shared/domain/row-message';
import type { CallOptions, StageResult, Warehouse } from '@claims-cdc/shared/warehouse/port';
import { stageIsolating } from '@claims-cdc/shared/warehouse/stage-isolating';
import type { Context, SQSRecord } from 'aws-lambda';

/** What one batch's work did (counts only). */
export interface LoadSummary extends StageResult {
  /** Stage calls made: more than 1 when the warehouse refused rows and the batch was bisected. */
  readonly stageAttempts: number;
}

/** A message's stageable rows and its rows that break the warehouse's rules. */
type ReadMessage = { rows: ClaimRow[]; rejects: RowReject[] };

/** The load's batch stage. */
export type LoadStage = BatchStage<SQSRecord, ReadMessage, LoadSummary>;

/** Where rows and rejects go, and how. */
export interface LoadTargets {
  readonly warehouse: Warehouse | Promise<Warehouse>;
  readonly quarantineQueueUrl: string;
  readonly send: SendBodies;
  /** The bounds of every warehouse call in an invocation (its deadline), from its context. */
  readonly callOptions?: (context: Context | undefined) => CallOptions | undefined;
}

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

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/**
 * Stages every row of a batch of load-queue messages in one warehouse call (idempotent by event id, so a redelivered
 * batch is harmless). Whatever cannot be staged is quarantined with its reason and payload, and the rest of the batch
 * goes on: a message that is not a row message (`bad-row-message`, its body), a row that breaks the warehouse's rules
 * (`invalid-value`, kept as a one-row message ready to re-drive), and a row the warehouse itself refuses (found by
 * bisecting the batch, `warehouse-rejected`). An infrastructure failure fails every message that carried rows, for
 * redelivery; their rows' quarantines wait for that retry (the stage quarantines nothing of a failed message), so
 * nothing is quarantined twice.
 */
export const loadStage = (targets: LoadTargets, report?: (report: BatchReport<LoadSummary>) => void): LoadStage =>
  new BatchStage({
    stage: 'load',
    quarantineQueueUrl: targets.quarantineQueueUrl,
    send: targets.send,
    ...(report === undefined ? {} : { report }),
    parse: (record: SQSRecord): ReadMessage => readRowMessage(record.body),
    work: async (accepted, context) => {
      const rows: ClaimRow[] = [];
      const owners: SQSRecord[] = [];
      const rejects: Reject<SQSRecord>[] = [];
      for (const { record, value } of accepted) {
        for (const row of value.rows) {
          rows.push(row);
          owners.push(record);
        }
        for (const bad of value.rejects) rejects.push({ record, reason: 'invalid-value', detail: `row ${bad.index}: ${bad.detail}`, payload: rowMessageBody([bad.row]) });
      }
      const failed = new Map<SQSRecord, Error>();
      try {
        const isolated = await stageIsolating(bounded(await targets.warehouse, targets.callOptions?.(context)), rows);
        for (const { index, detail } of isolated.rejected) {
          rejects.push({ record: owners[index] as SQSRecord, reason: 'warehouse-rejected', detail, payload: rowMessageBody([rows[index]]) });
        }
        return { failed, rejects, summary: { received: rows.length, staged: isolated.staged, stageAttempts: isolated.attempts } };
      } catch (error) {
        for (const record of owners) failed.set(record, asError(error));
        return { failed, rejects, summary: { received: rows.length, staged: 0, stageAttempts: 1 } };
      }
    },
  });
