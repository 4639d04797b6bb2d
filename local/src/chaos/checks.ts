/**
 * The checks of a run, assembled: what entered the stream against what the workload did, the destination against
 * DynamoDB (or the model), history, staging, tombstones, quarantine, queues, and the faults themselves.
 */
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import type { AttachedQuarantine } from '../quarantine';
import type { RunningStack } from '../stack';
import type { ChaosBackfill } from './backfill';
import type { FaultInjector } from './faults';
import type { ChaosOptions, Fault } from './options';
import type { PrecisionSwitch } from './precision';
import type { Ledger, PoisonInjector, Source } from './sources';
import type { StreamTail } from './stream-tail';
import { KILL_POINTS, type ChaosStack } from './stack-kill';
import { checkHistory, checkNewestEvents, checkNoResurrection, checkQuarantine, compareRows, hashDestination, hashItems, hashWireItems, scanTable, type Check, type HashedRows } from './verify';
import type { Workload } from './workload';

/** What the checks look at. */
export interface CheckContext {
  /** The stack now (after every restart). */
  stack: RunningStack;
  /** The run's stacks: counters summed over all of them, and the kills. */
  stacks: ChaosStack;
  /** Receives the ledger the checks read (it is read once: reading it counts precisions). */
  onLedger?: (ledger: Ledger) => void;
  warehouse: Warehouse;
  workload: Workload;
  source: Source;
  /** The run's reader of the stream (read to its end by the ledger). */
  tail: StreamTail;
  poison: PoisonInjector;
  injector: FaultInjector;
  quarantine: AttachedQuarantine;
  options: ChaosOptions;
  /** With `precision-switch` (its counts are complete once the ledger is read). */
  precision?: PrecisionSwitch;
  /** With `backfill`: its reads join the ledger (snapshots in history, the newest version per claim). */
  backfill?: ChaosBackfill;
}

/** Every check of a run, in table order. */
export async function runChecks(context: CheckContext): Promise<Check[]> {
  const ledger = await readLedger(context);
  const checks = [capturedCheck(context, ledger), ...(await warehouseChecks(context, ledger))];
  checks.push(await queuesEmptyCheck(context.stack));
  checks.push(await streamAcknowledgedCheck(context));
  checks.push(faultsInjectedCheck(context));
  if (context.options.faults.has('stack-kill')) checks.push(killPointsCheck(context.stacks));
  if (context.options.faults.has('merge-crash')) checks.push(mergeRollbackCheck(context.injector));
  return checks;
}

/** The run's ledger, read once, handed to `onLedger`, with the backfill's reads joined to it. */
async function readLedger({ source, onLedger, backfill }: CheckContext): Promise<Ledger> {
  const ledger: Ledger = await source.ledger();
  onLedger?.(ledger);
  // The backfill's reads join the ledger (history, quarantine, newest event); its counts of records stay the stream's.
  backfill?.extendLedger(ledger);
  return ledger;
}

/** What entered the stream is what the workload did (captured: summed over every stack of the run). */
function capturedCheck({ stacks, workload, options }: CheckContext, ledger: Ledger): Check {
  const events = workload.counts.INSERT + workload.counts.MODIFY + workload.counts.REMOVE;
  const captured = stacks.counters().recordsCaptured;
  return {
    name: options.source === 'dynamodb' ? 'change records captured = events written' : 'change records put = events written',
    expected: `${events} (I ${workload.counts.INSERT} / M ${workload.counts.MODIFY} / R ${workload.counts.REMOVE})`,
    actual: `${ledger.changeRecords} (I ${ledger.byEventName.INSERT} / M ${ledger.byEventName.MODIFY} / R ${ledger.byEventName.REMOVE})`,
    ok:
      ledger.changeRecords === events &&
      ledger.byEventName.INSERT === workload.counts.INSERT &&
      ledger.byEventName.MODIFY === workload.counts.MODIFY &&
      ledger.byEventName.REMOVE === workload.counts.REMOVE &&
      (options.source !== 'dynamodb' || captured === events),
    details: [
      ...(options.source === 'dynamodb' ? [`capture counted ${captured}`] : []),
      ...(ledger.duplicates > 0 ? [`${ledger.duplicates} record(s) on the stream twice (same eventID), counted once`] : []),
    ],
  };
}

/** The warehouse against the source of truth and the ledger: rows, newest events, backfill, history, staging, quarantine. */
async function warehouseChecks(context: CheckContext, ledger: Ledger): Promise<Check[]> {
  const { warehouse, workload, backfill, quarantine, poison } = context;
  const destination = await hashDestination(warehouse);
  const checks = await rowChecks(context, destination);
  checks.push(await checkNewestEvents(warehouse, ledger));
  if (backfill) checks.push(...backfill.checks(workload));
  checks.push(...(await checkHistory(warehouse, ledger)));
  const staged = (await warehouse.status()).staged;
  checks.push({ name: 'staging empty after the final merge', expected: '0 rows', actual: `${staged} rows`, ok: staged === 0 });
  checks.push(await checkNoResurrection(warehouse, destination, ledger));
  const entries = quarantine.store.entriesWithPayloads();
  checks.push(...checkQuarantine(entries, [...poison.injected, ...ledger.quarantined], ledger.copies, ledger.mayQuarantineOrigins));
  return checks;
}

/** The destination row by row against DynamoDB (itself checked against the model), or against the model (direct source). */
async function rowChecks({ stack, workload, options }: CheckContext, destination: HashedRows): Promise<Check[]> {
  const model = hashItems(workload.model.values());
  if (options.source !== 'dynamodb') return [compareRows('destination = workload model, row by row', model, destination)];
  // The scan's items as DynamoDB JSON, never unmarshalled (that would round or BigInt the 38-digit numbers).
  const table = hashWireItems(await scanTable(stack));
  return [compareRows('DynamoDB = workload model (harness sanity)', model, table), compareRows('destination = DynamoDB scan, row by row', table, destination)];
}

