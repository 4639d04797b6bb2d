/** The chaos report as text tables. */
import { FAULTS, type Fault } from './options';
import type { ChaosReport } from './run';
import type { Check } from './verify';

const s = (ms: number) => Math.round(ms / 1000);

const table = (header: readonly string[], rows: readonly (readonly string[])[]): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
};

/** Options line, result table, faults table, figures. */
export function formatReport(report: ChaosReport): string {
  return [
    optionsLine(report.options),
    '',
    checksTable(report.checks),
    '',
    faultsTable(report),
    '',
    ...figureLines(report),
    ...(report.error ? ['', `ERROR: ${report.error}`] : []),
    '',
    verdictLine(report),
  ].join('\n');
}

type Options = ChaosReport['options'];
type Faults = ChaosReport['faults'];

/** The run's options; `all` stands for every fault (any other name after it). */
function optionsLine(o: Options): string {
  const faults = FAULTS.every((f) => o.faults.includes(f)) ? ['all', ...o.faults.filter((f) => !(FAULTS as readonly string[]).includes(f))].join(',') : o.faults.join(',') || 'none';
  return `claims-cdc chaos · seed ${o.seed} · ${o.events} events over ${o.claims} claims · source ${o.source} · ${o.shards} shards · faults: ${faults}`;
}

/** One row a check; a failed check's details on indented rows below it. */
function checksTable(checks: readonly Check[]): string {
  return table(
    ['CHECK', 'EXPECTED', 'ACTUAL', 'RESULT'],
    checks.flatMap((c) => [[c.name, c.expected, c.actual, c.ok ? 'PASS' : 'FAIL'], ...(c.ok ? [] : (c.details ?? []).map((d) => [`    ${d}`, '', '', '']))]),
  );
}

/** What each enabled fault did, in the table's order. */
function faultsTable(report: ChaosReport): string {
  const enabled = faultRows(report).filter(([fault]) => report.options.faults.includes(fault));
  return table(['FAULT', 'INJECTED'], enabled);
}

/** A row for every fault (the table keeps those enabled). */
function faultRows({ options: o, workload: w, faults: f }: ChaosReport): (readonly [Fault, string])[] {
  const poison = Object.entries(w.poison)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return [
    ['kinesis-dup', `${f.kinesisDupReinvoked} batches delivered twice, ${f.kinesisDupCrashed} crashed after their work (redelivered)`],
    ['transform-partial', `${f.transformPartial} invocations died mid-batch (${f.transformPartialRecords} records retried from the checkpoint)`],
    ['sqs-dup', `${f.sqsDupInvoked} batches delivered twice, ${f.sqsResent} messages sent again`],
    ['reorder', `${o.shards} shards, ${f.sqsShuffledBatches} load batches shuffled, ${f.sqsDelayedBatches} held back (${f.sqsDelayedMessages} messages)`],
    ['load-crash', `${f.loadCrashes} crashed after commit, before acknowledging`],
    ['merge-crash', `${f.mergeCrashes} crashed mid-transaction (${Object.entries(f.mergeCrashSteps).map(([s, n]) => `${s} ${n}`).join(', ') || '-'})`],
    ['merge-concurrent', `${f.mergeConcurrent} pairs of merges started at once`],
    ['poison', `${f.poisonInjected} records (${poison || '-'})`],
    ['oversized', `${w.oversized - w.oversizedRemoved} item(s) grown past the queue message limit, then shrunk`],
    ['oversized-remove', `${w.oversizedRemoved} item(s) grown past the limit, then deleted (the REMOVE must still reach the warehouse)`],
    [
      'exotic-values',
      `${w.exotic.inserts} INSERTs and ${w.exotic.modifies} MODIFYs with 38-digit numbers, sets, binary, null, empty and nested values (${w.exotic.knownAttributes} with a 38-digit total_charge and procedure charge)`,
    ],
    ['precision-switch', precisionText(o, f)],
    ['stack-kill', stackKillText(o, f)],
    ['backfill', backfillText(f)],
  ];
}

