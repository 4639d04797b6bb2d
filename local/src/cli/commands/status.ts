import { setTimeout as sleep } from 'node:timers/promises';
import { statusLines, type StatusViewInput } from '../../inspect/status-view';
import type { LiveReply } from '../../live-page';
import { ratesBetween } from '../../live-page/sampler';
import type { StackInfo } from '../../stack/stack-client';
import { parse, positiveInt } from '../../console/args';
import { CommandError, UsageError } from '../../console/errors';
import type { Io } from '../../console/io';
import { LiveBlock } from '../../console/live-line';
import { callControl } from '../../console/stack-call';
import type { StatusReply } from '../../inspect/stack-controls';
import { requireRunningStack, resolveStateDir } from '../../console/state-dir';
import { awsStageOf, onAwsTarget, TARGET_HELP, TARGET_OPTIONS } from '../../aws-target/target-option';

/** `claims-cdc status --help`. */
export const STATUS_HELP = `Usage: claims-cdc status [--json] [--watch [--count N]] [--state-dir DIR | --target aws --stage S]

Where every change is in the running stack, stage by stage: items in DynamoDB; changes the capture has not put on
the stream yet; records on the stream the transform has not read (and each shard's lag); records the transform is
working on and its calls in flight; the load queue and the load calls in flight; the load dead-letter queue and the
transform's on-failure queue; rows staged (not merged yet), in the event history and in the destination; inputs
quarantined (claims-cdc quarantine list shows them); the age of the oldest unmerged change; and the end-to-end
freshness of the last minute (write in DynamoDB → row in the destination, p50/p99).
  --json            print the whole status as JSON (counts and settings only, never claim contents)
  --watch           refresh every second, in place on a terminal, with sparklines of throughput and lag
  --count N         with --watch: stop after N refreshes (default: until Ctrl-C)
  --state-dir DIR   the stack's state directory (default .claims-cdc)
${TARGET_HELP}
                           (a deployed stage's status: items, stream, queue depths, warehouse counts; no --watch)`;

const WATCH_EVERY_MS = 1_000;
const SPARK_POINTS = 30;

const age = (startedAt: string): string => {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(startedAt)) / 1000));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
};

/** The `live` route of a stack started by `up` (undefined for a stack without one, e.g. the demo's). */
const liveOf = async (stack: StackInfo): Promise<LiveReply | undefined> => {
  try {
    return await callControl<LiveReply>(stack, 'live');
  } catch (error) {
    if (error instanceof CommandError && /has no 'live' route/.test(error.message)) return undefined;
    throw error;
  }
};

const viewOf = (status: StatusReply, live: LiveReply | undefined): StatusViewInput => ({
  pipeline: status.pipeline,
  stack: `running, pid ${status.pid}, up ${age(status.startedAt)}, state ${status.stateDir}`,
  tableName: status.tableName,
  warehouse: status.warehouse,
  ...(live ? { freshness: live.freshness } : {}),
});

/** `claims-cdc status` */
export const statusCommand = async (args: readonly string[], io: Io): Promise<number> => {
  const { values, positionals } = parse(
    args,
    { json: { type: 'boolean' }, watch: { type: 'boolean' }, count: { type: 'string' }, 'state-dir': { type: 'string' }, ...TARGET_OPTIONS },
    STATUS_HELP,
  );
  if (values.help) {
    io.out(STATUS_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (values.watch && values.json) throw new UsageError('give --watch or --json, not both');
  if (values.count !== undefined && !values.watch) throw new UsageError('--count goes with --watch');
  const stage = awsStageOf(values);
  if (stage !== undefined) {
    if (values.watch) throw new UsageError('--watch is for the running stack; with --target aws, run status again');
    return onAwsTarget(async (aws) => {
      const status = await aws.stageStatus(stage);
      for (const line of values.json ? [JSON.stringify(status)] : aws.stageStatusLines(status)) io.out(line);
      return 0;
    });
  }
  const stack = requireRunningStack(resolveStateDir(values['state-dir']));
  if (values.watch) return watch(stack, io, positiveInt(values.count, 'count', Number.POSITIVE_INFINITY));
  const [status, live] = await Promise.all([callControl<StatusReply>(stack, 'status'), liveOf(stack)]);
  if (values.json) {
    io.out(JSON.stringify(live ? { ...status, freshness: live.freshness } : status));
    return 0;
  }
  for (const line of statusLines(viewOf(status, live))) io.out(line);
  return 0;
};

/**
 * Redraws the status every second. The sparklines come from the stack's own recent rates when it keeps them (a stack
 * `up` runs) and otherwise from the statuses this command has seen.
 */
async function watch(stack: StackInfo, io: Io, count: number): Promise<number> {
  const block = new LiveBlock(io);
  const seen: StatusReply[] = [];
  for (let n = 0; n < count; n++) {
    const began = Date.now();
    const [status, live] = await Promise.all([callControl<StatusReply>(stack, 'status'), liveOf(stack)]);
    seen.push(status);
    if (seen.length > SPARK_POINTS + 1) seen.shift();
    const rates = live?.rates ?? seen.slice(1).map((s, i) => ratesBetween((seen[i] as StatusReply).pipeline, s.pipeline));
    const view = viewOf(status, live);
    const lines = statusLines({ ...view, spark: { throughput: rates.map((r) => r.loaded), lag: rates.map((r) => r.lagSeconds) } });
    // Plain output repeats a block only when a count changed, not when only the clock or the stack's age did.
    block.update([`${new Date().toISOString().slice(11, 19)}  claims-cdc status --watch (Ctrl-C ends it)`, ...lines], JSON.stringify(status.pipeline, (k, v) => (k === 'takenAt' ? undefined : v)));
    if (n + 1 < count) await sleep(Math.max(0, WATCH_EVERY_MS - (Date.now() - began)));
  }
  return 0;
}