/** Every queue of the stack empty once the run drained. */
async function queuesEmptyCheck(stack: RunningStack): Promise<Check> {
  const depths = await stack.queueDepths();
  return {
    name: 'queues empty (load, DLQ, on-failure, quarantine)',
    expected: '0 / 0 / 0 / 0',
    actual: `${depths.load} / ${depths.loadDlq} / ${depths.transformFailure} / ${depths.quarantine}`,
    ok: depths.load === 0 && depths.loadDlq === 0 && depths.transformFailure === 0 && depths.quarantine === 0,
  };
}

/** Every record on the stream acknowledged by the transform. */
async function streamAcknowledgedCheck({ stack, source, tail, poison, injector, options }: CheckContext): Promise<Check> {
  if (options.faults.has('stack-kill')) return streamReadAcknowledgedCheck(stack, tail, injector);
  const acked = injector.acked.size;
  const onStream = source.recordsOnStream() + poison.sequenceNumbers.size;
  return { name: 'stream records acknowledged by transform', expected: `${onStream}`, actual: `${acked}`, ok: acked === onStream };
}

/** Records a restart put again are on the stream twice: count what is there, and every one acknowledged. */
async function streamReadAcknowledgedCheck(stack: RunningStack, tail: StreamTail, injector: FaultInjector): Promise<Check> {
  await tail.catchUp(stack);
  const ids = tail.ids;
  const done = [...ids].filter((id) => injector.acked.has(id)).length;
  const strange = [...injector.acked].filter((id) => !ids.has(id));
  return {
    name: 'stream records acknowledged by transform',
    expected: `${ids.size}`,
    actual: `${done}${strange.length > 0 ? ` (+${strange.length} not on the stream)` : ''}`,
    ok: done === ids.size && strange.length === 0,
    details: strange.slice(0, 5).map((id) => `${id} acknowledged but not on the stream`),
  };
}

/** Each enabled fault fired at least once (a run too short for one proves nothing about it). */
function faultsInjectedCheck(context: CheckContext): Check {
  const injected = injectedCounts(context);
  const enabled = [...context.options.faults];
  const missed = enabled.filter((f) => !(injected[f] > 0));
  return {
    name: 'every enabled fault injected (each kind)',
    expected: `${enabled.length} faults`,
    actual: `${enabled.length - missed.length} injected`,
    ok: missed.length === 0,
    details: missed.map(
      (f) =>
        `${f} never fired (run too short?${f === 'reorder' ? ' reorder needs --shards 2 or more' : ''}${f === 'stack-kill' ? ` missed: ${context.stacks.missed.join(', ')}` : ''})`,
    ),
  };
}

/** How often each fault really happened (0: it never fired). */
function injectedCounts({ injector, poison, workload, precision, stacks, backfill, options }: CheckContext): Record<Fault, number> {
  return {
    'kinesis-dup': Math.min(injector.counts.kinesisDupCrashed, injector.counts.kinesisDupReinvoked),
    'transform-partial': injector.counts.transformPartial,
    'sqs-dup': Math.min(injector.counts.sqsDupInvoked, injector.counts.sqsResent),
    reorder: Math.min(injector.counts.sqsDelayedBatches, options.shards > 1 ? 1 : 0),
    'load-crash': injector.counts.loadCrashes,
    'merge-crash': injector.counts.mergeCrashes,
    'merge-concurrent': injector.counts.mergeConcurrent,
    poison: poison.injected.length,
    oversized: workload.counts.oversized - workload.counts.oversizedRemoved,
    'oversized-remove': workload.counts.oversizedRemoved,
    'exotic-values': Math.min(workload.counts.exotic.inserts, workload.counts.exotic.modifies, workload.counts.exotic.knownAttributes),
    // Both kinds of switched record on the stream: millisecond ones and ones without the precision field.
    'precision-switch': precision ? Math.min(precision.counts.MILLISECOND, precision.counts.none) : 0,
    'stack-kill': stacks.missed.length === 0 ? stacks.kills.length : 0,
    // Items written untracked, read by a backfill that crashed once and resumed while the workload wrote.
    backfill: backfill && backfill.counts.crashes > 0 && backfill.counts.writesDuring > 0 ? backfill.counts.itemsRead : 0,
  };
}

/** stack-kill: a kill and restart at every scripted point. */
function killPointsCheck(stacks: ChaosStack): Check {
  return {
    name: 'stack killed and restarted at every scripted point',
    expected: KILL_POINTS.join(', '),
    actual: stacks.kills.map((k) => k.point).join(', ') || 'none',
    ok: stacks.missed.length === 0,
    details: stacks.missed.map((p) => `no kill ${p === 'merge' ? 'inside a merge transaction' : `during the ${p}`}`),
  };
}

/** merge-crash: every crashed merge left the warehouse as it was before the transaction. */
function mergeRollbackCheck(injector: FaultInjector): Check {
  const { mergeCrashes, mergeCrashesRolledBack } = injector.counts;
  return {
    name: 'crashed merges rolled back',
    expected: `${mergeCrashes} of ${mergeCrashes}`,
    actual: `${mergeCrashesRolledBack} of ${mergeCrashes}`,
    ok: mergeCrashesRolledBack === mergeCrashes && injector.rollbackProblems.length === 0,
    details: injector.rollbackProblems.slice(0, 5).map((p) => `after '${p.step}': ${p.problem}`),
  };
}
