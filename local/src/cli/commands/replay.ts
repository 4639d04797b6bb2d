import { existsSync } from 'node:fs';
import { DuckDbWarehouse } from '@claims-cdc/shared/warehouse/duckdb';
import { replayFile } from '../../replay/replay';
import { parse, positiveInt } from '../args';
import { UsageError } from '../errors';
import type { Io } from '../io';

export const REPLAY_HELP = `Usage: claims-cdc replay FILE --db PATH [--batch N] [--merge-every N] [--json]

Replays a JSONL file of decoded DynamoDB→Kinesis records (one kinesis.data payload per line) through the
pipeline's decode → flatten → stage → merge code into a DuckDB file.
  --db PATH         DuckDB file to write (created if missing)
  --batch N         records per load (default 500)
  --merge-every N   loads per merge (default 1)
  --json            print the summary as JSON`;

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
  const warehouse = await DuckDbWarehouse.open({ path: values.db });
  try {
    await warehouse.init();
    const summary = await replayFile(file, warehouse, { batch, mergeEvery, onReject: (line, reason) => io.err(`line ${line}: ${reason}`) });
    const status = await warehouse.status();
    const report = { lines: summary.lines, events: summary.events, rejected: summary.rejected, loads: summary.loads, merges: summary.merges, staged: summary.staged, destination: status.destination, history: status.history };
    io.out(values.json ? JSON.stringify(report) : Object.entries(report).map(([k, v]) => `${k.padEnd(12)} ${v}`).join('\n'));
    return 0;
  } finally {
    await warehouse.close();
  }
};
