/** Turns the stage reports into the results table (markdown), with goals next to the figures and a cost model. */
import { GOALS } from './options';
import type { EndToEndResult, FreshnessPoint, LoadResult, MergeResult, ProcessCpu, StageReport, TransformResult } from './results';

/** The machine a run measured. */
export interface Machine {
  readonly cores: number;
  readonly model: string;
  readonly memoryBytes: number;
  readonly platform: string;
  readonly node: string;
  readonly duckdb: string;
  readonly date: string;
}

/** One stage's outcome: its report, or why there is none; the load average around it (other processes matter). */
export interface StageOutcome<R> {
  readonly report?: StageReport<R>;
  readonly error?: string;
  readonly loadAverage: { readonly before: number; readonly after: number };
}

/** Everything one `npm run bench` measured (bench/results.json). */
export interface BenchResults {
  readonly mode: 'full' | 'quick';
  readonly machine: Machine;
  readonly transform?: StageOutcome<TransformResult>;
  readonly merge?: StageOutcome<MergeResult>;
  readonly load?: StageOutcome<LoadResult>;
  readonly e2e?: StageOutcome<EndToEndResult>;
}

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const sec = (n: number | null | undefined, digits = 2): string => (n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : `${n.toFixed(digits)} s`);
const mb = (bytes: number | undefined): string => (bytes === undefined ? '' : `${Math.round(bytes / 1_048_576).toLocaleString('en-US')} MB`);
const status = (ok: boolean | null): string => (ok === null ? 'not measured' : ok ? '**met**' : '**not met**');
const runsOf = (values: readonly number[], unit: (n: number) => string): string => values.map(unit).join(', ');

/** The freshness point the goal is judged on: the one at the goal rate on that path. */
const goalPoint = (points: readonly FreshnessPoint[], path: FreshnessPoint['path']): FreshnessPoint | undefined =>
  points.find((p) => p.path === path && p.rate === GOALS.freshnessRate);

/** The goal-rate point, or else the fastest one measured on that path (shown, not judged). */
const shownPoint = (points: readonly FreshnessPoint[], path: FreshnessPoint['path']): FreshnessPoint | undefined =>
  goalPoint(points, path) ?? [...points].filter((p) => p.path === path).sort((a, b) => b.rate - a.rate)[0];

const freshnessCell = (p: FreshnessPoint | undefined): string =>
  p === undefined
    ? 'n/a'
    : `p50 ${sec(p.p50)} · p95 ${sec(p.p95)} · p99 ${sec(p.p99)} (target ${int(p.rate)}/s, achieved ${int(p.achievedRate)}/s, ${int(p.samples)} of ${int(p.writes)} rows)`;

/** The stack's processes as the report names them (see {@link ProcessCpu}). */
const PROCESS_NAMES: Record<string, string> = {
  main: "stack's own process",
  transform: 'transform process',
  dynamodb: 'DynamoDB emulator',
  stream: 'Kinesis emulator + capture',
  sqs: 'SQS emulator',
};

/** CPU seconds per event, summed over every process: what an event costs the machine, whichever core runs it. */
const cpuPerEvent = (cpu: ProcessCpu): number => Object.values(cpu.seconds).reduce((sum, n) => sum + n, 0) / cpu.events;

/** The stack's processes the bench reads CPU for; a span that lacks one of them (exited, unreadable) gives no ceiling. */
const STACK_PROCESSES = ['main', 'transform', 'dynamodb', 'stream', 'sqs'] as const;

/**
 * Why the drain is as fast as it is: its CPU per event over all processes, and the rate that leaves on this machine's
 * cores if every core were busy all the time: a bound at the CPU per event measured (part of which, pollers and
 * emulators ticking over, goes with time rather than with events), which no tuning of waits alone can pass. Only for
 * a drain that finished (a timed-out one processed fewer events than it counts) with every process measured.
 */
const drainCeiling = (cpu: ProcessCpu | undefined, cores: number, drained: boolean): { text: string; eventsPerSecond: number } | undefined => {
  if (!drained || cpu === undefined || cpu.events <= 0 || STACK_PROCESSES.some((name) => cpu.seconds[name] === undefined)) return undefined;
  const perEvent = cpuPerEvent(cpu);
  const eventsPerSecond = cores / perEvent;
  const parts = Object.entries(cpu.seconds).map(([name, n]) => `${name} ${((n / cpu.events) * 1e6).toFixed(0)}`);
  return { text: `${(perEvent * 1e6).toFixed(0)} µs of CPU per event (${parts.join(', ')}): at most ${int(eventsPerSecond)} events/s on ${cores} cores`, eventsPerSecond };
};

