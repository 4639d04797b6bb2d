import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { collectPipelineStatus } from '../../inspect/collect-status';
import { formatStatusLine } from '../../inspect/pipeline-status';
import { stackWarehouse } from '../../inspect/stack-warehouse';
import type { AttachedQuarantine } from '../../quarantine';
import { claimStateDir, StateDirError, StateDirLockedError, type StateDirLock } from '../../stack/stack-client';
import { parse } from '../args';
import { CommandError, UsageError } from '../errors';
import { handlerLogging } from '../handler-logs';
import type { Io } from '../io';
import { LiveLine } from '../live-line';
import { registerCliControls } from '../stack-controls';
import { displayPath, resolveStateDir, stateDirFlag } from '../state-dir';

export const UP_HELP = `Usage: claims-cdc up [--state-dir DIR] [--fresh] [--verbose | --log-file FILE]

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
                     (default: warnings and errors appended to DIR/handlers.log)`;

const STATUS_EVERY_MS = 1_000;

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
  const stateDir = resolveStateDir(values['state-dir']);
  const lock = claimForUp(stateDir);
  try {
    return await runStack(stateDir, values, io);
  } finally {
    lock.release();
  }
};

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
}

/** Runs the stack in a state directory this process holds the lock of, until a signal stops it. */
const runStack = async (stateDir: string, values: UpValues, io: Io): Promise<number> => {
  const warehouseFile = path.join(stateDir, 'warehouse.duckdb');
  const { hasPersistedPipeline } = await import('../../stack/persistence');
  const resumable = hasPersistedPipeline(stateDir);
  // A warehouse without emulator data is from a version that kept DynamoDB in memory: it mirrors a table that is gone,
  // so it is cleared as that version did (unless --keep-warehouse asks to keep it).
  if (!values.fresh && !resumable && !values['keep-warehouse']) for (const file of [warehouseFile, `${warehouseFile}.wal`]) rmSync(file, { force: true });
  const resumed = !values.fresh && (resumable || existsSync(warehouseFile));

  const logFile = values['log-file'] === undefined ? undefined : path.resolve(process.env.INIT_CWD ?? process.cwd(), values['log-file']);
  const logs = handlerLogging({ stateDir, ...(values.verbose ? { verbose: true } : {}), ...(logFile ? { logFile } : {}) });
  // Imported here: the emulators and the AWS SDK are only loaded by the commands that run a stack.
  const { startStack, StackStartError } = await import('../../stack/start-stack');
  const startedAt = new Date();
  const stack = await startStack({ stateDir, env: logs.env, ...(values.fresh ? { fresh: true } : {}) }).catch(async (error: unknown) => {
    await logs.close();
    throw error instanceof StackStartError ? new CommandError(error.message) : error;
  });
  const warehouse = stackWarehouse();
  let quarantine: AttachedQuarantine | undefined;
  const sources = { storedQuarantine: () => quarantine?.store.list().filter((entry) => !entry.redriven).length ?? 0 };
  let stopping = false;
  let ticking: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const stop = async () => {
    stopping = true;
    clearTimeout(timer);
    await ticking;
    // The drainer uses the stack's SQS client: it stops first.
    await quarantine?.stop().catch(() => undefined);
    await stack.stop();
    await warehouse.close().catch(() => undefined);
    await logs.close();
  };
  try {
    // Opens the DuckDB file now and keeps it for the stack's lifetime (and creates the tables).
    await warehouse.init();
    registerCliControls(stack, warehouse, startedAt, sources);
    // Quarantined inputs are drained from their queue into DIR/quarantine.jsonl, where `claims-cdc quarantine` finds them.
    const { attachQuarantine } = await import('../../quarantine');
    quarantine = attachQuarantine(stack);
  } catch (error) {
    await stop();
    throw error instanceof Error ? new CommandError(`the stack started but could not be set up: ${error.message.split('\n')[0]}`) : error;
  }

  const flag = stateDirFlag(stateDir);
  const e = stack.endpoints;
  io.out(`claims-cdc stack is up (pid ${process.pid}, state ${displayPath(stateDir)}, started in ${((Date.now() - startedAt.getTime()) / 1000).toFixed(1)} s)`);
  io.out(`  HTTP API   ${e.api}   (the ingest handler; send Authorization: Bearer <API token>)`);
  io.out(`  API token  ${stack.token}`);
  io.out(`  DynamoDB   ${e.dynamodb ?? '-'}   (every write here is captured to the Kinesis stream)`);
  io.out(`  Kinesis    ${e.kinesis ?? '-'}   SQS ${e.sqs ?? '-'}`);
  io.out(`  warehouse  ${displayPath(warehouseFile)} (DuckDB, held by this process)`);
  io.out(`  state      ${resumed ? 'resumed from the earlier run (up --fresh starts empty)' : 'empty at start'}; kept in ${displayPath(stateDir)} when the stack stops`);
  io.out(`  logs       ${logs.description}`);
  io.out('');
  io.out('From another terminal (npx claims-cdc … or npm run claims-cdc -- …):');
  io.out(`  npx claims-cdc generate 20 --seed 7${flag}                   claims through the API`);
  io.out(`  npx claims-cdc modify CLAIM_ID --status Rejected${flag}      a MODIFY`);
  io.out(`  npx claims-cdc delete CLAIM_ID${flag}                        a REMOVE`);
  io.out(`  npx claims-cdc status${flag}                                 where every change is`);
  io.out(`  npx claims-cdc sql "select count(*) from openflow_insclaim_dest_tbl"${flag}`);
  io.out(`  npx claims-cdc verify${flag}                                 DynamoDB vs the destination, row by row`);
  io.out(`  AWS SDK or CLI: AWS_ENDPOINT_URL_DYNAMODB=${e.dynamodb ?? ''} AWS_REGION=${stack.config.region} AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local`);
  io.out('Ctrl-C stops the stack.');
  io.out('');

  // With handler logs on this terminal, a line rewritten in place would be torn by them: plain lines instead.
  const line = new LiveLine(values.verbose ? { out: io.out, err: io.err } : io, 10_000);
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

  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  let onSignal: (received: NodeJS.Signals) => void = () => undefined;
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    onSignal = (received) => {
      if (stopping) {
        io.err('claims-cdc up: stopping was interrupted; exiting now');
        process.exit(130);
      }
      stopping = true;
      resolve(received);
    };
    for (const s of signals) process.on(s, onSignal);
  });
  line.end();
  io.out(`${signal}: stopping the stack (in-flight invocations finish, captured changes reach the stream) …`);
  await stop();
  for (const s of signals) process.off(s, onSignal);
  io.out(`stopped; the warehouse stays in ${warehouseFile} (claims-cdc sql --db ${displayPath(warehouseFile)} "…"); a plain up resumes the pipeline where it stopped`);
  return 0;
};
