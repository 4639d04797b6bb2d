/**
 * One chaos run: the embedded stack with the real handlers behind fault injectors, a seeded workload, the drain,
 * and the checks. The report carries counts, ids and column names only — nothing a claim holds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import { loadStackConfig, type StackConfigOverrides, type StartStackOptions } from '../stack';
import { BACKFILL_START_SHARE, ChaosBackfill, type BackfillCounts } from './backfill';
import { drain } from './drain';
import { FaultInjector, type FaultCounts } from './faults';
import { FAULTS, type ChaosOptions } from './options';
import { runChecks } from './checks';
import { PrecisionSwitch, type PrecisionCounts } from './precision';
import { DirectSource, DynamoDbSource, PoisonInjector, type Source } from './sources';
import { acknowledgedProbe, StreamTail } from './stream-tail';
import { ChaosStack, type KillRecord } from './stack-kill';
import type { Check } from './verify';
import { UNTRACKED_SHARE, Workload, type WorkloadCounts } from './workload';

/** Everything a run reports. */
export interface ChaosReport {
  readonly passed: boolean;
  readonly options: Omit<ChaosOptions, 'faults'> & { faults: string[] };
  readonly checks: Check[];
  readonly workload: WorkloadCounts;
  readonly faults: FaultCounts & {
    poisonInjected: number;
    quarantineDeliveries: number;
    finalMergeAttempts: number;
    precision?: PrecisionCounts;
    /** stack-kill: each kill and restart. */
    kills: KillRecord[];
    /** stack-kill: change records on the stream twice (put again by a restarted capture or producer). */
    streamDuplicates: number;
    /** backfill: what the backfill read and how often it ran. */
    backfill?: BackfillCounts;
  };
  readonly figures: {
    /** Start of the workload to the end of the final merge. */
    pipelineSeconds: number;
    workloadSeconds: number;
    drainSeconds: number;
    verifySeconds: number;
    totalSeconds: number;
    /** Change events per second, start of the workload to the end of the final merge. */
    eventsPerSecond: number;
    peakRssMb: number;
    /** CPU time of this process (user + system), seconds; the SQS emulator's process is not included. */
    cpuSeconds: number;
    /** The machine's 1-minute load average when the run ended (other work on the machine skews the timings). */
    loadAverage: number;
    history: number;
    destination: number;
    tombstones: number;
    transformInvocations: number;
    loadInvocations: number;
    mergeInvocations: number;
    mergeFailures: number;
  };
  readonly stateDir: string;
  /** Why the run could not finish (a start failure, a stalled drain); the checks show what it reached. */
  readonly error?: string;
}

/** Why `backfill` and `--source direct` do not go together. */
export const BACKFILL_NEEDS_DYNAMODB =
  'the backfill fault needs --source dynamodb: a backfill reads the table with a Scan, and a direct run keeps its items in the harness (DynamoDB stays empty and off the path), so there is nothing for it to read';

const seconds = (ms: number) => Math.round(ms / 100) / 10;

/** Runs the harness. `progress` receives one-line status updates (counts only). */
export async function runChaos(options: ChaosOptions, progress: (line: string) => void = () => undefined): Promise<ChaosReport> {
  const started = Date.now();
  if (options.faults.has('backfill') && options.source !== 'dynamodb') throw new Error(BACKFILL_NEEDS_DYNAMODB);
  const run = prepareRun(options, started);
  try {
    const up = await startStacks(run);
    run.timer = startProgress(run, up, progress);
    await writeWorkload(run, up);
    await drainPipeline(run, up);
    await verifyRun(run, up);
  } catch (e) {
    run.error = e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e);
  } finally {
    await tearDown(run);
  }
  return finishReport(run);
}

/**
 * A run's state as it goes: what it started (so that it is stopped whatever happens), what it counted, and why it
 * could not finish. Filled in step by step; the report reads whatever it reached.
 */
interface ChaosRun {
  readonly options: ChaosOptions;
  readonly started: number;
  readonly stateDir: string;
  readonly overrides: StackConfigOverrides;
  readonly injector: FaultInjector;
  readonly workload: Workload;
  readonly precision: PrecisionSwitch | undefined;
  readonly killing: boolean;
  readonly checks: Check[];
  readonly marks: { workloadStart: number; workloadEnd: number; drainEnd: number; verifyEnd: number };
  chaos?: ChaosStack;
  source?: Source;
  poison?: PoisonInjector;
  backfill?: ChaosBackfill;
  warehouse?: Warehouse;
  timer?: NodeJS.Timeout | undefined;
  /** Change events written so far (poison records not counted). */
  written: number;
  finalMergeAttempts: number;
  quarantineDeliveries: number;
  streamDuplicates: number;
  figures: Partial<ChaosReport['figures']>;
  error?: string;
}

