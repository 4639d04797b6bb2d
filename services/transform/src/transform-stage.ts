import type { SendBodies } from '@claims-cdc/shared/aws/sqs-sender';
import { type BatchReport, BatchStage } from '@claims-cdc/shared/batch/batch-stage';
import { kinesisRowJson } from '@claims-cdc/shared/domain/kinesis-row';
import { MAX_SQS_MESSAGE_BYTES, packRowJson, type RowJson } from '@claims-cdc/shared/domain/row-message';
import type { KinesisStreamRecord } from 'aws-lambda';

/** Where rows and rejects go, and how. */
export interface TransformTargets {
  readonly loadQueueUrl: string;
  readonly quarantineQueueUrl: string;
  readonly send: SendBodies;
  /** The load queue's message limit (default: SQS's). */
  readonly maxMessageBytes?: number;
  /** The clock event times are judged by (default: Date.now). */
  readonly now?: () => number;
}

/** What one batch's work did (counts only). */
export interface TransformSummary {
  readonly rows: number;
  readonly messages: number;
}

/** The transform's batch stage: a record's row or its rejection; the batch's rows packed and sent in one go. */
export type TransformStage = BatchStage<KinesisStreamRecord, RowJson, TransformSummary>;

/**
 * Decodes, flattens and ships Kinesis batches. Each record becomes its row's JSON text (`kinesisRowJson`: the fast
 * path, the reference path for anything unusual), or a rejection (not base64, not JSON, not a claim, wrong schema,
 * too large) that the stage quarantines with its reason and raw payload. The batch's rows are packed, in order, into
 * as few load-queue messages as fit; the records of a message that could not be sent fail, and Lambda retries them.
 */
export const transformStage = (targets: TransformTargets, report?: (report: BatchReport<TransformSummary>) => void): TransformStage => {
  const maxMessageBytes = targets.maxMessageBytes ?? MAX_SQS_MESSAGE_BYTES;
  const now = targets.now ?? Date.now;
  return new BatchStage({
    stage: 'transform',
    quarantineQueueUrl: targets.quarantineQueueUrl,
    send: targets.send,
    ...(report === undefined ? {} : { report }),
    parse: (record: KinesisStreamRecord): RowJson => kinesisRowJson(record.kinesis.data, record.kinesis.sequenceNumber, { nowMs: now(), maxMessageBytes }),
    work: async (accepted) => {
      // Every row fits on its own (the parse rejected those that do not), so packing leaves none over.
      const { messages } = packRowJson(
        accepted.map((a) => a.value),
        maxMessageBytes,
      );
      const failed = new Map<KinesisStreamRecord, Error>();
      for (const [i, error] of await targets.send(targets.loadQueueUrl, messages.map((m) => m.body))) {
        for (const rowIndex of messages[i]?.rowIndexes ?? []) failed.set((accepted[rowIndex] as { record: KinesisStreamRecord }).record, error);
      }
      return { failed, rejects: [], summary: { rows: accepted.length, messages: messages.length } };
    },
  });
};
