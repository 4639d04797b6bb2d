/**
 * `npm run chaos -- [--events N] [--claims K] [--seed S] [--faults a,b,c] [--shards N] [--source dynamodb|direct]
 * [--json] ...`: one seeded chaos run; prints the result table (or one JSON line) and exits 0 only when every check
 * held (1 on a miss, 2 on bad arguments).
 */
import { spawn } from 'node:child_process';
import { getHeapStatistics } from 'node:v8';
import { parseArgs } from 'node:util';
import { DEFAULTS, FAULTS, parseFaults, type ChaosOptions, type SourceKind } from './options';
import { formatReport } from './report';
import { BACKFILL_NEEDS_DYNAMODB, runChaos } from './run';

const HELP = `Usage: npm run chaos -- [options]

A seeded workload of INSERT/MODIFY/REMOVE with rapid same-claim bursts through the embedded stack and the real
handlers, with faults injected; then it drains and checks that nothing was lost, duplicated, resurrected or leaked.

  --events N            change events (default ${DEFAULTS.events})
  --claims K            distinct claims (default ${DEFAULTS.claims})
  --seed S              workload seed (default ${DEFAULTS.seed})
  --faults LIST         comma-separated, 'all' (default), 'none', or 'all,-poison'; known:
                        ${FAULTS.join(', ')}
                        (exotic-values: unknown attributes with 38-digit numbers, sets, binary, null, empty
                        and nested values, and 38-digit known numbers, each compared digit for digit;
                        precision-switch: record times switch between microseconds, milliseconds and no
                        precision field mid-stream; poison includes impossible dates, a 20-digit zip,
                        mislabelled precisions and a malformed number; stack-kill: the stack is killed
                        — nothing flushed or finished — during the writes, inside a merge transaction and
                        during the drain, and started again on the same state directory; backfill: 20 % of
                        the claims written untracked before the run, a backfill started after 30 % of the
                        events, crashed once and resumed (dynamodb source only: 'all' leaves it out with
                        --source direct); see docs/chaos.md)
  --shards N            Kinesis shards (default ${DEFAULTS.shards})
  --source KIND         dynamodb (default): writes go through DynamoDB and the capture (40–160 writes/s here);
                        direct: the harness keeps the items and puts DynamoDB's exact stream records itself,
                        so DynamoDB is out of the hot path (for runs of 100k+ events); see docs/chaos.md
  --writers N           parallel DynamoDB writers (default ${DEFAULTS.writers})
  --visibility-timeout S  load queue visibility timeout for the run (default ${DEFAULTS.visibilityTimeoutSeconds})
  --state-dir DIR       keep the stack's files here (default: a temporary directory, removed after a pass)
  --keep                keep the temporary state directory after a pass too
  --json                print the report as one JSON line
  --quiet               no progress lines on stderr
Handler logs are off unless POWERTOOLS_LOG_LEVEL is set (e.g. POWERTOOLS_LOG_LEVEL=DEBUG).`;

class UsageError extends Error {}

function positive(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, got '${value}'`);
  return n;
}

function parse(argv: string[]): { options: ChaosOptions; json: boolean } | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        events: { type: 'string' },
        claims: { type: 'string' },
        seed: { type: 'string' },
        faults: { type: 'string' },
        shards: { type: 'string' },
        source: { type: 'string' },
        writers: { type: 'string' },
        'visibility-timeout': { type: 'string' },
        'state-dir': { type: 'string' },
        keep: { type: 'boolean' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]);
  }
  if (values.help) return 'help';
  const source = (values.source ?? 'dynamodb') as SourceKind;
  if (source !== 'dynamodb' && source !== 'direct') throw new UsageError(`--source must be dynamodb or direct, got '${values.source}'`);
  let faults;
  try {
    faults = parseFaults(values.faults ?? 'all');
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (source === 'direct' && faults.has('backfill')) {
    // `all` means every fault the source can take; naming backfill with a direct source is a mistake.
    if ((values.faults ?? '').split(',').some((f) => f.trim() === 'backfill')) throw new UsageError(BACKFILL_NEEDS_DYNAMODB);
    faults.delete('backfill');
  }
  const seed = values.seed === undefined ? DEFAULTS.seed : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer, got '${values.seed}'`);
  const shards = positive(values.shards, 'shards', DEFAULTS.shards);
  if (shards > 64) throw new UsageError('--shards must be at most 64');
  return {
    json: Boolean(values.json),
    options: {
      events: positive(values.events, 'events', DEFAULTS.events),
      claims: positive(values.claims, 'claims', DEFAULTS.claims),
      seed,
      faults,
      shards,
      source,
      writers: positive(values.writers, 'writers', DEFAULTS.writers),
      ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
      keep: Boolean(values.keep),
      visibilityTimeoutSeconds: positive(values['visibility-timeout'], 'visibility-timeout', DEFAULTS.visibilityTimeoutSeconds),
      progressMs: values.quiet ? 0 : DEFAULTS.progressMs,
      stallTimeoutMs: DEFAULTS.stallTimeoutMs,
    },
  };
}

/**
 * Kinesalite keeps every record in the process's heap, so a long direct run needs more than Node's default heap:
 * re-run this same command in a child with a larger one (once; the child is marked).
 */
function needsBiggerHeap(options: ChaosOptions): boolean {
  return options.events >= 200_000 && !process.env.CLAIMS_CDC_CHAOS_HEAP && getHeapStatistics().heap_size_limit < 12 * 1024 ** 3;
}

function rerunWithHeap(): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, '--max-old-space-size=16384', process.argv[1] as string, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, CLAIMS_CDC_CHAOS_HEAP: '1' },
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  process.on('SIGINT', forward('SIGINT'));
  process.on('SIGTERM', forward('SIGTERM'));
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parse(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`chaos: ${error.message}\n${HELP}\n`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const { options, json } = parsed;
  if (needsBiggerHeap(options)) return rerunWithHeap();
  if (options.source === 'dynamodb' && options.events > 50_000) {
    process.stderr.write(`chaos: ${options.events} events through DynamoDB and the capture take about ${Math.ceil(options.events / 160 / 60)} min here; --source direct is made for long runs\n`);
  }
  const report = await runChaos(options, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(json ? `${JSON.stringify({ chaosReport: report })}\n` : `${formatReport(report)}\n`);
  return report.passed ? 0 : 1;
}

// The run's state directory holds the generated claims' PHI (the warehouse, its WAL, the logs, the quarantine), and
// DuckDB and the emulators create their files with no mode option: owner-only, whatever the user's umask.
process.umask(0o077);
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Handler modules keep SDK clients with keep-alive sockets; the run is over.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (error: unknown) => {
    process.stderr.write(`chaos: ${error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error)}\n`);
    process.exit(1);
  },
);
