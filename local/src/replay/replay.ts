import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { type ChangeEvent, checkRow, type ClaimRow, decodeKinesisData, parseRecordJson, toChangeEvent, toClaimRow, toRejection } from '@claims-cdc/shared';
import type { MergeResult, Warehouse } from '@claims-cdc/shared/warehouse/port';
import { stageIsolating } from '@claims-cdc/shared/warehouse/stage-isolating';

/** Options for {@link replayFile}. */
export interface ReplayOptions {
  /** Records per load (stage call). */
  readonly batch: number;
  /** Loads per merge. */
  readonly mergeEvery: number;
  /** Called for every line that cannot be replayed: line number and reason, never its content. */
  readonly onReject?: (line: number, reason: string) => void;
  /** Called after every load with the lines read so far (for a progress line). */
  readonly onProgress?: (lines: number) => void;
}

/** What a replay did. */
export interface ReplaySummary {
  readonly lines: number;
  readonly events: number;
  readonly rejected: number;
  readonly loads: number;
  readonly merges: number;
  readonly staged: number;
  readonly merged: MergeResult[];
}

/** A Kinesis record as Lambda receives it: its own sequence number and the base64 DynamoDB record. */
interface LambdaKinesisRecord {
  readonly kinesis: { readonly sequenceNumber: string; readonly data: string };
}

const isLambdaKinesisRecord = (value: unknown): value is LambdaKinesisRecord => {
  const kinesis = (value as { kinesis?: unknown } | null)?.kinesis as Record<string, unknown> | undefined;
  return typeof kinesis === 'object' && kinesis !== null && typeof kinesis.sequenceNumber === 'string' && typeof kinesis.data === 'string';
};

/**
 * One line as a change: a Kinesis record as Lambda receives it (`{"kinesis":{"sequenceNumber","data"},…}`, replayed
 * with its real sequence number), or a decoded DynamoDB→Kinesis record (the line number stands in for the sequence
 * number, so file order breaks ties between events of one millisecond).
 */
export const lineToEvent = (text: string, line: number): ChangeEvent => {
  const payload = parseRecordJson(text);
  if (isLambdaKinesisRecord(payload)) return decodeKinesisData(payload.kinesis.data, payload.kinesis.sequenceNumber);
  return toChangeEvent(payload, String(line));
};

/**
 * Replays a JSONL file of change records (see {@link lineToEvent}) through the same decode → flatten → check →
 * stage → merge code the Lambda functions run. A line that cannot be decoded, or a row the warehouse refuses (found
 * by bisecting its load, as the load function does), is reported with its line number and reason; every other line
 * is staged. Nothing stops.
 */
export const replayFile = async (path: string, warehouse: Warehouse, options: ReplayOptions): Promise<ReplaySummary> => {
  let lines = 0;
  let events = 0;
  let rejected = 0;
  let loads = 0;
  let staged = 0;
  const merged: MergeResult[] = [];
  let pending: Array<{ row: ClaimRow; line: number }> = [];
  const reject = (line: number, reason: string): void => {
    rejected += 1;
    options.onReject?.(line, reason);
  };
  const load = async (): Promise<void> => {
    if (pending.length === 0) return;
    const result = await stageIsolating(warehouse, pending.map((p) => p.row));
    for (const { index, detail } of result.rejected) reject((pending[index] as { line: number }).line, `warehouse-rejected: ${detail}`);
    events += pending.length - result.rejected.length;
    staged += result.staged;
    pending = [];
    loads += 1;
    if (loads % options.mergeEvery === 0) merged.push(await warehouse.merge());
    options.onProgress?.(lines);
  };
  const input = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const text of input) {
    lines += 1;
    if (text.trim() === '') continue;
    try {
      pending.push({ row: checkRow(toClaimRow(lineToEvent(text, lines))), line: lines });
    } catch (error) {
      reject(lines, toRejection(error).message);
    }
    if (pending.length >= options.batch) await load();
  }
  await load();
  merged.push(await warehouse.merge());
  return { lines, events, rejected, loads, merges: merged.length, staged, merged };
};