/** The busiest process while a freshness rate ran, and its share of the time (a process at ~100 % sets the pace). */
const busiest = (cpu: ProcessCpu | undefined): { name: string; share: number } | undefined => {
  if (cpu === undefined || cpu.wallSeconds <= 0) return undefined;
  const [name, seconds] = Object.entries(cpu.seconds).sort((a, b) => b[1] - a[1])[0] ?? [];
  return name === undefined || seconds === undefined ? undefined : { name, share: seconds / cpu.wallSeconds };
};

/** "; CPU 166 % of 200 %, busiest …" for a freshness point whose CPU was measured: how close the machine was to full. */
const busiestNote = (p: FreshnessPoint, cores: number): string => {
  const top = busiest(p.cpu);
  if (!top || !p.cpu) return '';
  const all = Object.values(p.cpu.seconds).reduce((sum, n) => sum + n, 0) / p.cpu.wallSeconds;
  return `; CPU of all processes ${Math.round(all * 100)} % of ${cores * 100} %, busiest the ${PROCESS_NAMES[top.name] ?? top.name} at ${Math.round(top.share * 100)} %`;
};

/** The summary table: one line per measured figure. */
export const summaryTable = (r: BenchResults): string => {
  const rows: string[][] = [];
  const t = r.transform?.report;
  if (t) {
    const x = t.result;
    rows.push([
      '1 Transform',
      `decode (base64 → JSON → checks; the fast path, the zod reference path for anything unusual) + flatten/rename + pack, ${int(x.records)} records in batches of ${x.batchSize}, pinned to one core (median of ${x.runs} runs)`,
      `${int(x.oursRecordsPerSecond)} records/s (${int(x.oursRecordsPerCpuSecond)} per CPU-second) = **${x.floorRatio.toFixed(2)} of the parse floor** (base64 + JSON.parse of the same records: ${int(x.floorRecordsPerCpuSecond)} per CPU-second)`,
      `≥ ${int(GOALS.transformRecordsPerSecond)}/s (issue 6); ≥ ${GOALS.transformFloorRatio.toFixed(2)} of the parse floor (issue 11)`,
      status(x.floorRatio >= GOALS.transformFloorRatio),
      mb(t.peakRssBytes),
    ]);
    rows.push([
      '1 Transform, generic way',
      'same decode and packing; FlattenJson-like flattener + Jolt-like rename map instead of the column registry',
      `${int(x.genericRecordsPerSecond)} records/s (${int(x.genericRecordsPerCpuSecond)} per CPU-second): ours is ${x.ratio.toFixed(2)}× as fast overall, ${x.flattenRatio.toFixed(2)}× on the flatten/rename step; outputs ${x.outputsIdentical ? 'byte-identical' : '**differ**'}`,
      '',
      '',
      '',
    ]);
  } else if (r.transform) rows.push(['1 Transform', 'failed', r.transform.error ?? '', `≥ ${int(GOALS.transformRecordsPerSecond)}/s`, status(null), '']);

  const m = r.merge?.report;
  if (m) {
    const x = m.result;
    const size = `${int(x.events)} staged events (${int(x.uniqueEvents)} distinct, ${int(x.duplicates)} redelivered; ${int(x.claims)} claims, ${int(x.existingClaims)} of them existing) into ${int(x.destinationRows)} rows, DuckDB file`;
    rows.push([
      '2 Merge, ours',
      `${size}; median of ${x.ours.runs.length} runs`,
      `${sec(x.ours.seconds)} (${sec(x.ours.cpuSeconds)} CPU); ${int(x.ours.correctness.wrongClaims)} claims wrong; ${int(x.ours.lateRowsDeletedUnmerged)} of ${int(x.ours.lateRows)} rows staged during the merge lost` +
        (x.floor ? `; floor ${sec(x.floor.seconds)} (${sec(x.floor.cpuSeconds)} CPU): moving the winning rows alone, see below` : ''),
      `≤ ${GOALS.mergeSeconds} s`,
      status(x.ours.seconds <= GOALS.mergeSeconds),
      mb(m.peakRssBytes),
    ]);
    const q = x.quickstart;
    rows.push([
      '2 Merge, quickstart',
      `its MERGE + DELETE on the same batch (${q.runs.length || 1} run${q.runs.length > 1 ? 's, median' : ''}; translation below)`,
      q.finished
        ? `${sec(q.seconds)}; **${int(q.correctness.wrongClaims)} of ${int(x.claims)} claims wrong** (${int(q.correctness.wrongVersion)} old version, ${int(q.correctness.notDeleted)} not deleted, ${int(q.correctness.duplicated)} duplicated, ${int(q.correctness.missing)} missing); **${int(q.lateRowsDeletedUnmerged)} of ${int(q.lateRows)}** rows staged during the merge deleted unmerged`
        : `did not finish: ${q.error ?? 'no run'} (nothing merged, so correctness not counted)`,
      '',
      '',
      '',
    ]);
    const small = x.scaledDown;
    if (small) {
      const sq = small.quickstart;
      rows.push([
        `2 Merge, ${Math.round(x.destinationRows / small.destinationRows)}× smaller batch`,
        `because the quickstart did not finish above: ${int(small.events)} events (${int(small.claims)} claims) into ${int(small.destinationRows)} rows, same mix, 1 run each`,
        `ours ${sec(small.ours.seconds)}, ${int(small.ours.correctness.wrongClaims)} claims wrong, ${int(small.ours.lateRowsDeletedUnmerged)} of ${int(small.ours.lateRows)} late rows lost; quickstart ` +
          (sq.finished
            ? `${sec(sq.seconds)}, **${int(sq.correctness.wrongClaims)} of ${int(small.claims)} claims wrong** (${int(sq.correctness.wrongVersion)} old version, ${int(sq.correctness.notDeleted)} not deleted, ${int(sq.correctness.duplicated)} duplicated, ${int(sq.correctness.missing)} missing), **${int(sq.lateRowsDeletedUnmerged)} of ${int(sq.lateRows)}** late rows deleted unmerged`
            : `did not finish either (${sq.error ?? ''})`),
        '',
        '',
        '',
      ]);
    }
  } else if (r.merge) rows.push(['2 Merge', 'failed', r.merge.error ?? '', `≤ ${GOALS.mergeSeconds} s`, status(null), '']);

  const l = r.load?.report;
  if (l) {
    const x = l.result;
    const headline = x.points.find((p) => p.historyRows === 0 && p.batchSize === 1_000) ?? x.points[0];
    const best = Math.max(...x.points.map((p) => p.rowsPerSecond));
    rows.push([
      '3 Load',
      `rows/s into staging + history in one transaction, idempotent by event id; batch ${int(headline?.batchSize ?? 0)}, empty history (median of ${headline?.runs.length ?? 0} runs; all sizes below)`,
      `${int(headline?.rowsPerSecond ?? Number.NaN)} rows/s (${int(headline?.rowsPerCpuSecond ?? Number.NaN)} per CPU-second); best point ${int(best)} rows/s`,
      `≥ ${int(GOALS.loadRowsPerSecond)}/s`,
      status((headline?.rowsPerSecond ?? 0) >= GOALS.loadRowsPerSecond),
      mb(l.peakRssBytes),
    ]);
    rows.push([
      '3 Load, re-delivery',
      `${int(x.redelivery.rows)} rows (batches of ${int(x.redelivery.batchSize)}) staged a second time`,
      `${int(x.redelivery.rowsPerSecond)} rows/s; staged again: ${x.redelivery.stagedAgain}, history grew by ${x.redelivery.historyGrew}; every event once in history and staging: ${x.idempotent ? 'yes' : '**no**'}`,
      '',
      '',
      '',
    ]);
    rows.push(['3 Load, handler body', `parse packed row messages (zod) + stage, SQS batches of ${int(x.withParsing.batchSize)} rows`, `${int(x.withParsing.rowsPerSecond)} rows/s`, '', '', '']);
    const floor = x.floor;
    const atFloorSize = floor && x.points.find((p) => p.historyRows === 0 && p.batchSize === floor.batchSize);
    if (floor) {
      rows.push([
        '3 Load, floor',
        `the same rows appended from JS (Appender) straight into plain tables, no idempotency check, batch ${int(floor.batchSize)}: one table; two tables in one transaction (what staging + history write at least)`,
        `one table ${int(floor.oneTable.rowsPerSecond)} rows/s (${int(floor.oneTable.rowsPerCpuSecond)} per CPU-second); two tables ${int(floor.twoTables.rowsPerSecond)} rows/s (${int(floor.twoTables.rowsPerCpuSecond)} per CPU-second)` +
          (atFloorSize ? `; the stage is at ${((100 * atFloorSize.rowsPerCpuSecond) / floor.twoTables.rowsPerCpuSecond).toFixed(0)} % of the two-table floor per CPU-second` : ''),
        '',
        '',
        '',
      ]);
    }
  } else if (r.load) rows.push(['3 Load', 'failed', r.load.error ?? '', `≥ ${int(GOALS.loadRowsPerSecond)}/s`, status(null), '']);

  const e = r.e2e?.report;
  if (e && e.result.available) {
    const x = e.result;
    if (x.drain) {
      const met = Number.isFinite(x.drain.seconds) ? x.drain.eventsPerSecond >= GOALS.drainEventsPerSecond : false;
      const ceiling = drainCeiling(x.drain.cpu, r.machine.cores, Number.isFinite(x.drain.seconds));
      rows.push([
        '4a Drain',
        `embedded stack, real handlers: a stream pre-filled with ${int(x.drain.events)} change records → merged destination (${int(x.drain.destinationRows)} of ${int(x.drain.expectedRows)} expected rows)`,
        (Number.isFinite(x.drain.seconds) ? `${int(x.drain.eventsPerSecond)} events/s (${sec(x.drain.seconds, 1)})` : 'did not drain in time') +
          (ceiling ? `; ${ceiling.text}` : ''),
        `≥ ${int(GOALS.drainEventsPerSecond)}/s`,
        status(met) + (!met && ceiling && ceiling.eventsPerSecond < GOALS.drainEventsPerSecond ? `: CPU-bound, the ceiling is ${int(ceiling.eventsPerSecond)}/s` : ''),
        mb(e.peakRssBytes),
      ]);
    }
    const points = x.freshness ?? [];
    const viaDb = goalPoint(points, 'dynamodb');
    const viaStream = goalPoint(points, 'stream');
    const reached = (p: FreshnessPoint | undefined): boolean => p !== undefined && p.achievedRate >= 0.9 * p.rate;
    rows.push([
      '4b Freshness, via DynamoDB',
      `DynamoDB write (capture's ApproximateCreationDateTime) → row visible in the destination, writes at ${int(GOALS.freshnessRate)}/s, 1 s merge interval`,
      freshnessCell(shownPoint(points, 'dynamodb')),
      `p99 ≤ ${GOALS.freshnessP99Seconds} s at ${int(GOALS.freshnessRate)}/s`,
      viaDb === undefined || viaDb.p99 === null
        ? `${status(null)} at ${int(GOALS.freshnessRate)}/s`
        : (reached(viaDb) ? status(viaDb.p99 <= GOALS.freshnessP99Seconds) : `**not met** (the writer reached only ${int(viaDb.achievedRate)}/s)`) + busiestNote(viaDb, r.machine.cores),
      '',
    ]);
    rows.push([
      '4b Freshness, via the stream',
      `records stamped and put on the stream at ${int(GOALS.freshnessRate)}/s (the capture's part played by the writer) → row visible`,
      freshnessCell(shownPoint(points, 'stream')),
      `p99 ≤ ${GOALS.freshnessP99Seconds} s`,
      viaStream === undefined || viaStream.p99 === null ? `${status(null)} at ${int(GOALS.freshnessRate)}/s` : status(reached(viaStream) && viaStream.p99 <= GOALS.freshnessP99Seconds),
      '',
    ]);
  } else if (r.e2e) {
    const why = e ? e.result.missing.join('; ') : (r.e2e.error ?? '');
    rows.push(['4 End to end', 'not measured', why, `≥ ${int(GOALS.drainEventsPerSecond)}/s; p99 ≤ ${GOALS.freshnessP99Seconds} s`, status(null), '']);
  }

  // Goals are for the full sizes: a smoke run at small sizes is not judged against them.
  if (r.mode === 'quick') for (const row of rows) if (row[4]) row[4] = 'n/a (quick sizes)';
  const header = ['Stage', 'What', 'Measured', 'Goal (issues 6, 11)', 'Goal', 'Peak RSS'];
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`)].join('\n');
};

const machineLine = (r: BenchResults): string => {
  const m = r.machine;
  const loads = [r.transform, r.merge, r.load, r.e2e].filter((s) => s !== undefined).flatMap((s) => [s.loadAverage.before, s.loadAverage.after]);
  const busiest = loads.length > 0 ? Math.max(...loads) : 0;
  return (
    `Machine: ${m.cores} cores (${m.model}), ${(m.memoryBytes / 1024 ** 3).toFixed(1)} GiB memory, ${m.platform}, Node ${m.node}, DuckDB ${m.duckdb}. ` +
    `Run: ${m.date}, ${r.mode} mode. ` +
    `1-minute load average between ${Math.min(...loads).toFixed(1)} and ${busiest.toFixed(1)} during the stages` +
    (busiest > m.cores ? ` — more than the ${m.cores} cores: other processes were running, so wall-clock figures are stretched; per-CPU-second figures are less affected.` : '.')
  );
};

/** Detail sections: how each figure breaks down. */
const details = (r: BenchResults): string[] => {
  const out: string[] = [];
  const t = r.transform?.report?.result;
  if (t) {
    out.push('### Transform: cost per step (µs per record, median)', '');
    const names: Record<string, string> = {
      base64: 'base64 → UTF-8',
      jsonParse: 'JSON.parse',
      recordSchema: 'Powertools DynamoDB→Kinesis schema (zod)',
      unmarshall: 'unmarshall images (plainItem, lossless)',
      claimSchema: 'claim schema (zod)',
      decodeTotal: '= decodeKinesisData (all of the above)',
      flattenOurs: 'flatten/rename: column registry (ours)',
      flattenGeneric: 'flatten/rename: FlattenJson-like + rename map',
      serialize: 'pack rows into load-queue messages',
      fastRow: 'fast path: record → row JSON (what ours runs; base64 and JSON.parse included)',
      referenceRow: 'reference path: record → row JSON (zod, registry flatten, cell rules)',
    };
    out.push('| Step | µs/record |', '|---|---|');
    for (const [key, label] of Object.entries(names)) out.push(`| ${label} | ${(t.stepMicros[key] ?? Number.NaN).toFixed(1)} |`);
    out.push('', `Runs (records/s): ours ${runsOf(t.oursRuns, int)}; generic ${runsOf(t.genericRuns, int)}. ${t.bytesPerRecord.toFixed(0)} bytes of load-queue message per record, ${t.rowsPerMessage.toFixed(1)} rows per message.`, '');
  }
  const m = r.merge?.report?.result;
  if (m) {
    out.push('### Merge: where the time goes, and what the quickstart gets wrong', '');
    out.push(`Batch: ${int(m.counts.INSERT ?? 0)} INSERT, ${int(m.counts.MODIFY ?? 0)} MODIFY, ${int(m.counts.REMOVE ?? 0)} REMOVE rows. Setup (not measured): ${sec(m.setupSeconds, 0)}.`, '');
    out.push('| Step | ours | quickstart |', '|---|---|---|');
    const oursSteps = Object.entries(m.ours.steps);
    const qsSteps = Object.entries(m.quickstart.steps);
    for (let i = 0; i < Math.max(oursSteps.length, qsSteps.length); i += 1) {
      const a = oursSteps[i];
      const b = qsSteps[i];
      out.push(`| ${i + 1} | ${a ? `${a[0]}: ${sec(a[1])}` : ''} | ${b ? `${b[0]}: ${sec(b[1])}` : ''} |`);
    }
    out.push('', `Runs: ours ${runsOf(m.ours.runs, (n) => sec(n))}; quickstart ${m.quickstart.runs.length > 0 ? runsOf(m.quickstart.runs, (n) => sec(n)) : (m.quickstart.error ?? 'none')}.`, '');
    if (m.floor) {
      out.push(
        `Floor, on a copy of the same file in the same run: with the plan built beforehand (not timed), one transaction of only the DELETE of the changed claims' rows, the INSERT of the winning rows from staging and the DELETE of the claimed staged rows, then COMMIT: ` +
          `${sec(m.floor.seconds)} median (${sec(m.floor.cpuSeconds)} CPU; runs ${runsOf(m.floor.runs, (n) => sec(n))}). Ours takes ${sec(Math.max(0, m.ours.seconds - m.floor.seconds))} more (claim, plan, stats, tombstones).`,
        '',
      );
    }
    const c = m.ours.correctness;
    out.push(
      `Correctness is checked claim by claim against the merge-rules oracle (\`expectedDestination\`, shared/test-support/factories.ts): ours ${int(c.wrongClaims)} wrong, ` +
        `untouched rows ${int(c.untouchedRows)} of ${int(c.expectedUntouchedRows)}, ${int(m.ours.batchRowsLeftInStaging)} batch rows left in staging. ` +
        `${int(m.ours.lateRows)} rows (${int(m.ours.lateRowsOnBatchClaims)} of them for claims in the batch) are staged in the middle of each merge — after its MERGE, before its DELETE — to count rows deleted unmerged.`,
      '',
      'The quickstart\'s SQL is run as literally as DuckDB allows:',
      '',
      ...m.translation.map((line) => `- ${line}`),
      '',
    );
  }
  const l = r.load?.report?.result;
  if (l) {
    out.push('### Load: every point (rows/s, median; per CPU-second in brackets)', '');
    const sizes = [...new Set(l.points.map((p) => p.batchSize))];
    const histories = [...new Set(l.points.map((p) => p.historyRows))];
    out.push(`| History rows | ${sizes.map((s) => `batch ${int(s)}`).join(' | ')} |`, `|---|${sizes.map(() => '---').join('|')}|`);
    for (const h of histories) {
      out.push(`| ${int(h)} | ${sizes.map((s) => l.points.find((p) => p.historyRows === h && p.batchSize === s)).map((p) => (p ? `${int(p.rowsPerSecond)} (${int(p.rowsPerCpuSecond)})` : '')).join(' | ')} |`);
    }
    out.push('');
  }
  const e = r.e2e?.report?.result;
  if (e?.available) {
    if (e.drain) {
      const h = e.drain.handlers;
      out.push('### End to end: handler time during the drain', '');
      out.push('| Handler | invocations | busy | per event |', '|---|---|---|---|');
      for (const [name, v] of Object.entries(h)) out.push(`| ${name} | ${int(v.invocations)} | ${sec(v.seconds, 1)} | ${((v.seconds / e.drain.events) * 1e6).toFixed(0)} µs |`);
      out.push('');
    }
    const spans: [string, ProcessCpu | undefined][] = [
      ['drain', e.drain?.cpu],
      ...(e.freshness ?? []).map((p): [string, ProcessCpu | undefined] => [`${p.path === 'dynamodb' ? 'to DynamoDB' : 'to the stream'} at ${int(p.rate)}/s`, p.cpu]),
    ];
    const measured = spans.filter((span): span is [string, ProcessCpu] => span[1] !== undefined && span[1].events > 0 && span[1].wallSeconds > 0);
    if (measured.length > 0) {
      const names = [...new Set(measured.flatMap(([, cpu]) => Object.keys(cpu.seconds)))];
      out.push('### End to end: CPU per process (µs per event, and % of one core)', '');
      out.push(
        `Each process's CPU time (/proc) over the span, per event; the freshness spans include the bench's writer (in the stack's own process). ${names.map((n) => `${n}: ${PROCESS_NAMES[n] ?? n}`).join('; ')}.`,
        '',
      );
      out.push(`| Span | ${names.join(' | ')} | all |`, `|---|${names.map(() => '---').join('|')}|---|`);
      for (const [span, cpu] of measured) {
        const cell = (n: number | undefined) => (n === undefined ? '' : `${((n / cpu.events) * 1e6).toFixed(0)} µs (${Math.round((n / cpu.wallSeconds) * 100)} %)`);
        const all = Object.values(cpu.seconds).reduce((sum, n) => sum + n, 0);
        out.push(`| ${span} | ${names.map((n) => cell(cpu.seconds[n])).join(' | ')} | ${cell(all)} |`);
      }
      out.push('');
    }
    if (e.freshness && e.freshness.length > 0) {
      out.push('### Freshness at every rate (chart: bench/freshness.svg)', '');
      out.push('| Writes | target/s | achieved/s | rows seen | p50 | p95 | p99 | max | merges (mean duration) |', '|---|---|---|---|---|---|---|---|---|');
      for (const p of e.freshness) {
        out.push(`| ${p.path === 'dynamodb' ? 'to DynamoDB' : 'to the stream'} | ${int(p.rate)} | ${int(p.achievedRate)} | ${int(p.samples)}/${int(p.writes)} | ${sec(p.p50)} | ${sec(p.p95)} | ${sec(p.p99)} | ${sec(p.max)} | ${int(p.merges)} (${sec(p.meanMergeSeconds)}) |`);
      }
      out.push('');
    }
  }
  return out;
};