/** What a started run works with (all of it set, unlike the run's own optional fields). */
interface Started {
  readonly stacks: ChaosStack;
  readonly warehouse: Warehouse;
  readonly poison: PoisonInjector;
  readonly source: Source;
  /** The run's one reader of the stream (the ledger, and every record acknowledged). */
  readonly tail: StreamTail;
}

/** The run before anything starts: its state directory, the fault injector, the seeded workload, the precision switch. */
function prepareRun(options: ChaosOptions, started: number): ChaosRun {
  const stateDir = options.stateDir ? path.resolve(options.stateDir) : mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-chaos-'));
  const overrides: StackConfigOverrides = {
    queues: { load: { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds } },
    // Two load pollers let a held-back or shuffled message really land after newer ones.
    load: { concurrency: options.faults.has('reorder') ? 2 : 1 },
  };
  const injector = new FaultInjector(options.faults, options.seed, loadStackConfig({ overrides }));
  const workload = workloadOf(options);
  // precision-switch: the direct source writes each record in its stretch's precision; in DynamoDB-source runs the
  // transform receives the capture's records so (the capture writes microseconds only).
  const precision = options.faults.has('precision-switch') ? new PrecisionSwitch(options.seed) : undefined;
  if (precision && options.source === 'dynamodb') injector.deliverRecordsAs((data, partitionKey) => precision.deliver(data, partitionKey));
  return {
    options,
    started,
    stateDir,
    overrides,
    injector,
    workload,
    precision,
    killing: options.faults.has('stack-kill'),
    checks: [],
    marks: { workloadStart: 0, workloadEnd: 0, drainEnd: 0, verifyEnd: 0 },
    written: 0,
    finalMergeAttempts: 0,
    quarantineDeliveries: 0,
    streamDuplicates: 0,
    figures: {},
  };
}

/** The seeded workload, with the extra kinds of write the enabled faults ask for. */
function workloadOf(options: ChaosOptions): Workload {
  const { faults } = options;
  return new Workload({
    events: options.events,
    claims: options.claims,
    seed: options.seed,
    poison: faults.has('poison'),
    oversized: faults.has('oversized'),
    oversizedRemove: faults.has('oversized-remove'),
    exoticValues: faults.has('exotic-values'),
    untrackedShare: faults.has('backfill') ? UNTRACKED_SHARE : 0,
  });
}

/** Starts the stack behind the injector (fresh state), then the warehouse, the poison injector and the change source. */
async function startStacks(run: ChaosRun): Promise<Started> {
  const { options, injector, precision, killing } = run;
  const startOptions: StartStackOptions = {
    stateDir: run.stateDir,
    // The checks compare what this run wrote with what arrived: never resume an earlier run's state. (A stack-kill
    // restart resumes this run's own state: ChaosStack starts it with fresh: false.)
    fresh: true,
    persist: true,
    shardCount: options.shards,
    around: injector.around(),
    handlers: injector.handlers(),
    disable: ['api'],
    config: run.overrides,
    env: handlerEnvironment(),
  };
  const stacks = (run.chaos = await ChaosStack.start(startOptions, injector, () => injector.warehouse(), killing));
  const warehouse = (run.warehouse = await injector.warehouse());
  const poison = (run.poison = new PoisonInjector(stacks));
  const tail = new StreamTail();
  const dynamoSource = options.source === 'dynamodb' ? new DynamoDbSource(stacks, options.writers, () => poison.sequenceNumbers, tail, precision) : undefined;
  const source = (run.source = dynamoSource ?? new DirectSource(stacks, 20_000, (emitted) => emitted + poison.sequenceNumbers.size - injector.acked.size, tail, precision, killing));
  if (dynamoSource) stacks.writesInFlight = () => dynamoSource.sending;
  return { stacks, warehouse, poison, source, tail };
}

/** Change records put on the stream so far, poison included. */
const recordsOnStream = ({ source, poison }: Started): number => source.recordsOnStream() + poison.sequenceNumbers.size;

