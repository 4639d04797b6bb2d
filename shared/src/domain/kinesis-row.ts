import { checkRow } from './cell-rules';
import { decodeKinesisData } from './change-event';
import { RecordRejectedError } from './errors';
import { fastRowJson } from './fast-decode';
import { toClaimRow } from './flatten';
import { MAX_SQS_MESSAGE_BYTES, type RowJson, rowFits, rowJson } from './row-message';

/** Options of {@link kinesisRowJson}. */
export interface KinesisRowOptions {
  /** The clock implausible event times are judged by (default: now). */
  readonly nowMs?: number;
  /** The load queue's message limit (default: SQS's). */
  readonly maxMessageBytes?: number;
}

/**
 * The reference path from `kinesis.data` to a row's JSON text: the zod-checked decoder, the registry's flatten and
 * the warehouse's cell rules. A REMOVE carries its old image only for the audit history; when that makes it too large
 * for a queue message it travels without it, because the delete itself (key + version) must reach the warehouse.
 *
 * @throws RecordRejectedError when the record can never be processed.
 */
export const referenceRowJson = (data: string, sequenceNumber: string, nowMs: number, maxMessageBytes: number): RowJson => {
  const event = decodeKinesisData(data, sequenceNumber, nowMs);
  const row = rowJson(checkRow(toClaimRow(event)));
  if (event.eventName !== 'REMOVE' || row.bytes <= maxMessageBytes - 1024) return row;
  const { oldImage: _dropped, ...withoutImage } = event;
  return rowJson(checkRow(toClaimRow(withoutImage)));
};

/**
 * One Kinesis record's row, as the JSON text the load queue carries: the fast path (`fast-decode.ts`) for the
 * records it knows, the reference path for everything else, so every rejection comes with the reference reason.
 *
 * @throws RecordRejectedError when the record can never be processed, `too-large` when its row cannot fit in a
 *   queue message.
 */
export const kinesisRowJson = (data: string, sequenceNumber: string, options: KinesisRowOptions = {}): RowJson => {
  const nowMs = options.nowMs ?? Date.now();
  const maxMessageBytes = options.maxMessageBytes ?? MAX_SQS_MESSAGE_BYTES;
  const row = fastRowJson(data, sequenceNumber, { nowMs, maxMessageBytes }) ?? referenceRowJson(data, sequenceNumber, nowMs, maxMessageBytes);
  if (!rowFits(row.bytes, maxMessageBytes)) throw new RecordRejectedError('too-large', `row of ${row.bytes} bytes exceeds the ${maxMessageBytes}-byte queue message limit`);
  return row;
};
