import type { StatusReply } from '../../inspect/stack-controls';
import { checkpointPath } from '../../backfill/checkpoint';
import { type BackfillProgress, type BackfillSummary, BackfillError, runBackfill } from '../../backfill/run-backfill';
import { DEFAULT_SKEW_MARGIN_MS, MAX_SKEW_MARGIN_MS } from '@claims-cdc/shared/domain/snapshot';
import { createStackClients, LOCAL_CREDENTIALS } from '../../stack/aws-env';
import { parse, positiveInt } from '../../console/args';
import { CommandError, UsageError } from '../../console/errors';
import type { Io } from '../../console/io';
import { LiveLine } from '../../console/live-line';
import { callControl } from '../../console/stack-call';
import { requireRunningStack, resolveStateDir } from '../../console/state-dir';

export const BACKFILL_HELP = `Usage: claims-cdc backfill [--segments N] [--max-rcu R] [--skew-margin-ms M] [--page-size N] [--restart] [--json] [--state-dir DIR]

Reads every item of the table with a parallel Scan and sends each through the pipeline (load queue → staging and
history → merge) as a snapshot row: eventName SNAPSHOT, version = the time its Scan page was requested minus the skew
margin, so a change the stream carries from that time on wins over it (README: "Backfill and reconciliation").
Items the pipeline cannot process are quarantined with their reason, like any other record. Safe while the
application writes; resumable: progress is checkpointed per segment in DIR/backfill-checkpoints.json, so after a
crash or Ctrl-C \`backfill\` continues (a page read again keeps its event ids: the load keeps one copy).
Exit status: 0 done, 3 done with items quarantined, 130 interrupted (run it again to continue).
  --segments N         parallel Scan segments (default: one per 2 GB of table, at least one per 1,000 items up to 4,
                       at most 64); a backfill in progress keeps its own
  --max-rcu R          read budget in capacity units per second (default: none); halved on throttling, then regained
  --skew-margin-ms M   clock skew tolerated between this machine and DynamoDB (default ${DEFAULT_SKEW_MARGIN_MS})
  --page-size N        items per Scan page (default 250)
  --restart            forget the checkpoint and read the whole table again
  --json               print the summary as JSON
  --state-dir DIR      the stack's state directory (default .claims-cdc)`;

const rate = (n: number): string => (n >= 100 ? String(Math.round(n)) : n.toFixed(1));

/** The progress line: items read per segment, items/s, ETA. */
export const progressLine = (p: BackfillProgress): string =>
  `backfill: ${p.read}/${p.estimatedItems} items · per segment ${p.readPerSegment.join(' ')} · ${rate(p.itemsPerSecond)}/s · ETA ${p.etaSeconds === undefined ? '?' : `${p.etaSeconds} s`} · sent ${p.sent} · quarantined ${p.rejected}`;

/** The summary for people (claim ids and reasons only). */
export const summaryLines = (s: BackfillSummary): string[] => {
  if (s.alreadyComplete) return [`backfill of ${s.table} already complete (${s.read} items read, ${s.sent} sent, ${s.rejected} quarantined); --restart reads it again`];
  const lines = [
    `${s.complete ? '✓ backfill complete' : '✗ backfill interrupted; run it again to continue'}${s.resumed ? ' (resumed)' : ''}: ${s.read} items read, ${s.sent} sent, ${s.rejected} quarantined, ${s.segments} segment${s.segments === 1 ? '' : 's'}, ${s.seconds.toFixed(1)} s`,
  ];
  for (const r of s.rejectedClaims.slice(0, 20)) lines.push(`    quarantined ${r.claimId}: ${r.reason}`);
  if (s.rejected > 0) lines.push('  see them with: claims-cdc quarantine list');
  return lines;
};

const optionalInt = (value: string | boolean | undefined, name: string): number | undefined => (value === undefined ? undefined : positiveInt(value, name, 1));

/** `claims-cdc backfill` */
export const backfillCommand = async (args: readonly string[], io: Io): Promise<number> => {
  const spec = {
    segments: { type: 'string' },
    'max-rcu': { type: 'string' },
    'skew-margin-ms': { type: 'string' },
    'page-size': { type: 'string' },
    restart: { type: 'boolean' },
    json: { type: 'boolean' },
    'state-dir': { type: 'string' },
  } as const;
  const { values, positionals } = parse(args, spec, BACKFILL_HELP);
  if (values.help) {
    io.out(BACKFILL_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const segments = optionalInt(values.segments, 'segments');
  if (segments !== undefined && segments > 1_000_000) throw new UsageError('--segments must be at most 1000000 (DynamoDB\'s limit)');
  const maxRcu = optionalInt(values['max-rcu'], 'max-rcu');
  const pageSize = positiveInt(values['page-size'], 'page-size', 250);
  const margin = values['skew-margin-ms'] === undefined ? DEFAULT_SKEW_MARGIN_MS : Number(values['skew-margin-ms']);
  if (!Number.isInteger(margin) || margin < 0 || margin > MAX_SKEW_MARGIN_MS) throw new UsageError(`--skew-margin-ms must be an integer from 0 to ${MAX_SKEW_MARGIN_MS}, got '${String(values['skew-margin-ms'])}'`);
  const stateDir = resolveStateDir(values['state-dir']);
  const stack = requireRunningStack(stateDir);
  const status = await callControl<StatusReply>(stack, 'status');
  const clients = createStackClients(stack.endpoints, status.resources.table.arn.split(':')[3] ?? 'us-east-1', LOCAL_CREDENTIALS);
  const live = values.json ? undefined : new LiveLine(io, 2_000);
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  process.once('SIGINT', onSigint);
  try {
    const summary = await runBackfill({
      dynamodb: clients.dynamodb,
      sqs: clients.sqs,
      tableName: status.tableName,
      loadQueueUrl: status.resources.queues.load.url,
      quarantineQueueUrl: status.resources.queues.quarantine.url,
      checkpointFile: checkpointPath(stateDir),
      // The stack counts its items (the emulator's DescribeTable does not).
      estimatedItems: status.pipeline.items,
      ...(segments === undefined ? {} : { segments }),
      ...(maxRcu === undefined ? {} : { maxRcu }),
      marginMs: margin,
      pageSize,
      restart: values.restart === true,
      signal: interrupt.signal,
      ...(live ? { onProgress: (p: BackfillProgress) => live.update(progressLine(p), `${p.read}`) } : {}),
    });
    live?.clear();
    if (values.json) io.out(JSON.stringify(summary));
    else for (const line of summaryLines(summary)) io.out(line);
    if (!summary.complete) return 130;
    return summary.rejected > 0 && !summary.alreadyComplete ? 3 : 0;
  } catch (error) {
    live?.clear();
    if (error instanceof BackfillError) throw new CommandError(error.message);
    const name = error instanceof Error ? error.name : 'error';
    throw new CommandError(`backfill stopped (${name}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}); its checkpoint is kept: run backfill again to continue`);
  } finally {
    process.off('SIGINT', onSigint);
    clients.destroy();
  }
};