/** What the measured per-event costs imply on AWS (assumptions stated; Snowflake is extrapolated, never measured). */
export interface CostModel {
  readonly lambdaGbSecondsPerMillion: Record<'transform' | 'load' | 'merge' | 'total', { oneShard: number; hundredShards: number }>;
  readonly warehouseSecondsPerMillion: { oneShard: number; hundredShards: number };
  readonly creditsPerMillion: { oneShard: number; hundredShards: number };
  readonly hundredShardsWarehouseSize: string;
  readonly basis: string[];
}

/** Deployed settings (services/*\/serverless.yml) and the assumptions the model needs; each is printed with it. */
const LAMBDA_MEMORY_MB = 1_024;
const FULL_VCPU_MB = 1_769;
const TRANSFORM_BATCH = 100;
/** Load invocations carry up to 6 MB of messages: about this many rows (2.3 KB each) once traffic fills the 5 s window. */
const LOAD_ROWS_PER_INVOCATION = 2_500;
const ASSUMED_SQS_SEND_SECONDS = 0.02;
const ASSUMED_SNOWFLAKE_ROUND_TRIPS_SECONDS = 0.15;
const ONE_SHARD_EVENTS_PER_SECOND = 1_000;
const SIZES = ['XS', 'S', 'M', 'L', 'XL', '2XL', '3XL', '4XL', '5XL', '6XL'];

