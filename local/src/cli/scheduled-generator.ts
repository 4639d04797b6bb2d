/**
 * `up --generate-every SECONDS [--generate-count N]`: the ingest service's scheduled generator, played locally as a
 * stage deployed with `generatorEnabled=true` runs it — the same handler (services/ingest generate, found through
 * its serverless.yml), invoked by a rate rule, writing N new claims to the table per run (its GENERATOR_BATCH_SIZE;
 * by default the deployed `generatorBatchSize`). Its writes are captured like any other.
 */
import path from 'node:path';
import { LOCAL_STAGE, REPO_ROOT } from '../stack/local-config';
import { ServerlessService, serverlessFiles } from '../stack/serverless-config';
import { startSchedulePoller, type ScheduledHandler, type SchedulePoller } from '../stack/schedule-poller';
import type { RunningStack } from '../stack/start-stack';

/** What the schedule runs. */
export interface GeneratorSchedule {
  readonly everySeconds: number;
  /** Claims per run; default: the deployed generatorBatchSize. */
  readonly count?: number;
}

/** A running generator schedule. */
export interface ScheduledGenerator {
  /** Claims per run. */
  readonly count: number;
  /** Runs done, claims written, runs failed. */
  counters(): { runs: number; claims: number; failed: number; lastError?: string };
  /** Lets a run in progress finish, then stops. */
  stop(): Promise<void>;
}

/** Raised when the generate function cannot be found or loaded. */
export class GeneratorScheduleError extends Error {
  override readonly name = 'GeneratorScheduleError';
}

/** The generate function as serverless.yml defines it. */
function generateFunction(repoRoot: string) {
  const files = serverlessFiles(repoRoot);
  if (!files) throw new GeneratorScheduleError(`services/*/serverless.yml not found under ${repoRoot}`);
  const ingest = new ServerlessService(files.ingest, LOCAL_STAGE);
  const handler = String(ingest.require('functions.generate.handler'));
  const dot = handler.lastIndexOf('.');
  return {
    module: path.join(path.dirname(files.ingest), handler.slice(0, dot)),
    exportName: handler.slice(dot + 1),
    timeoutMs: Number(ingest.require('functions.generate.timeout')) * 1000,
    batchSize: Number(ingest.require('functions.generate.environment.GENERATOR_BATCH_SIZE')),
  };
}

/** Imports the handler with its environment set (it reads it once, at load), then restores process.env. */
async function importHandler(fn: ReturnType<typeof generateFunction>, env: Record<string, string>): Promise<ScheduledHandler<{ claimIds: string[] }>> {
  const previous = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const module = (await import(fn.module)) as Record<string, unknown>;
    const handler = module[fn.exportName];
    if (typeof handler !== 'function') throw new GeneratorScheduleError(`${fn.module} does not export ${fn.exportName}`);
    return handler as ScheduledHandler<{ claimIds: string[] }>;
  } finally {
    for (const [k, v] of Object.entries(previous)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/**
 * The handlers' environment for a schedule: pass it to `startStack` (the ingest modules read it once, when the stack
 * imports the API handler, which shares them with the generator).
 */
export function generatorEnvironment(schedule: GeneratorSchedule, repoRoot: string = REPO_ROOT): Record<string, string> {
  return { GENERATOR_BATCH_SIZE: String(schedule.count ?? generateFunction(repoRoot).batchSize) };
}

/** Starts the schedule on a running stack; the first run comes one period after the start, as a rate rule's does. */
export async function startScheduledGenerator(stack: RunningStack, schedule: GeneratorSchedule, repoRoot: string = REPO_ROOT): Promise<ScheduledGenerator> {
  const fn = generateFunction(repoRoot);
  const count = schedule.count ?? fn.batchSize;
  const handler = await importHandler(fn, { CLAIMS_TABLE_NAME: stack.resources.table.name, GENERATOR_BATCH_SIZE: String(count) });
  const { region, accountId, stage } = stack.config;
  const functionName = `claims-cdc-ingest-${stage}-generate`;
  let claims = 0;
  const poller: SchedulePoller<{ claimIds: string[] }> = startSchedulePoller({
    handler: async (event, context) => {
      const result = await handler(event, context);
      claims += result.claimIds.length;
      return result;
    },
    function: { functionName, functionArn: `arn:aws:lambda:${region}:${accountId}:function:${functionName}`, timeoutMs: fn.timeoutMs },
    intervalMs: schedule.everySeconds * 1000,
    region,
    accountId,
    ruleArn: `arn:aws:events:${region}:${accountId}:rule/${functionName}-schedule`,
    runImmediately: false,
  });
  return {
    count,
    counters: () => {
      const c = poller.counters();
      return { runs: c.invocations, claims, failed: c.failures, ...(c.lastError ? { lastError: c.lastError } : {}) };
    },
    stop: () => poller.stop(),
  };
}
