/**
 * `npm run bench` — measures each stage of the pipeline and the embedded stack end to end, side by side with the
 * quickstart's approach, and writes bench/results.md, bench/results.json and bench/freshness.svg.
 *
 *   npm run bench                      full sizes (issue 6); writes the published results
 *   npm run bench -- --quick           small sizes, well under a minute (CI smoke: no thresholds; results go to bench/.data/)
 *   npm run bench -- --only merge,load run some stages (transform, merge, load, e2e, cli); results go to bench/.data/
 *   npm run bench -- --quickstart-timeout 900   let the quickstart's merge run longer before it is interrupted
 *
 * Each stage runs in its own child process, so its peak memory is its own. Goals are printed, never asserted:
 * the exit code is non-zero only when a stage could not run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { version as duckdbVersion } from '@duckdb/node-api';
import { freshnessSvg } from './freshness-chart';
import { BENCH_DIR, type BenchPlan, DATA_DIR, FULL, GOALS, QUICK } from './options';
import { type BenchResults, resultsMarkdown, type StageOutcome } from './report';
import type { StageReport } from './results';
import { cliStartMarkdown, runCliStart } from './stages/cli-start';

const STAGES = ['transform', 'merge', 'load', 'e2e', 'cli'] as const;
type StageName = (typeof STAGES)[number];

class UsageError extends Error {
  override readonly name = 'UsageError';
}

const USAGE = `usage: npm run bench [-- [--quick] [--only ${STAGES.join(',')}] [--quickstart-timeout SECONDS]]`;

interface Args {
  readonly quick: boolean;
  readonly only: readonly StageName[];
  readonly quickstartTimeoutSeconds?: number;
}

const parseArgs = (argv: readonly string[]): Args => {
  let quick = false;
  let only: StageName[] = [...STAGES];
  let quickstartTimeoutSeconds: number | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[(i += 1)];
      if (v === undefined) throw new UsageError(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    if (flag === '--quick') quick = true;
    else if (flag === '--only') {
      only = value().split(',').map((s) => s.trim()) as StageName[];
      const unknown = only.filter((s) => !(STAGES as readonly string[]).includes(s));
      if (unknown.length > 0) throw new UsageError(`unknown stage ${unknown.join(', ')}\n${USAGE}`);
    } else if (flag === '--quickstart-timeout') {
      quickstartTimeoutSeconds = Number(value());
      if (!(quickstartTimeoutSeconds > 0)) throw new UsageError(`--quickstart-timeout must be a positive number of seconds\n${USAGE}`);
    } else if (flag === '--help' || flag === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new UsageError(`unknown option ${arg}\n${USAGE}`);
  }
  return { quick, only, ...(quickstartTimeoutSeconds === undefined ? {} : { quickstartTimeoutSeconds }) };
};

/** Pins a process to one CPU when `taskset` exists (the transform figure is per core). */
const pinCommand = (): string[] => (spawnSync('taskset', ['-c', '0', 'true']).status === 0 ? ['taskset', '-c', '0'] : []);

