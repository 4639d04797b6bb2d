import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { type ClaimRow, parseChangeRecord, RecordRejectedError, toClaimRow } from '@claims-cdc/shared';
import type { MergeResult, Warehouse } from '@claims-cdc/shared/warehouse/port';

/** Options for {@link replayFile}. */
export interface ReplayOptions {
  /** Records per load (stage call). */
  readonly batch: number;
  /** Loads per merge. */
  readonly mergeEvery: number;
  /** Called for every line that cannot be decoded: line number and reason, never its content. */
  readonly onReject?: (line: number, reason: string) => void;
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

/**
 * Replays a JSONL file of decoded DynamoDB→Kinesis records (one `kinesis.data` payload per line) through the same
 * decode → flatten → stage → merge code the Lambda functions run. The line number stands in for the Kinesis
 * sequence number (file order breaks ties between events of the same microsecond). Undecodable lines are reported
 * and counted; nothing stops.
 */
export const replayFile = async (path: string, warehouse: Warehouse, options: ReplayOptions): Promise<ReplaySummary> => {
  let lines = 0;
  let events = 0;
  let rejected = 0;
  let loads = 0;
  let staged = 0;
  const merged: MergeResult[] = [];
  let pending: ClaimRow[] = [];
  const load = async (): Promise<void> => {
    if (pending.length === 0) return;
    staged += (await warehouse.stage(pending)).staged;
    pending = [];
    loads += 1;
    if (loads % options.mergeEvery === 0) merged.push(await warehouse.merge());
  };
  const input = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const text of input) {
    lines += 1;
    if (text.trim() === '') continue;
    try {
      pending.push(toClaimRow(parseChangeRecord(text, String(lines))));
      events += 1;
    } catch (error) {
      if (!(error instanceof RecordRejectedError)) throw error;
      rejected += 1;
      options.onReject?.(lines, error.message);
    }
    if (pending.length >= options.batch) await load();
  }
  await load();
  merged.push(await warehouse.merge());
  return { lines, events, rejected, loads, merges: merged.length, staged, merged };
};
