import { lagSeconds } from '../../inspect/pipeline-status';
import { parse } from '../args';
import { UsageError } from '../errors';
import type { Io } from '../io';
import { callControl } from '../stack-call';
import type { StatusReply } from '../stack-controls';
import { requireRunningStack, resolveStateDir } from '../state-dir';

export const STATUS_HELP = `Usage: claims-cdc status [--json] [--state-dir DIR]

Where every change is in the running stack: items in DynamoDB, records on the stream, messages in the load queue,
rows staged (not merged yet), in the event history and in the destination, messages quarantined, and the age of
the oldest unmerged change.
  --json            print the whole status as JSON (counts and settings only, never claim contents)
  --state-dir DIR   the stack's state directory (default .claims-cdc)`;

const age = (startedAt: string): string => {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(startedAt)) / 1000));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
};

/** `claims-cdc status` */
export const statusCommand = async (args: readonly string[], io: Io): Promise<number> => {
  const { values, positionals } = parse(args, { json: { type: 'boolean' }, 'state-dir': { type: 'string' } }, STATUS_HELP);
  if (values.help) {
    io.out(STATUS_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const stack = requireRunningStack(resolveStateDir(values['state-dir']));
  const status = await callControl<StatusReply>(stack, 'status');
  if (values.json) {
    io.out(JSON.stringify(status));
    return 0;
  }
  const p = status.pipeline;
  const rows: [string, string][] = [
    ['stack', `running, pid ${status.pid}, up ${age(status.startedAt)}, state ${status.stateDir}`],
    ['DynamoDB', `${p.items} items in ${status.tableName}`],
    ...(p.captured === null ? [] : [['captured', `${p.captured} changes put on the stream since the stack started`] as [string, string]]),
    ['stream', `${p.inStream} records on their way to the transform (behind by ${p.streamBehindMs} ms)`],
    ['load queue', `${p.loadQueue} messages`],
    ['staged', `${p.staged} rows not merged yet`],
    ['history', `${p.history} rows`],
    ['destination', `${p.destination} rows`],
    ['quarantined', `${p.quarantined} messages${p.deadLettered > 0 ? ` (and ${p.deadLettered} dead-lettered)` : ''}`],
    ['oldest unmerged', p.oldestUnmergedAgeSeconds === null ? '- (nothing staged)' : `${p.oldestUnmergedAgeSeconds.toFixed(1)} s`],
    ['lag', `${lagSeconds(p).toFixed(1)} s`],
    ...(p.failedInvocations > 0 ? [['failed invocations', String(p.failedInvocations)] as [string, string]] : []),
    ['warehouse', status.warehouse],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) io.out(`${k.padEnd(width)}  ${v}`);
  return 0;
};
