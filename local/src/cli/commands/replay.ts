import { chmodSync, existsSync } from 'node:fs';
import { DuckDbWarehouse } from '@claims-cdc/shared/warehouse/duckdb';
import { replayFile } from '../../replay/replay';
import { parse, positiveInt } from '../../console/args';
import { UsageError } from '../../console/errors';
import type { Io } from '../../console/io';
import { LiveLine } from '../../console/live-line';

export const REPLAY_HELP = `Usage: claims-cdc replay FILE --db PATH [--batch N] [--merge-every N] [--json]

Replays a JSONL file through the pipeline's decode → flatten → check → stage → merge code into a DuckDB file.
A progress line shows the lines read and the rate (not with --json). Each line is either a decoded DynamoDB→Kinesis record (the kinesis.data payload; the line number stands in for the
sequence number) or a Kinesis record as Lambda receives it ({"kinesis":{"sequenceNumber":…,"data":<base64>}}, replayed
with its own sequence number). Every good line is staged; each rejected one is reported as "line N: reason: detail".
  --db PATH         DuckDB file to write (created if missing)
  --batch N         records per load (default 500)
  --merge-every N   loads per merge (default 1)
  --json            print the summary as JSON
Exit codes: 0 every line replayed; 3 finished, but some lines were rejected (each reported); 2 bad arguments;
1 the replay failed.`;

/** Exit code of a replay that finished with rejected lines: distinct from a failure (1) and bad arguments (2). */
export const REPLAY_REJECTED_EXIT = 3;

/** `claims-cdc replay` */
export const replayCommand = async (args: readonly string[], io: Io): Promise<number> => {
  const { values, positionals } = parse(args, { db: { type: 'string' }, batch: { type: 'string' }, 'merge-every': { type: 'string' }, json: { type: 'boolean' } }, REPLAY_HELP);
  if (values.help) {
    io.out(REPLAY_HELP);
    return 0;
  }
  const [file, ...extra] = positionals;
  if (!file) throw new UsageError(`replay needs a FILE\n${REPLAY_HELP}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
  if (typeof values.db !== 'string') throw new UsageError('replay needs --db PATH');
  const batch = positiveInt(values.batch, 'batch', 500);
  const mergeEvery = positiveInt(values['merge-every'], 'merge-every', 1);
  const db = values.db;
  const created = !existsSync(db);
  const warehouse = await DuckDbWarehouse.open({ path: db });
  try {
    await warehouse.init();
    if (created) makePrivate(db);
    // Progress (lines read, rate) on the live line; not with --json, whose output is one JSON document.
    const live = values.json ? undefined : new LiveLine(io);
    const started = Date.now();
    const onProgress = (lines: number): void => {
      const rate = lines / Math.max((Date.now() - started) / 1000, 0.001);
      live?.update(`replayed ${lines} lines · ${Math.round(rate)} lines/s`, String(lines));
    };
    const summary = await replayFile(file, warehouse, { batch, mergeEvery, onProgress, onReject: (line, reason) => io.err(`line ${line}: ${reason}`) });
    live?.end();
    const status = await warehouse.status();
    const report = { lines: summary.lines, events: summary.events, rejected: summary.rejected, loads: summary.loads, merges: summary.merges, staged: summary.staged, destination: status.destination, history: status.history };
    io.out(values.json ? JSON.stringify(report) : Object.entries(report).map(([k, v]) => `${k.padEnd(12)} ${v}`).join('\n'));
    return summary.rejected > 0 ? REPLAY_REJECTED_EXIT : 0;
  } finally {
    await warehouse.close();
    if (created) makePrivate(db);
  }
};

/**
 * The replayed claims' PHI is in the file replay created (and in its WAL while it is open): owner-only. The CLI's
 * umask already creates them so; this covers a caller with a looser one. A file that existed keeps its mode.
 */
function makePrivate(db: string): void {
  for (const file of [db, `${db}.wal`]) {
    try {
      chmodSync(file, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