/** The cost model, when the stages it needs were measured. */
export const costModel = (r: BenchResults): CostModel | undefined => {
  const t = r.transform?.report?.result;
  const l = r.load?.report?.result;
  const m = r.merge?.report?.result;
  if (!t || !l || !m) return undefined;
  const biggestHistory = Math.max(...l.points.map((q) => q.historyRows));
  const largestBatch = Math.max(...l.points.map((q) => q.batchSize));
  const loadPoint = l.points.find((p) => p.historyRows === biggestHistory && p.batchSize === largestBatch) ?? (l.points[0] as (typeof l.points)[number]);
  const slowdown = FULL_VCPU_MB / LAMBDA_MEMORY_MB;
  const gb = LAMBDA_MEMORY_MB / 1_024;

  // Lambda: CPU measured per event on a full core, slowed to the 1 GB share, plus waiting on SQS / Snowflake.
  const transformPerEvent = (1 / t.oursRecordsPerCpuSecond) * slowdown + ASSUMED_SQS_SEND_SECONDS / TRANSFORM_BATCH;
  // The warehouse's staging work is done in Snowflake, not in the Lambda: the load waits for it.
  const stagingPerRow = 1 / loadPoint.rowsPerSecond;
  const loadPerEvent = (l.parseMicrosPerRow / 1e6) * slowdown + stagingPerRow + ASSUMED_SNOWFLAKE_ROUND_TRIPS_SECONDS / LOAD_ROWS_PER_INVOCATION;
  const mergePerEvent = m.ours.seconds / m.uniqueEvents;
  const mergeInvocationSeconds = (eventsPerSecond: number): number => mergePerEvent * eventsPerSecond * 60 + ASSUMED_SNOWFLAKE_ROUND_TRIPS_SECONDS;
  const millionsPerHour = (eventsPerSecond: number): number => (eventsPerSecond * 3_600) / 1e6;
  const mergeGbs = (eventsPerSecond: number): number => (60 * mergeInvocationSeconds(eventsPerSecond) * gb) / millionsPerHour(eventsPerSecond);
  const one = ONE_SHARD_EVENTS_PER_SECOND;
  const hundred = 100 * ONE_SHARD_EVENTS_PER_SECOND;
  const transform = transformPerEvent * gb * 1e6;
  const load = loadPerEvent * gb * 1e6;

  // Snowflake: the DuckDB times on this machine stand in for an XS warehouse.
  const workPerMillion = (mergePerEvent + stagingPerRow) * 1e6;
  // One shard: a merge every minute and loads every few seconds never let the warehouse auto-suspend (60 s minimum).
  const oneShardPerMillion = Math.max(3_600, workPerMillion * millionsPerHour(one)) / millionsPerHour(one);
  const hundredBusyPerHour = workPerMillion * millionsPerHour(hundred);
  const sizeIndex = Math.min(SIZES.length - 1, Math.max(0, Math.ceil(Math.log2(Math.max(1, hundredBusyPerHour / 3_600)))));
  const hundredPerMillion = Math.max(workPerMillion, (3_600 * 2 ** sizeIndex) / millionsPerHour(hundred));
  const us = (seconds: number): string => `${(seconds * 1e6).toFixed(0)} µs`;
  return {
    lambdaGbSecondsPerMillion: {
      transform: { oneShard: transform, hundredShards: transform },
      load: { oneShard: load, hundredShards: load },
      merge: { oneShard: mergeGbs(one), hundredShards: mergeGbs(hundred) },
      total: { oneShard: transform + load + mergeGbs(one), hundredShards: transform + load + mergeGbs(hundred) },
    },
    warehouseSecondsPerMillion: { oneShard: oneShardPerMillion, hundredShards: hundredPerMillion },
    creditsPerMillion: { oneShard: oneShardPerMillion / 3_600, hundredShards: hundredPerMillion / 3_600 },
    hundredShardsWarehouseSize: SIZES[sizeIndex] ?? 'XS',
    basis: [
      `Lambda: ${LAMBDA_MEMORY_MB} MB for transform, load and merge (services/*/serverless.yml). At that size a function gets ${(1 / slowdown).toFixed(2)} of a vCPU, so CPU measured here on a full core is multiplied by ${slowdown.toFixed(2)}.`,
      `transform: ${us(1 / t.oursRecordsPerCpuSecond)} CPU per record (stage 1, per CPU-second) × ${slowdown.toFixed(2)}, plus one SQS SendMessageBatch per ${TRANSFORM_BATCH}-record invocation, assumed ${ASSUMED_SQS_SEND_SECONDS * 1000} ms = ${us(transformPerEvent)} per event.`,
      `load: ${us(l.parseMicrosPerRow / 1e6)} CPU per row to parse the row messages (× ${slowdown.toFixed(2)}), plus waiting for the warehouse to stage the row (${us(stagingPerRow)}: the DuckDB stage rate at batch ${int(loadPoint.batchSize)}, history ${int(loadPoint.historyRows)}), plus ${ASSUMED_SNOWFLAKE_ROUND_TRIPS_SECONDS * 1000} ms of Snowflake round trips (assumed) per invocation of ~${int(LOAD_ROWS_PER_INVOCATION)} rows (the 6 MB payload cap) = ${us(loadPerEvent)} per event.`,
      `merge: one invocation a minute (rate(1 minute)) that waits for the warehouse: ${(mergePerEvent * 1e6).toFixed(1)} µs per event (our DuckDB merge of ${int(m.uniqueEvents)} events into ${int(m.destinationRows)} rows) × the events of that minute, plus ${ASSUMED_SNOWFLAKE_ROUND_TRIPS_SECONDS * 1000} ms.`,
      `1 shard = ${int(one)} events/s (one shard's write limit); 100 shards = ${int(hundred)} events/s. Per event, transform and load cost the same at both; only the merge's fixed per-minute cost is spread over more events.`,
      `Snowflake is **extrapolated, not measured**: warehouse work per event = DuckDB merge time per event + DuckDB stage time per row on this ${r.machine.cores}-core machine, taken as what an XS warehouse (1 credit/hour) would need, and assumed to scale linearly with warehouse size (credits per event then do not depend on size). At 1 shard the merge every minute and the loads every few seconds never let the warehouse auto-suspend (60 s minimum), so it bills every second of every hour: ${int(oneShardPerMillion)} XS-seconds per million events however fast the SQL is. At 100 shards the work (${int(hundredBusyPerHour)} XS-seconds per hour) needs a ${SIZES[sizeIndex] ?? 'XS'} warehouse busy all the time; load concurrency (maximumConcurrency 5) would also have to rise.`,
    ],
  };
};