/** precision-switch: the records of each precision and the switches between them. */
function precisionText(o: Options, f: Faults): string {
  if (!f.precision) return '-';
  return (
    `records in µs ${f.precision.MICROSECOND} · ms ${f.precision.MILLISECOND} · no precision field ${f.precision.none}; ${f.precision.switches} switches, ${f.precision.sameMillisecondSwitches} within one millisecond of one claim` +
    (o.source === 'dynamodb' ? " (applied as the transform receives the capture's records)" : '')
  );
}

/** stack-kill: each kill, what it cut, what the restart recovered. */
function stackKillText(o: Options, f: Faults): string {
  const kills = f.kills
    .map(
      (k) =>
        ` · ${k.point} (${k.at}): cut ${k.inFlight.transform}/${k.inFlight.load}/${k.inFlight.merge} transform/load/merge invocation(s)` +
        `${o.source === 'dynamodb' ? `, ${k.writesInFlight} write(s)` : ''}; capture replayed ${k.recovered.records} record(s), settled ${k.recovered.changes} open write(s); up in ${Math.round(k.restartMs / 100) / 10} s`,
    )
    .join('');
  return `${f.kills.length} kill(s), each restarted on the same state directory` + kills + (f.kills.length > 0 ? ` · ${f.streamDuplicates} record(s) on the stream twice` : '');
}

/** backfill: what was written untracked, and how the backfill's runs read it. */
function backfillText(f: Faults): string {
  const b = f.backfill;
  if (!b) return '-';
  return (
    `${b.untracked} claims written untracked (${b.untrackedCold} never written by the workload); backfill started after ${b.startedAfter} events, ` +
    `${b.writesDuring} written while it ran; ${b.runs} run(s): ${b.crashes} crashed after a page reached the load queue, ${b.cutByKill} cut by a stack kill; ` +
    `${b.pages} pages (${b.pagesReread} read again), ${b.itemsRead} items read, ${b.oversizedReads} oversized (quarantined)`
  );
}

/** The figures: workload, timings, warehouse counts, stage invocations, busy time, the process. */
function figureLines({ workload: w, faults: f, figures: g }: ChaosReport): string[] {
  return [
    `workload   ${w.INSERT + w.MODIFY + w.REMOVE} events: INSERT ${w.INSERT} · MODIFY ${w.MODIFY} · REMOVE ${w.REMOVE} · ${w.bursts} bursts (${w.burstEvents} events)`,
    `pipeline   ${g.pipelineSeconds} s from first write to drained (${g.eventsPerSecond} events/s) · writes ${g.workloadSeconds} s · drain ${g.drainSeconds} s · checks ${g.verifySeconds} s · total ${g.totalSeconds} s`,
    `warehouse  history ${g.history} · destination ${g.destination} · tombstones ${g.tombstones} · quarantine deliveries ${f.quarantineDeliveries}`,
    `stages     transform ${g.transformInvocations} invocations · load ${g.loadInvocations} · merge ${g.mergeInvocations} (${g.mergeFailures} failed) · final merge attempts ${f.finalMergeAttempts}`,
    `busy       transform ${s(f.busyMs.transform)} s · load ${s(f.busyMs.load)} s (warehouse stage ${s(f.busyMs.warehouseStage)} s) · merge ${s(f.busyMs.merge)} s (warehouse merge ${s(f.busyMs.warehouseMerge)} s)`,
    `process    peak RSS ${g.peakRssMb} MB · CPU ${g.cpuSeconds} s (${g.pipelineSeconds > 0 ? Math.round((g.cpuSeconds / g.totalSeconds) * 100) : 0}% of one core over the run) · load average at the end ${g.loadAverage}`,
  ];
}

/** PASS, or how many checks failed and where the state was kept. */
function verdictLine(report: ChaosReport): string {
  if (report.passed) return 'PASS: every check held.';
  return `FAIL: ${report.checks.filter((c) => !c.ok).length} check(s) missed${report.error ? ' and the run did not finish' : ''}. State kept in ${report.stateDir}`;
}
