import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import { scrubbedWarehouseError } from '@claims-cdc/shared/warehouse/scrub';
import { collectPipelineStatus } from '../../inspect/collect-status';
import { formatStatusLine } from '../../inspect/pipeline-status';
import { stackWarehouse } from '../../inspect/stack-warehouse';
import type { LivePage } from '../../live-page';
import type { AttachedQuarantine } from '../../quarantine';
import type { RunningStack } from '../../stack/start-stack';
import { claimStateDir, StateDirError, StateDirLockedError, type StateDirLock } from '../../stack/stack-client';
import { parse, positiveInt } from '../../console/args';
import { CommandError, UsageError } from '../../console/errors';
import { handlerLogging } from '../../console/handler-logs';
import type { Io } from '../../console/io';
import { LiveLine } from '../../console/live-line';
import type { GeneratorSchedule, ScheduledGenerator } from '../scheduled-generator';
import { registerCliControls } from '../../inspect/stack-controls';
import { displayPath, resolveStateDir, stateDirFlag } from '../../console/state-dir';
import type { AwsEndpoints } from '../../stack/aws-env';
import { externalEndpoints } from './endpoint-args';

export const UP_HELP = `Usage: claims-cdc up [--state-dir DIR] [--fresh] [--verbose | --log-file FILE]
                    [--generate-every SECONDS [--generate-count N]] [--endpoint URL]

Runs the embedded stack in the foreground until Ctrl-C: DynamoDB, Kinesis and SQS emulators on 127.0.0.1, the
DynamoDB→Kinesis capture, the transform, load and merge handlers on Lambda-like pollers, the ingest HTTP API, and
a DuckDB warehouse in the state directory. Shows a live status line. The other commands (generate, modify, delete,
status, sql, verify) find the stack through DIR/stack.json.
The state directory is private (0700, files 0600: the warehouse holds PHI) and serves one stack at a time: a second
up on it exits 1 and touches nothing (DIR/stack.lock; a lock left by a dead process is taken over).
Everything persists in DIR, and up resumes where the last run stopped, even one ended by kill -9: the DynamoDB
table (DIR/dynamodb), the Kinesis stream and its records (DIR/kinesis), the SQS queues with their in-flight and
dead-letter messages (DIR/sqs.journal), the capture's changes not yet on the stream (DIR/capture.journal), the
transform's shard checkpoints (DIR/kinesis-checkpoints.json), the warehouse and the quarantine. What was in flight
is redelivered and the pipeline drains; every stage is idempotent, so nothing is lost or doubled.
  --state-dir DIR    state directory (default .claims-cdc, in the directory you run from)
  --fresh            start empty: remove the earlier run's table, stream, queues, journals, checkpoints,
                     warehouse and quarantine first (the handler log is kept)
  --verbose          handler logs at INFO on this terminal
  --log-file FILE    handler logs at INFO appended to FILE
                     (default: warnings and errors appended to DIR/handlers.log)
  --generate-every SECONDS
                     play the ingest service's scheduled generator, as a stage deployed with generatorEnabled=true
                     runs it: its generate handler writes new claims to the table every SECONDS (first run after
                     one period); they are captured like any other write
  --generate-count N claims per run (default: the deployed generatorBatchSize in services/ingest/serverless.yml)
  --endpoint URL     run the handlers against an external AWS-compatible endpoint (LocalStack:
                     http://localhost:4566) instead of starting the emulators; also taken from AWS_ENDPOINT_URL.
                     AWS_ENDPOINT_URL_DYNAMODB, _KINESIS and _SQS override it per service. The table, stream,
                     queues and the table's Kinesis streaming destination are created there or reused; no capture
                     is started (the endpoint's DynamoDB streams the changes). Credentials come from the usual AWS
                     environment (LocalStack: AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test). The warehouse,
                     checkpoints and quarantine stay in DIR as without it.`;

const STATUS_EVERY_MS = 1_000;
/** Longest generator period: a day (a deployed rate rule takes minutes to days). */
const MAX_GENERATE_EVERY_SECONDS = 86_400;

