/**
 * CLI start time (issue 14): `claims-cdc --help`, and `claims-cdc status --state-dir <empty dir>` (which answers "no
 * stack running" without one), each spawned through the bin as a user runs it, against `node -e 0` — the floor,
 * starting Node itself. The compiled path (local/dist) is what users get; the TypeScript path through tsx (what every
 * start cost before, and what the bin falls back to when local/dist is stale) is measured beside it.
 * local/dist is rebuilt first (as `npm ci` builds it). Median wall time of N spawns, one after another. Runs in the
 * parent process: it only spawns.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median } from '../measure';

/** Sizes of the stage. */
export interface CliStartOptions {
  /** Spawns per command on the compiled path (and for `node -e 0`). */
  readonly runs: number;
  /** Spawns per command on the tsx path (slow: a few). */
  readonly sourceRuns: number;
}

/** Median milliseconds of one command line. */
export interface CliStartTiming {
  readonly command: string;
  readonly medianMs: number;
  readonly runsMs: number[];
}

/** What the stage measured. */
export interface CliStartResult {
  /** `node -e 0`. */
  readonly node: CliStartTiming;
  /** Through the bin on local/dist. */
  readonly compiled: CliStartTiming[];
  /** Through the bin with CLAIMS_CDC_FROM_SOURCE=1 (tsx). */
  readonly source: CliStartTiming[];
  /** Set when the bin did not use local/dist (its stderr line): the compiled figures are then not what users get. */
  readonly compiledFallback?: string;
  readonly goalHelpMs: number;
  /** One-minute load average before and after, and the cores: start times on a busy machine are not the CLI's. */
  readonly loadAverage: { before: number; after: number; cores: number };
}

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(REPO_ROOT, 'local', 'bin', 'claims-cdc.js');

/** Spawns `argv` `runs` times; checks each run with `check` (a wrong answer is not a start time). */
function time(label: string, argv: readonly string[], runs: number, env: NodeJS.ProcessEnv, check: (out: string, err: string, code: number | null) => string | undefined): CliStartTiming & { stderr: string } {
  const runsMs: number[] = [];
  let stderr = '';
  for (let i = 0; i < runs; i += 1) {
    const started = process.hrtime.bigint();
    const child = spawnSync(process.execPath, argv, { cwd: REPO_ROOT, env, encoding: 'utf8' });
    runsMs.push(Number(process.hrtime.bigint() - started) / 1e6);
    const wrong = check(child.stdout, child.stderr, child.status);
    if (wrong) throw new Error(`${label}: ${wrong}\n${child.stderr.slice(-2000)}`);
    stderr = child.stderr;
  }
  return { command: label, medianMs: median(runsMs), runsMs: runsMs.map((ms) => Math.round(ms * 10) / 10), stderr };
}

/** Runs the stage. */
export async function runCliStart(options: CliStartOptions, goalHelpMs: number): Promise<CliStartResult> {
  // What users get after `npm ci`: a current local/dist (a source edited since would send the bin to tsx).
  const build = spawnSync(process.execPath, [path.join(REPO_ROOT, 'local', 'bin', 'dist.js')], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`building local/dist failed: ${build.stderr.trim().split('\n').slice(-3).join(' ')}`);
  const empty = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-bench-cli-'));
  const before = os.loadavg()[0] as number;
  try {
    const base = { ...process.env };
    delete base.CLAIMS_CDC_FROM_SOURCE;
    const helpOk = (out: string, _err: string, code: number | null) => (code === 0 && /Commands:/.test(out) ? undefined : `--help exited ${code} without the command list`);
    const statusOk = (_out: string, err: string, code: number | null) => (code === 1 && /no stack running/.test(err) ? undefined : `status exited ${code} without "no stack running"`);
    const commands = [
      { label: 'claims-cdc --help', args: ['--help'], check: helpOk },
      { label: 'claims-cdc status --state-dir EMPTY', args: ['status', '--state-dir', empty], check: statusOk },
    ];
    const node = time('node -e 0', ['-e', '0'], options.runs, base, (_o, _e, code) => (code === 0 ? undefined : `exited ${code}`));
    const compiled = commands.map((c) => time(c.label, [BIN, ...c.args], options.runs, base, c.check));
    const fallback = compiled.map((c) => c.stderr.split('\n')[0] ?? '').find((line) => line.startsWith('claims-cdc: local/dist'));
    const source = commands.map((c) => time(c.label, [BIN, ...c.args], options.sourceRuns, { ...base, CLAIMS_CDC_FROM_SOURCE: '1' }, c.check));
    const strip = ({ stderr: _stderr, ...timing }: CliStartTiming & { stderr: string }): CliStartTiming => timing;
    return { node: strip(node), compiled: compiled.map(strip), source: source.map(strip), ...(fallback ? { compiledFallback: fallback } : {}), goalHelpMs, loadAverage: { before, after: os.loadavg()[0] as number, cores: os.cpus().length } };
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
}

const ms = (value: number): string => `${Math.round(value)} ms`;

/** The stage as a markdown section (goal printed, never asserted). */
export function cliStartMarkdown(result: CliStartResult): string {
  const rows = result.compiled.map((c, i) => {
    const source = result.source[i];
    return `| \`${c.command}\` | ${ms(c.medianMs)} | ${ms(c.medianMs - result.node.medianMs)} | ${source ? ms(source.medianMs) : '-'} |`;
  });
  const help = result.compiled[0]?.medianMs ?? Number.NaN;
  return [
    '## CLI start',
    '',
    `Median wall time of ${result.compiled[0]?.runsMs.length ?? 0} spawns through local/bin/claims-cdc.js; \`node -e 0\` (starting Node alone) took ${ms(result.node.medianMs)}.`,
    '',
    '| command | compiled (local/dist) | over `node -e 0` | TypeScript through tsx |',
    '| --- | ---: | ---: | ---: |',
    ...rows,
    '',
    `Goal: \`claims-cdc --help\` under ${ms(result.goalHelpMs)} on a quiet machine — ${help < result.goalHelpMs ? 'met' : 'NOT met'} (${ms(help)}).`,
    ...(result.loadAverage.before > result.loadAverage.cores || result.loadAverage.after > result.loadAverage.cores
      ? ['', `⚠ the machine was busy (load average ${result.loadAverage.before.toFixed(1)} → ${result.loadAverage.after.toFixed(1)} on ${result.loadAverage.cores} cores): every figure, \`node -e 0\` included, is inflated; the column over \`node -e 0\` is the CLI's own share.`]
      : []),
    ...(result.compiledFallback ? ['', `⚠ the bin did not use local/dist (${result.compiledFallback}): run \`npm run build\` and measure again.`] : []),
  ].join('\n');
}