/** A status line every `progressMs` (counts only); no timer when progress is off. */
function startProgress(run: ChaosRun, up: Started, progress: (line: string) => void): NodeJS.Timeout | undefined {
  const { options, injector } = run;
  const { stacks, warehouse } = up;
  if (!(options.progressMs > 0)) return undefined;
  const timer = setInterval(() => {
    void (async () => {
      // Never while a kill closes and reopens the warehouse (a kill waits for it; DuckDB must not close mid-query).
      const status = stacks.restarting ? undefined : await stacks.guard(() => warehouse.status()).catch(() => undefined);
      progress(
        `[chaos ${seconds(Date.now() - run.started)}s] written ${run.written}/${options.events} · on stream ${recordsOnStream(up)} · transformed ${injector.acked.size}` +
          (status ? ` · history ${status.history} · staged ${status.staged} · destination ${status.destination}` : ''),
      );
    })();
  }, options.progressMs);
  timer.unref();
  return timer;
}

/** Writes the workload through the source (poison beside it); starts the backfill and the scripted kills on their cues. */
async function writeWorkload(run: ChaosRun, { stacks, poison, source }: Started): Promise<void> {
  const { options, workload } = run;
  if (options.faults.has('backfill')) {
    // Items that were in the table before its stream was turned on: a backfill brings them, mid-run.
    run.backfill = new ChaosBackfill(stacks, run.stateDir, Math.max(5, Math.ceil(options.claims / 12)));
    await run.backfill.preload(workload);
  }
  const { backfill } = run;
  run.marks.workloadStart = Date.now();
  for (const op of workload.ops()) {
    if (op.kind === 'POISON') await poison.put(op);
    else {
      await source.apply(op);
      run.written += 1;
      if (backfill && !backfill.started && run.written >= Math.ceil(options.events * BACKFILL_START_SHARE)) backfill.start(() => run.written);
      if (run.killing) await stacks.afterWrite(run.written, options.events);
    }
  }
  await source.finish();
  await backfill?.finished();
  run.marks.workloadEnd = Date.now();
}

const DRAINED = 'drained (stream consumed, queues empty, final merge)';

/** Drains the pipeline to its final merge; a stall is a failed check (the other checks still run). */
async function drainPipeline(run: ChaosRun, up: Started): Promise<void> {
  const { injector, killing, options } = run;
  const { stacks, warehouse } = up;
  try {
    const drained = await drain({
      stack: () => stacks.stack,
      ready: () => stacks.ready(),
      epoch: () => stacks.epoch,
      injector,
      warehouse,
      warehouseCall: (fn) => stacks.guard(fn),
      onStream: () => recordsOnStream(up),
      ...(killing ? { streamAcknowledged: streamAcknowledged(up, injector), duringDrain: (acked: number, total: number) => stacks.duringDrain(acked, total) } : {}),
      stallTimeoutMs: options.stallTimeoutMs,
    });
    run.finalMergeAttempts = drained.finalMergeAttempts;
    run.checks.push({ name: DRAINED, expected: 'drained', actual: 'drained', ok: true });
  } catch (e) {
    run.checks.push({ name: DRAINED, expected: 'drained', actual: 'stalled', ok: false, details: [(e as Error).message] });
  }
  run.marks.drainEnd = Date.now();
}

/**
 * With stack-kill, records a restart put again are on the stream twice: "every record acknowledged" is read from the
 * stream itself once the cheap count says so (each probe reads only what is new).
 */
function streamAcknowledged({ stacks, tail }: Started, injector: FaultInjector): () => Promise<boolean> {
  const probe = acknowledgedProbe(tail, injector.acked);
  return async () => probe(await stacks.ready());
}

/** The checks, on a stack that stays up (no more kills), then the counts the figures show. */
async function verifyRun(run: ChaosRun, { stacks, warehouse, source, poison, tail }: Started): Promise<void> {
  const { options, workload, injector, precision, backfill } = run;
  stacks.disarm();
  const running = await stacks.ready();
  run.checks.push(
    ...(await runChecks({
      stack: running,
      stacks,
      onLedger: (ledger) => (run.streamDuplicates = ledger.duplicates),
      warehouse,
      workload,
      source,
      tail,
      poison,
      injector,
      quarantine: stacks.quarantine,
      options,
      ...(precision ? { precision } : {}),
      ...(backfill ? { backfill } : {}),
    })),
  );
  run.quarantineDeliveries = stacks.quarantine.store.list().reduce((n, e) => n + e.deliveries, 0);
  const status = await warehouse.status();
  const counters = stacks.counters();
  run.figures = {
    history: status.history,
    destination: status.destination,
    tombstones: status.tombstones,
    transformInvocations: counters.transform.invocations,
    loadInvocations: counters.load.invocations,
    mergeInvocations: counters.merge.invocations,
    mergeFailures: counters.merge.failures,
  };
  run.marks.verifyEnd = Date.now();
}