/** `claims-cdc up` */
export const upCommand = async (args: readonly string[], io: Io): Promise<number> => {
  const { values, positionals } = parse(
    args,
    {
      'state-dir': { type: 'string' },
      fresh: { type: 'boolean' },
      // Accepted for scripts written for earlier versions: keeping the warehouse is the default now.
      'keep-warehouse': { type: 'boolean' },
      verbose: { type: 'boolean' },
      'log-file': { type: 'string' },
      'generate-every': { type: 'string' },
      'generate-count': { type: 'string' },
      endpoint: { type: 'string' },
    },
    UP_HELP,
  );
  if (values.help) {
    io.out(UP_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (values.verbose && values['log-file'] !== undefined) throw new UsageError('give --verbose or --log-file FILE, not both');
  if (values.fresh && values['keep-warehouse']) throw new UsageError('give --fresh or --keep-warehouse, not both');
  const generator = generatorSchedule(values['generate-every'], values['generate-count']);
  const external = externalEndpoints(values.endpoint, process.env);
  const stateDir = resolveStateDir(values['state-dir']);
  const lock = claimForUp(stateDir);
  try {
    return await runStack(stateDir, { ...values, ...(generator ? { generator } : {}), ...(external ? { external } : {}) }, io);
  } finally {
    lock.release();
  }
};

/** The generator schedule the flags ask for, if any. */
function generatorSchedule(every: string | undefined, count: string | undefined): GeneratorSchedule | undefined {
  if (every === undefined) {
    if (count !== undefined) throw new UsageError('--generate-count needs --generate-every SECONDS');
    return undefined;
  }
  const seconds = Number(every);
  if (!/^\d+(\.\d+)?$/.test(every) || !(seconds > 0) || seconds > MAX_GENERATE_EVERY_SECONDS) {
    throw new UsageError(`--generate-every must be a number of seconds above 0 and at most ${MAX_GENERATE_EVERY_SECONDS}, got '${every}'`);
  }
  return { everySeconds: seconds, ...(count === undefined ? {} : { count: positiveInt(count, 'generate-count', 1) }) };
}

/**
 * Claims the state directory before anything in it is touched (private: the warehouse and the logs hold PHI;
 * locked: of two `up` started at once on one directory, the second says so and leaves everything to the first).
 */
function claimForUp(stateDir: string): StateDirLock {
  try {
    return claimStateDir(stateDir);
  } catch (error) {
    if (error instanceof StateDirLockedError) throw new CommandError(`${error.message}; use it, or stop it first`);
    throw error instanceof StateDirError ? new CommandError(error.message) : error;
  }
}

/** What `up` was given, as parsed. */
interface UpValues {
  fresh?: boolean;
  'keep-warehouse'?: boolean;
  verbose?: boolean;
  'log-file'?: string;
  generator?: GeneratorSchedule;
  /** External endpoints instead of the emulators (`--endpoint`, AWS_ENDPOINT_URL*). */
  external?: AwsEndpoints;
}

/** What the banner shows beside the stack's own endpoints. */
interface Banner {
  stateDir: string;
  warehouseFile: string;
  startedAt: Date;
  resumed: boolean;
  logs: string;
  live: LivePage | undefined;
  generator: ScheduledGenerator | undefined;
  schedule: GeneratorSchedule | undefined;
}

/** Runs the stack in a state directory this process holds the lock of, until a signal stops it. */
const runStack = async (stateDir: string, values: UpValues, io: Io): Promise<number> => {
  const warehouseFile = path.join(stateDir, 'warehouse.duckdb');
  const { hasPersistedPipeline } = await import('../../stack/persistence');
  const resumable = hasPersistedPipeline(stateDir);
  // A warehouse without emulator data is from a version that kept DynamoDB in memory: it mirrors a table that is gone,
  // so it is cleared as that version did (unless --keep-warehouse asks to keep it).
  if (!values.external && !values.fresh && !resumable && !values['keep-warehouse']) for (const file of [warehouseFile, `${warehouseFile}.wal`]) rmSync(file, { force: true });
  const resumed = !values.fresh && (resumable || existsSync(warehouseFile));

  const logFile = values['log-file'] === undefined ? undefined : path.resolve(process.env.INIT_CWD ?? process.cwd(), values['log-file']);
  const logs = handlerLogging({ stateDir, ...(values.verbose ? { verbose: true } : {}), ...(logFile ? { logFile } : {}) });
  // Imported here: the emulators and the AWS SDK are only loaded by the commands that run a stack.
  const { startStack, StackStartError } = await import('../../stack/start-stack');
  const scheduled = values.generator ? await import('../scheduled-generator') : undefined;
  const startedAt = new Date();
  const env = { ...logs.env, ...(scheduled && values.generator ? scheduled.generatorEnvironment(values.generator) : {}) };
  if (values.external) io.out(`using external AWS endpoint ${describeEndpoints(values.external)}; no emulators, no capture started`);
  const external = values.external ? { external: { endpoints: values.external } } : {};
  const stack = await startStack({ stateDir, env, ...external, ...(values.fresh ? { fresh: true } : {}) }).catch(async (error: unknown) => {
    await logs.close();
    throw error instanceof StackStartError ? new CommandError(error.message) : error;
  });
  const warehouse = stackWarehouse();
  let quarantine: AttachedQuarantine | undefined;
  let live: LivePage | undefined;
  let generator: ScheduledGenerator | undefined;
  const sources = { storedQuarantine: () => quarantine?.store.list().filter((entry) => !entry.redriven).length ?? 0 };
  let status: StatusTicker | undefined;
  const stop = async () => {
    await status?.stop();
    // The generator, the live page and the drainer use the stack's clients: they stop first.
    await generator?.stop().catch(() => undefined);
    await live?.stop().catch(() => undefined);
    await quarantine?.stop().catch(() => undefined);
    await stack.stop();
    // Closing compacts the file: a failure is reported (nothing committed is lost: it is in the file or its WAL).
    await warehouse.close().catch((error: unknown) => io.err(`the warehouse did not close cleanly: ${scrubbedWarehouseError(error).message}`));
    await logs.close();
  };
  try {
    // Opens the DuckDB file now and keeps it for the stack's lifetime (and creates the tables).
    await warehouse.init();
    registerCliControls(stack, warehouse, startedAt, sources);
    // Quarantined inputs are drained from their queue into DIR/quarantine.jsonl, where `claims-cdc quarantine` finds them.
    const { attachQuarantine } = await import('../../quarantine');
    quarantine = attachQuarantine(stack);
    const { startLivePage } = await import('../../live-page');
    live = await startLivePage(stack, warehouse, { sources, quarantine: () => quarantine?.store.list() ?? [] });
    if (scheduled && values.generator) generator = await scheduled.startScheduledGenerator(stack, values.generator);
  } catch (error) {
    await stop();
    throw error instanceof Error ? new CommandError(`the stack started but could not be set up: ${error.message.split('\n')[0]}`) : error;
  }

  printBanner(io, stack, { stateDir, warehouseFile, startedAt, resumed, logs: logs.description, live, generator, schedule: values.generator });
  // With handler logs on this terminal, a line rewritten in place would be torn by them: plain lines instead.
  status = startStatusTicker(new LiveLine(values.verbose ? { out: io.out, err: io.err } : io, 10_000), stack, warehouse, sources);
  const signal = await stopSignal(io);
  status.line.end();
  io.out(`${signal.received}: stopping the stack (in-flight invocations finish, captured changes reach the stream) …`);
  await stop();
  signal.release();
  const g = generator?.counters();
  if (g) io.out(`generator: ${g.runs} run${g.runs === 1 ? '' : 's'}, ${g.claims} claims written${g.failed > 0 ? `, ${g.failed} failed (last: ${g.lastError ?? '-'})` : ''}`);
  io.out(`stopped; the warehouse stays in ${warehouseFile} (claims-cdc sql --db ${displayPath(warehouseFile)} "…"); a plain up resumes the pipeline where it stopped`);
  return 0;
};

/** The endpoints, the token and what to try from another terminal. */
function printBanner(io: Io, stack: RunningStack, b: Banner): void {
  const flag = stateDirFlag(b.stateDir);
  const e = stack.endpoints;
  const external = stack.counters().capture === undefined;
  io.out(`claims-cdc stack is up (pid ${process.pid}, state ${displayPath(b.stateDir)}, started in ${((Date.now() - b.startedAt.getTime()) / 1000).toFixed(1)} s)`);
  io.out(`  HTTP API   ${e.api}   (the ingest handler; send Authorization: Bearer <API token>)`);
  io.out(`  API token  ${stack.token}`);
  io.out(`  live page  ${b.live?.urlWithToken ?? '-'}   (the pipeline, live; the same token)`);
  io.out(`  DynamoDB   ${e.dynamodb ?? '-'}   (${external ? 'external: its Kinesis streaming destination carries the changes' : 'every write here is captured to the Kinesis stream'})`);
  io.out(`  Kinesis    ${e.kinesis ?? '-'}   SQS ${e.sqs ?? '-'}`);
  io.out(`  warehouse  ${displayPath(b.warehouseFile)} (DuckDB, held by this process)`);
  io.out(`  state      ${b.resumed ? 'resumed from the earlier run (up --fresh starts empty)' : 'empty at start'}; kept in ${displayPath(b.stateDir)} when the stack stops`);
  io.out(`  logs       ${b.logs}`);
  if (b.generator && b.schedule) {
    io.out(`  generator  ${b.generator.count} claims every ${b.schedule.everySeconds} s (the ingest generate handler on a schedule, as generatorEnabled=true deploys it)`);
  }
  io.out('');
  io.out('From another terminal (npx claims-cdc … or npm run claims-cdc -- …):');
  io.out(`  npx claims-cdc generate 20 --seed 7${flag}                   claims through the API`);
  io.out(`  npx claims-cdc modify CLAIM_ID --status Rejected${flag}      a MODIFY`);
  io.out(`  npx claims-cdc delete CLAIM_ID${flag}                        a REMOVE`);
  io.out(`  npx claims-cdc status${flag}                                 where every change is`);
  io.out(`  npx claims-cdc sql "select count(*) from openflow_insclaim_dest_tbl"${flag}`);
  io.out(`  npx claims-cdc verify${flag}                                 DynamoDB vs the destination, row by row`);
  io.out(`  AWS SDK or CLI: AWS_ENDPOINT_URL_DYNAMODB=${e.dynamodb ?? ''} AWS_REGION=${stack.config.region}${external ? '' : ' AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local'}`);
  io.out('Ctrl-C stops the stack.');
  io.out('');
  const destination = stack.resources.streamingDestination;
  if (destination?.status === 'UNSUPPORTED') io.err(`warning: ${destination.reason}; on LocalStack, use a version that supports EnableKinesisStreamingDestination (see the README)`);
}

/** One URL when every service shares it (LocalStack), else each service's. */
function describeEndpoints(endpoints: AwsEndpoints): string {
  const { dynamodb, kinesis, sqs } = endpoints;
  return dynamodb === kinesis && kinesis === sqs ? dynamodb : `DynamoDB ${dynamodb}, Kinesis ${kinesis}, SQS ${sqs}`;
}

/** The live status line, refreshed until stopped. */
interface StatusTicker {
  readonly line: LiveLine;
  /** Stops refreshing and waits for a refresh in progress. */
  stop(): Promise<void>;
}

function startStatusTicker(line: LiveLine, stack: RunningStack, warehouse: Warehouse, sources: Parameters<typeof collectPipelineStatus>[2]): StatusTicker {
  let stopping = false;
  let ticking: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    const began = Date.now();
    ticking = collectPipelineStatus(stack, warehouse, sources)
      .then((status) => {
        const counts = formatStatusLine(status);
        if (!stopping) line.update(`${new Date().toISOString().slice(11, 19)}  ${counts}`, counts);
      })
      .catch((error: unknown) => {
        if (!stopping) line.update(`status unavailable: ${(error as Error).message.split('\n')[0]}`);
      })
      .finally(() => {
        // Counting items scans the table: on a big one, look less often rather than slow the pipeline down.
        if (!stopping) timer = setTimeout(tick, Math.max(STATUS_EVERY_MS, 4 * (Date.now() - began)));
      });
  };
  tick();
  return {
    line,
    async stop() {
      stopping = true;
      clearTimeout(timer);
      await ticking;
    },
  };
}

/** Resolves on the first SIGINT, SIGTERM or SIGHUP; a second one while stopping exits at once. */
async function stopSignal(io: Io): Promise<{ received: NodeJS.Signals; release: () => void }> {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  let stopping = false;
  let onSignal: (received: NodeJS.Signals) => void = () => undefined;
  const received = await new Promise<NodeJS.Signals>((resolve) => {
    onSignal = (signal) => {
      if (stopping) {
        io.err('claims-cdc up: stopping was interrupted; exiting now');
        process.exit(130);
      }
      stopping = true;
      resolve(signal);
    };
    for (const s of signals) process.on(s, onSignal);
  });
  return { received, release: () => signals.forEach((s) => process.off(s, onSignal)) };
}