const costSection = (model: CostModel | undefined): string[] => {
  if (!model) return ['### What this means on AWS', '', 'Not computed: it needs the transform, merge and load stages.', ''];
  const g = model.lambdaGbSecondsPerMillion;
  const f = (n: number): string => (n >= 100 ? int(n) : n.toFixed(n >= 10 ? 1 : 2));
  return [
    '### What this means on AWS (per million events)',
    '',
    '| | 1 shard (1,000 events/s) | 100 shards (100,000 events/s) |',
    '|---|---|---|',
    `| Lambda transform, GB-s | ${f(g.transform.oneShard)} | ${f(g.transform.hundredShards)} |`,
    `| Lambda load, GB-s | ${f(g.load.oneShard)} | ${f(g.load.hundredShards)} |`,
    `| Lambda merge, GB-s | ${f(g.merge.oneShard)} | ${f(g.merge.hundredShards)} |`,
    `| **Lambda total, GB-s** | **${f(g.total.oneShard)}** | **${f(g.total.hundredShards)}** |`,
    `| Snowflake warehouse time, XS-seconds (extrapolated) | ${f(model.warehouseSecondsPerMillion.oneShard)} (XS on all hour) | ${f(model.warehouseSecondsPerMillion.hundredShards)} (needs ${model.hundredShardsWarehouseSize}) |`,
    `| Snowflake credits (extrapolated) | ${model.creditsPerMillion.oneShard.toFixed(3)} | ${model.creditsPerMillion.hundredShards.toFixed(3)} |`,
    '',
    ...model.basis.map((b) => `- ${b}`),
    '',
  ];
};

/** The whole results document. */
export const resultsMarkdown = (r: BenchResults): string =>
  [
    '# claims-cdc benchmark results',
    '',
    `Generated by \`npm run bench${r.mode === 'quick' ? ' -- --quick' : ''}\` (bench/run.ts). Goals are issues 6's and 11's, shown next to the figures, never asserted.`,
    '',
    machineLine(r),
    '',
    summaryTable(r),
    '',
    ...details(r),
    ...costSection(costModel(r)),
  ].join('\n');