/** Runs one stage in a child process and collects its report. */
const runStage = <R>(name: StageName, options: unknown, pin: boolean): Promise<StageOutcome<R>> => {
  const before = os.loadavg()[0] as number;
  const prefix = pin ? pinCommand() : [];
  const command = [...prefix, process.execPath, '--import', 'tsx', join(BENCH_DIR, 'stage-child.ts'), name, JSON.stringify(options)];
  process.stderr.write(`\n▶ ${name}${prefix.length > 0 ? ' (pinned to one CPU)' : ''}\n`);
  return new Promise((resolve) => {
    const child = spawn(command[0] as string, command.slice(1), { cwd: join(BENCH_DIR, '..'), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let report: StageReport<R> | undefined;
    child.on('message', (message) => {
      report = message as StageReport<R>;
    });
    child.on('error', (error) => resolve({ error: error.message, loadAverage: { before, after: os.loadavg()[0] as number } }));
    child.on('exit', (code, signal) => {
      const after = os.loadavg()[0] as number;
      if (report) resolve({ report, loadAverage: { before, after } });
      else resolve({ error: `the ${name} stage exited with ${signal ?? `code ${code}`} before reporting (see its output above)`, loadAverage: { before, after } });
    });
  });
};

const main = async (): Promise<void> => {
  const args = parseArgs(process.argv.slice(2));
  const base: BenchPlan = args.quick ? QUICK : FULL;
  const plan: BenchPlan = {
    ...base,
    merge: { ...base.merge, ...(args.quickstartTimeoutSeconds === undefined ? {} : { quickstartTimeoutSeconds: args.quickstartTimeoutSeconds }) },
  };
  mkdirSync(DATA_DIR, { recursive: true });
  const cpus = os.cpus();
  const results: { -readonly [K in keyof BenchResults]: BenchResults[K] } = {
    mode: plan.mode,
    machine: {
      cores: cpus.length,
      model: cpus[0]?.model.trim() ?? 'unknown CPU',
      memoryBytes: os.totalmem(),
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      duckdb: duckdbVersion(),
      date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    },
  };
  process.stderr.write(`claims-cdc bench (${plan.mode}): ${args.only.join(', ')} on ${results.machine.cores} cores, ${(results.machine.memoryBytes / 1024 ** 3).toFixed(1)} GiB\n`);
  const started = Date.now();
  if (args.only.includes('transform')) results.transform = await runStage('transform', plan.transform, true);
  if (args.only.includes('merge')) results.merge = await runStage('merge', plan.merge, false);
  if (args.only.includes('load')) results.load = await runStage('load', plan.load, false);
  if (args.only.includes('e2e')) results.e2e = await runStage('e2e', plan.e2e, false);
  // CLI start time: only spawns, so it runs here rather than in a stage child.
  let cliError: string | undefined;
  const cli = args.only.includes('cli')
    ? await runCliStart(plan.cli, GOALS.cliHelpMs).catch((error: unknown) => {
        cliError = error instanceof Error ? error.message : String(error);
        return undefined;
      })
    : undefined;

  const markdown = [resultsMarkdown(results), ...(cli ? ['', cliStartMarkdown(cli)] : cliError ? ['', `## CLI start\n\ncould not run: ${cliError}`] : [])].join('\n');
  // Quick and partial runs must not overwrite the published results.
  const complete = plan.mode === 'full' && args.only.length === STAGES.length;
  const outDir = complete ? BENCH_DIR : DATA_DIR;
  const suffix = complete ? '' : plan.mode === 'quick' ? '-quick' : '-partial';
  writeFileSync(join(outDir, `results${suffix}.md`), `${markdown}\n`);
  writeFileSync(join(outDir, `results${suffix}.json`), `${JSON.stringify(cli ? { ...results, cli } : results, null, 2)}\n`);
  const freshness = results.e2e?.report?.result.freshness ?? [];
  const subtitle = `${results.machine.cores} cores, embedded stack, ${plan.e2e.mergeIntervalMs / 1000} s merge interval, ${results.machine.date.slice(0, 10)}`;
  writeFileSync(join(outDir, `freshness${suffix}.svg`), freshnessSvg(freshness, { p99Seconds: GOALS.freshnessP99Seconds, rate: GOALS.freshnessRate }, subtitle));

  process.stdout.write(`\n${markdown}\n`);
  process.stderr.write(`\nwrote ${join(outDir, `results${suffix}.md`)}, results${suffix}.json, freshness${suffix}.svg in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  const failed = [...STAGES.filter((s) => s !== 'cli' && results[s]?.error !== undefined), ...(cliError === undefined ? [] : ['cli'])];
  if (failed.length > 0) {
    process.stderr.write(`stages that could not run: ${failed.join(', ')}\n`);
    process.exitCode = 1;
  }
};

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof UsageError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
