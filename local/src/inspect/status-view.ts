/**
 * `claims-cdc status` as text: one row per stage, left to right through the pipeline, and (with `--watch`) sparklines
 * of throughput and lag. Counts, ids of nothing, never a claim's contents.
 */
import { lagSeconds, type PipelineStatus } from './pipeline-status';

/** The freshness of the last minute, as the live page's sampler reports it. */
export interface FreshnessLine {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  runs: number;
  events: number;
  estimated: boolean;
}

/** What the status text is made of. */
export interface StatusViewInput {
  pipeline: PipelineStatus;
  /** `running, pid …` and the like. */
  stack: string;
  tableName: string;
  warehouse: string;
  /** Freshness of the last minute: undefined when the stack keeps none (not started by `up`), null when nothing merged. */
  freshness?: FreshnessLine | null;
  /** Recent throughput (events/s into the warehouse) and lag (s), oldest first, for sparklines. */
  spark?: { throughput: readonly number[]; lag: readonly number[] };
}

const BARS = '▁▂▃▄▅▆▇█';

/** A sparkline of the last `width` values, scaled to their maximum (all lowest when everything is 0). */
export function sparkline(values: readonly number[], width = 30): string {
  const last = values.slice(-width);
  const max = Math.max(0, ...last);
  return last.map((v) => BARS[max <= 0 ? 0 : Math.min(BARS.length - 1, Math.round((Math.max(0, v) / max) * (BARS.length - 1)))]).join('');
}

const ms = (value: number): string => (value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`);
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function streamRows(p: PipelineStatus): [string, string][] {
  const shards = p.shards.map((s) => `${s.shardId.replace(/^shardId-0*(?=\d)/, 'shard ')} ${s.millisBehindLatest === null ? '-' : ms(s.millisBehindLatest)}`).join(', ');
  const onStream =
    p.onStream === null
      ? `behind by ${ms(p.streamBehindMs)} (a real stream: only its lag is known)`
      : `${p.onStream} records not read by the transform yet (since this stack started)`;
  return [
    ...(p.captured === null ? [] : [['captured', `${p.captured} changes put on the stream since the stack started`] as [string, string]]),
    ['capture', `${p.capturePending} changes accepted by DynamoDB, not on the stream yet`],
    ['stream', `${onStream}${shards ? `; behind per shard: ${shards}` : ''}`],
    ['transform', `${p.transformPending} records read, not done; ${plural(p.transformInFlight.calls, 'call')} in flight (${p.transformInFlight.records} records)`],
  ];
}

function freshnessRow(freshness: FreshnessLine | null | undefined): string {
  if (freshness === undefined) return '- (kept by the stack `claims-cdc up` runs)';
  if (freshness === null) return 'no merge in the last minute';
  const how = freshness.estimated ? ', ≈ from the oldest event of each merge' : '';
  return `last minute p50 ${ms(freshness.p50Ms)} · p99 ${ms(freshness.p99Ms)} · max ${ms(freshness.maxMs)} (${plural(freshness.runs, 'merge')}, ${freshness.events} events${how})`;
}

/** The status as aligned `stage  value` lines. */
export function statusLines(input: StatusViewInput): string[] {
  const p = input.pipeline;
  const q = p.queues;
  const rows: [string, string][] = [
    ['stack', input.stack],
    ['DynamoDB', `${p.items} items in ${input.tableName}`],
    ...streamRows(p),
    ['load queue', `${q.load} messages (rows packed several to one); ${plural(p.loadInFlight.calls, 'load call')} in flight (${p.loadInFlight.messages} messages)`],
    ['dead letters', `load DLQ ${plural(q.loadDlq, 'message')} · transform on-failure ${plural(q.transformFailure, 'batch', 'batches')}`],
    ['staged', `${p.staged} rows not merged yet`],
    ['history', `${p.history} rows`],
    ['destination', `${p.destination} rows`],
    ['quarantined', `${p.quarantined} messages${p.quarantined > 0 ? ' (claims-cdc quarantine list shows them)' : ''}`],
    ['oldest unmerged', p.oldestUnmergedAgeSeconds === null ? '- (nothing staged)' : `${p.oldestUnmergedAgeSeconds.toFixed(1)} s`],
    ['lag', `${lagSeconds(p).toFixed(1)} s`],
    ['freshness', freshnessRow(input.freshness)],
    ...(p.failedInvocations > 0 ? [['failed invocations', String(p.failedInvocations)] as [string, string]] : []),
    ...(input.spark
      ? [
          ['throughput', `${sparkline(input.spark.throughput)} ${(input.spark.throughput.at(-1) ?? 0).toFixed(1)} events/s loaded`] as [string, string],
          ['lag trend', `${sparkline(input.spark.lag)} ${(input.spark.lag.at(-1) ?? 0).toFixed(1)} s`] as [string, string],
        ]
      : []),
    ['warehouse', input.warehouse],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
}
