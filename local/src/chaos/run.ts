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
import { DirectSource, DynamoDbSource, PoisonInjector, readStream, type Source } from './sources';
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
  const stateDir = options.stateDir ? path.resolve(options.stateDir) : mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-chaos-'));
  const overrides: StackConfigOverrides = {
    queues: { load: { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds } },
    // Two load pollers let a held-back or shuffled message really land after newer ones.
    load: { concurrency: options.faults.has('reorder') ? 2 : 1 },
  };
  const injector = new FaultInjector(options.faults, options.seed, loadStackConfig({ overrides }));
  const workload = new Workload({ events: options.events, claims: options.claims, seed: options.seed, poison: options.faults.has('poison'), oversized: options.faults.has('oversized'), oversizedRemove: options.faults.has('oversized-remove'), exoticValues: options.faults.has('exotic-values'), untrackedShare: options.faults.has('backfill') ? UNTRACKED_SHARE : 0 });
  // precision-switch: the direct source writes each record in its stretch's precision; in DynamoDB-source runs the
  // transform receives the capture's records so (the capture writes microseconds only).
  const precision = options.faults.has('precision-switch') ? new PrecisionSwitch(options.seed) : undefined;
  if (precision && options.source === 'dynamodb') injector.deliverRecordsAs((data, partitionKey) => precision.deliver(data, partitionKey));
  const checks: Check[] = [];
  let error: string | undefined;
  let chaos: ChaosStack | undefined;
  let source: Source | undefined;
  let poison: PoisonInjector | undefined;
  let backfill: ChaosBackfill | undefined;
  let warehouse: Warehouse | undefined;
  let timer: NodeJS.Timeout | undefined;
  let finalMergeAttempts = 0;
  const marks = { workloadStart: 0, workloadEnd: 0, drainEnd: 0, verifyEnd: 0 };
  let figures: Partial<ChaosReport['figures']> = {};
  let quarantineDeliveries = 0;
  let streamDuplicates = 0;
  const killing = options.faults.has('stack-kill');

  try {
    const startOptions: StartStackOptions = {
      stateDir,
      // The checks compare what this run wrote with what arrived: never resume an earlier run's state. (A stack-kill
      // restart resumes this run's own state: ChaosStack starts it with fresh: false.)
      fresh: true,
      persist: true,
      shardCount: options.shards,
      handlers: injector.handlers(),
      disable: ['api'],
      config: overrides,
      env: handlerEnvironment(),
    };
    const stacks = (chaos = await ChaosStack.start(startOptions, injector, () => injector.warehouse(), killing));
    warehouse = await injector.warehouse();
    const injected = (poison = new PoisonInjector(stacks));
    const dynamoSource = options.source === 'dynamodb' ? new DynamoDbSource(stacks, options.writers, () => injected.sequenceNumbers, precision) : undefined;
    source = dynamoSource ?? new DirectSource(stacks, 20_000, (emitted) => emitted + injected.sequenceNumbers.size - injector.acked.size, precision, killing);
    if (dynamoSource) stacks.writesInFlight = () => dynamoSource.sending;
    const onStream = () => (source as Source).recordsOnStream() + injected.sequenceNumbers.size;

    let written = 0;
    if (options.progressMs > 0) {
      timer = setInterval(() => {
        void (async () => {
          // Never while a kill closes and reopens the warehouse (a kill waits for it; DuckDB must not close mid-query).
          const status = stacks.restarting ? undefined : await stacks.guard(() => warehouse!.status()).catch(() => undefined);
          progress(
            `[chaos ${seconds(Date.now() - started)}s] written ${written}/${options.events} · on stream ${onStream()} · transformed ${injector.acked.size}` +
              (status ? ` · history ${status.history} · staged ${status.staged} · destination ${status.destination}` : ''),
          );
        })();
      }, options.progressMs);
      timer.unref();
    }

    if (options.faults.has('backfill')) {
      // Items that were in the table before its stream was turned on: a backfill brings them, mid-run.
      backfill = new ChaosBackfill(stacks, stateDir, Math.max(5, Math.ceil(options.claims / 12)));
      await backfill.preload(workload);
    }

    marks.workloadStart = Date.now();
    for (const op of workload.ops()) {
      if (op.kind === 'POISON') await injected.put(op);
      else {
        await source.apply(op);
        written += 1;
        if (backfill && !backfill.started && written >= Math.ceil(options.events * BACKFILL_START_SHARE)) backfill.start(() => written);
        if (killing) await stacks.afterWrite(written, options.events);
      }
    }
    await source.finish();
    await backfill?.finished();
    marks.workloadEnd = Date.now();

    // With stack-kill, records a restart put again are on the stream twice: "every record acknowledged" is read
    // from the stream itself once the cheap count says so.
    const streamAcknowledged = async () => {
      for await (const { shardId, sequenceNumber } of readStream(await stacks.ready())) if (!injector.acked.has(`${shardId}:${sequenceNumber}`)) return false;
      return true;
    };
    try {
      finalMergeAttempts = (
        await drain({
          stack: () => stacks.stack,
          ready: () => stacks.ready(),
          epoch: () => stacks.epoch,
          injector,
          warehouse,
          warehouseCall: (fn) => stacks.guard(fn),
          onStream,
          ...(killing ? { streamAcknowledged, duringDrain: (acked: number, total: number) => stacks.duringDrain(acked, total) } : {}),
          stallTimeoutMs: options.stallTimeoutMs,
        })
      ).finalMergeAttempts;
      checks.push({ name: 'drained (stream consumed, queues empty, final merge)', expected: 'drained', actual: 'drained', ok: true });
    } catch (e) {
      checks.push({ name: 'drained (stream consumed, queues empty, final merge)', expected: 'drained', actual: 'stalled', ok: false, details: [(e as Error).message] });
    }
    marks.drainEnd = Date.now();
    // The checks run on a stack that stays up.
    stacks.disarm();
    const running = await stacks.ready();

    checks.push(
      ...(await runChecks({
        stack: running,
        stacks,
        onLedger: (ledger) => (streamDuplicates = ledger.duplicates),
        warehouse,
        workload,
        source,
        poison: injected,
        injector,
        quarantine: stacks.quarantine,
        options,
        ...(precision ? { precision } : {}),
        ...(backfill ? { backfill } : {}),
      })),
    );
    quarantineDeliveries = stacks.quarantine.store.list().reduce((n, e) => n + e.deliveries, 0);
    const status = await warehouse.status();
    const counters = stacks.counters();
    figures = {
      history: status.history,
      destination: status.destination,
      tombstones: status.tombstones,
      transformInvocations: counters.transform.invocations,
      loadInvocations: counters.load.invocations,
      mergeInvocations: counters.merge.invocations,
      mergeFailures: counters.merge.failures,
    };
    marks.verifyEnd = Date.now();
  } catch (e) {
    error = e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e);
  } finally {
    if (timer) clearInterval(timer);
    chaos?.disarm();
    await chaos?.ready().catch(() => undefined);
    await chaos?.quarantine.stop().catch(() => undefined);
    await source?.close().catch(() => undefined);
    await chaos?.stack.stop().catch((e: Error) => {
      error ??= `stack stop: ${e.message}`;
    });
    // The process's warehouse (shared with the handlers) holds the DuckDB file open until closed.
    await warehouse?.close().catch(() => undefined);
  }

  const passed = !error && checks.length > 0 && checks.every((c) => c.ok);
  if (passed && !options.keep && !options.stateDir) rmSync(stateDir, { recursive: true, force: true });
  const pipelineMs = (marks.drainEnd || Date.now()) - (marks.workloadStart || started);
  const events = workload.counts.INSERT + workload.counts.MODIFY + workload.counts.REMOVE;
  return {
    passed,
    options: { ...options, faults: FAULTS.filter((f) => options.faults.has(f)) },
    checks,
    workload: workload.counts,
    faults: {
      ...injector.counts,
      poisonInjected: poison?.injected.length ?? 0,
      quarantineDeliveries,
      finalMergeAttempts,
      ...(precision ? { precision: precision.counts } : {}),
      kills: chaos?.kills ?? [],
      streamDuplicates,
      ...(backfill ? { backfill: backfill.counts } : {}),
    },
    figures: {
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
    },
    stateDir,
    ...(error ? { error } : {}),
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