/** Stops whatever the run started, however far it got; a failed stack stop is the run's error when it had none. */
async function tearDown(run: ChaosRun): Promise<void> {
  const { chaos } = run;
  if (run.timer) clearInterval(run.timer);
  chaos?.disarm();
  await chaos?.ready().catch(() => undefined);
  await chaos?.quarantine.stop().catch(() => undefined);
  await run.source?.close().catch(() => undefined);
  await chaos?.stack.stop().catch((e: Error) => {
    run.error ??= `stack stop: ${e.message}`;
  });
  // The process's warehouse (shared with the handlers) holds the DuckDB file open until closed (and compacts it).
  await run.warehouse?.close().catch((e: Error) => {
    run.error ??= `warehouse close: ${e.message}`;
  });
}

/** The report; the temporary state directory of a passed run goes (one named with --state-dir, or kept, stays). */
function finishReport(run: ChaosRun): ChaosReport {
  const { options, checks, error, stateDir } = run;
  const passed = !error && checks.length > 0 && checks.every((c) => c.ok);
  if (passed && !options.keep && !options.stateDir) rmSync(stateDir, { recursive: true, force: true });
  return {
    passed,
    options: { ...options, faults: FAULTS.filter((f) => options.faults.has(f)) },
    checks,
    workload: run.workload.counts,
    faults: reportedFaults(run),
    figures: reportedFigures(run),
    stateDir,
    ...(error ? { error } : {}),
  };
}

/** What the faults did: the injector's counts and what the poison, precision, kills and backfill report. */
function reportedFaults(run: ChaosRun): ChaosReport['faults'] {
  const { injector, poison, precision, chaos, backfill } = run;
  return {
    ...injector.counts,
    poisonInjected: poison?.injected.length ?? 0,
    quarantineDeliveries: run.quarantineDeliveries,
    finalMergeAttempts: run.finalMergeAttempts,
    ...(precision ? { precision: precision.counts } : {}),
    kills: chaos?.kills ?? [],
    streamDuplicates: run.streamDuplicates,
    ...(backfill ? { backfill: backfill.counts } : {}),
  };
}

/** Timings, throughput, the process's resources and the counts the run reached (0 where it did not get there). */
function reportedFigures({ started, marks, workload, figures }: ChaosRun): ChaosReport['figures'] {
  const pipelineMs = (marks.drainEnd || Date.now()) - (marks.workloadStart || started);
  const events = workload.counts.INSERT + workload.counts.MODIFY + workload.counts.REMOVE;
  return {
    pipelineSeconds: seconds(pipelineMs),
    workloadSeconds: seconds(marks.workloadEnd - marks.workloadStart),
    drainSeconds: seconds(marks.drainEnd - marks.workloadEnd),
    verifySeconds: seconds(marks.verifyEnd - marks.drainEnd),
    totalSeconds: seconds(Date.now() - started),
    eventsPerSecond: pipelineMs > 0 ? Math.round(events / (pipelineMs / 1000)) : 0,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    cpuSeconds: seconds((process.cpuUsage().user + process.cpuUsage().system) / 1000),
    loadAverage: Math.round((os.loadavg()[0] ?? 0) * 10) / 10,
    history: 0,
    destination: 0,
    tombstones: 0,
    transformInvocations: 0,
    loadInvocations: 0,
    mergeInvocations: 0,
    mergeFailures: 0,
    ...figures,
  };
}

/**
 * Handler logging for the run: quiet by default (a table is the output), but whatever POWERTOOLS_* the caller set
 * wins — the PHI test runs with DEBUG logs, metrics and event logging requested.
 */
function handlerEnvironment(): Record<string, string> {
  const env: Record<string, string> = { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_TRACE_ENABLED: 'false' };
  for (const [name, value] of Object.entries(process.env)) if (name.startsWith('POWERTOOLS_') && value !== undefined) env[name] = value;
  return env;
}
