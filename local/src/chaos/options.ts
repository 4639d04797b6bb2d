/** The chaos harness's options and fault names. */

/** Every fault the harness can inject (see docs/chaos.md for what each does). */
export const FAULTS = [
  'kinesis-dup',
  'sqs-dup',
  'reorder',
  'load-crash',
  'merge-crash',
  'merge-concurrent',
  'transform-partial',
  'poison',
  'oversized',
  'oversized-remove',
  'exotic-values',
  'precision-switch',
  'stack-kill',
  'backfill',
] as const;

export type Fault = (typeof FAULTS)[number];

const KNOWN: readonly string[] = FAULTS;

/** Where the change events come from. */
export type SourceKind = 'dynamodb' | 'direct';

export interface ChaosOptions {
  /** Change events (INSERT/MODIFY/REMOVE) the workload makes; poison records come on top. */
  events: number;
  /** Distinct claims the workload inserts (and modifies and removes). */
  claims: number;
  seed: number;
  faults: ReadonlySet<Fault>;
  shards: number;
  /**
   * `dynamodb`: writes go to DynamoDB through the capture (the real path; ~160 writes/s here).
   * `direct`: the harness keeps the items itself and puts the exact DynamoDB→Kinesis records on the stream.
   */
  source: SourceKind;
  /** Parallel writers (dynamodb source). */
  writers: number;
  /** State directory (default: a fresh temporary one, removed after a passing run unless `keep`). */
  stateDir?: string;
  keep: boolean;
  /** Load queue visibility timeout for the run, seconds (how soon a crashed load is redelivered). */
  visibilityTimeoutSeconds: number;
  /** Progress lines on stderr every N ms (0: none). */
  progressMs: number;
  /** Give up draining when nothing moved for this long (a hang is reported as a failed check, not waited out). */
  stallTimeoutMs: number;
}

export const DEFAULTS = {
  events: 2000,
  claims: 200,
  seed: 1,
  shards: 4,
  writers: 10,
  visibilityTimeoutSeconds: 5,
  progressMs: 10_000,
  stallTimeoutMs: 120_000,
} as const;

/** Parses `a,b,c`, `all`, `none`, `all,-poison`. */
export function parseFaults(text: string): Set<Fault> {
  const out = new Set<Fault>();
  for (const raw of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const remove = raw.startsWith('-');
    const name = remove ? raw.slice(1) : raw;
    const names: readonly Fault[] = name === 'all' ? FAULTS : name === 'none' ? [] : [name as Fault];
    for (const n of names) {
      if (!KNOWN.includes(n)) throw new Error(`unknown fault '${n}'; known: ${KNOWN.join(', ')}, all, none`);
      if (remove) out.delete(n);
      else out.add(n);
    }
  }
  return out;
}
