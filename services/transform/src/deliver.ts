import { type ChangeEvent, checkRow, type ClaimRow, decodeKinesisData, MAX_SQS_MESSAGE_BYTES, packRows, quarantineMessages, RecordRejectedError, toClaimRow, toRejection } from '@claims-cdc/shared';
import type { Outcomes } from '@claims-cdc/shared/batch/outcomes';
import type { KinesisStreamRecord } from 'aws-lambda';

/** Sends bodies to a queue; returns the errors of the bodies it could not send, by index. */
export type Send = (queueUrl: string, bodies: readonly string[]) => Promise<Map<number, Error>>;

/** Where rows and rejects go. */
export interface DeliverTargets {
  readonly loadQueueUrl: string;
  readonly quarantineQueueUrl: string;
  readonly maxMessageBytes?: number;
}

/** What one batch did, for metrics and logs (counts and ids only). */
export interface DeliverSummary {
  readonly rows: number;
  readonly messages: number;
  readonly quarantined: ReadonlyArray<{ sequenceNumber: string; reason: string }>;
  readonly failed: number;
}

/**
 * The row of one change, checked against what the warehouse accepts. A REMOVE carries its old image only for the
 * audit history; when that makes it too large for a queue message it travels without it, because the delete itself
 * (key + version) must reach the warehouse.
 */
const rowOf = (event: ChangeEvent, maxMessageBytes: number): ClaimRow => {
  const row = checkRow(toClaimRow(event));
  if (event.eventName !== 'REMOVE' || Buffer.byteLength(JSON.stringify(row)) <= maxMessageBytes - 1024) return row;
  const { oldImage: _dropped, ...withoutImage } = event;
  return checkRow(toClaimRow(withoutImage));
};

/**
 * Decodes, flattens and ships one Kinesis batch: rows are packed into as few load-queue messages as fit;
 * records that can never succeed (not JSON, not a claim, wrong schema, too large) are quarantined with their reason
 * and raw payload instead of being retried. Returns the records that must be retried (a send that failed).
 */
export const deliverRecords = async (records: readonly KinesisStreamRecord[], targets: DeliverTargets, send: Send): Promise<{ outcomes: Outcomes; summary: DeliverSummary }> => {
  const rows: ClaimRow[] = [];
  const rowRecords: KinesisStreamRecord[] = [];
  const rejects: Array<{ record: KinesisStreamRecord; error: RecordRejectedError }> = [];
  for (const record of records) {
    try {
      rows.push(rowOf(decodeKinesisData(record.kinesis.data, record.kinesis.sequenceNumber), targets.maxMessageBytes ?? MAX_SQS_MESSAGE_BYTES));
      rowRecords.push(record);
    } catch (error) {
      rejects.push({ record, error: toRejection(error) });
    }
  }
  const { messages, oversized } = packRows(rows, targets.maxMessageBytes ?? MAX_SQS_MESSAGE_BYTES);
  for (const { rowIndex, bytes } of oversized) {
    const record = rowRecords[rowIndex] as KinesisStreamRecord;
    rejects.push({ record, error: new RecordRejectedError('too-large', `row of ${bytes} bytes exceeds the ${targets.maxMessageBytes ?? MAX_SQS_MESSAGE_BYTES}-byte queue message limit`) });
  }

  const outcomes = new Map<string, Error>();
  const quarantine = rejects.flatMap(({ record, error }) =>
    quarantineMessages(error.reason, error.detail, { stage: 'transform', id: record.kinesis.sequenceNumber, source: record.eventSourceARN }, record.kinesis.data).map((message) => ({
      record,
      body: JSON.stringify(message),
    })),
  );
  const quarantineFailures = await send(targets.quarantineQueueUrl, quarantine.map((q) => q.body));
  for (const [i, error] of quarantineFailures) outcomes.set((quarantine[i] as { record: KinesisStreamRecord }).record.kinesis.sequenceNumber, error);

  const rowFailures = await send(targets.loadQueueUrl, messages.map((m) => m.body));
  for (const [i, error] of rowFailures) {
    for (const rowIndex of (messages[i] as { rowIndexes: readonly number[] }).rowIndexes) outcomes.set((rowRecords[rowIndex] as KinesisStreamRecord).kinesis.sequenceNumber, error);
  }
  return {
    outcomes,
    summary: {
      rows: rows.length - oversized.length,
      messages: messages.length,
      quarantined: rejects.map(({ record, error }) => ({ sequenceNumber: record.kinesis.sequenceNumber, reason: error.reason })),
      failed: outcomes.size,
    },
  };
};
