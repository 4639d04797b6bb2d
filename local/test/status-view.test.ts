/** `claims-cdc status` as text: every stage on its line, the freshness of the last minute, sparklines. */
import type { PipelineStatus } from '../src/inspect/pipeline-status';
import { sparkline, statusLines, type StatusViewInput } from '../src/inspect/status-view';

const pipeline: PipelineStatus = {
  takenAt: 0,
  items: 30,
  captured: 31,
  capturePending: 2,
  onStream: 7,
  transformPending: 3,
  transformInFlight: { calls: 1, records: 3 },
  loadInFlight: { calls: 1, messages: 2 },
  inStream: 12,
  streamBehindMs: 1_500,
  shards: [
    { shardId: 'shardId-000000000000', millisBehindLatest: 1_500 },
    { shardId: 'shardId-000000000001', millisBehindLatest: 0 },
  ],
  queues: { load: 4, loadDlq: 1, quarantine: 0, transformFailure: 2 },
  loadQueue: 4,
  staged: 5,
  history: 15,
  destination: 10,
  tombstones: 0,
  quarantined: 0,
  deadLettered: 3,
  oldestUnmergedAgeSeconds: 1.25,
  failedInvocations: 0,
  mergeRunning: false,
  merges: 4,
  lastMerge: { events: 5, freshness: null },
};
const input: StatusViewInput = { pipeline, stack: 'running', tableName: 'InsuranceClaims', warehouse: 'duckdb' };
const text = (over: Partial<StatusViewInput> = {}) => statusLines({ ...input, ...over }).join('\n');

describe('status as text', () => {
  it.each([
    ['capture', /^capture +2 changes accepted by DynamoDB, not on the stream yet$/m],
    ['stream', /^stream +7 records not read by the transform yet \(since this stack started\); behind per shard: shard 0 1\.5 s, shard 1 0 ms$/m],
    ['transform', /^transform +3 records read, not done; 1 call in flight \(3 records\)$/m],
    ['load queue', /^load queue +4 messages \(rows packed several to one\); 1 load call in flight \(2 messages\)$/m],
    ['dead letters', /^dead letters +load DLQ 1 message · transform on-failure 2 batches$/m],
    ['staged', /^staged +5 rows not merged yet$/m],
    ['history', /^history +15 rows$/m],
    ['destination', /^destination +10 rows$/m],
    ['quarantined', /^quarantined +0 messages$/m],
    ['lag', /^lag +1\.5 s$/m],
  ])('shows the %s stage', (_stage, line) => {
    expect(text()).toMatch(line);
  });

  it('points at `quarantine list` when something is quarantined', () => {
    expect(text({ pipeline: { ...pipeline, quarantined: 2 } })).toMatch(/^quarantined +2 messages \(claims-cdc quarantine list shows them\)$/m);
  });

  it('shows the freshness of the last minute, says when none is known, and marks an estimate', () => {
    expect(text({ freshness: { p50Ms: 800, p99Ms: 2_400, maxMs: 3_000, runs: 3, events: 120, estimated: false } })).toMatch(
      /^freshness +last minute p50 800 ms · p99 2\.4 s · max 3\.0 s \(3 merges, 120 events\)$/m,
    );
    expect(text({ freshness: { p50Ms: 800, p99Ms: 800, maxMs: 800, runs: 1, events: 5, estimated: true } })).toMatch(/\(1 merge, 5 events, ≈ from the oldest event of each merge\)$/m);
    expect(text({ freshness: null })).toMatch(/^freshness +no merge in the last minute$/m);
    expect(text()).toMatch(/^freshness +- \(kept by the stack `claims-cdc up` runs\)$/m);
  });

  it('says a real stream has only its lag', () => {
    expect(text({ pipeline: { ...pipeline, captured: null, onStream: null } })).toMatch(/^stream +behind by 1\.5 s \(a real stream: only its lag is known\)/m);
  });

  it('draws sparklines scaled to their maximum', () => {
    expect(sparkline([0, 1, 2, 4, 8])).toBe('▁▂▃▅█');
    expect(sparkline([0, 0, 0])).toBe('▁▁▁');
    expect(sparkline(Array.from({ length: 50 }, (_, i) => i), 10)).toHaveLength(10);
    expect(text({ spark: { throughput: [0, 5, 10], lag: [2, 1, 0] } })).toMatch(/^throughput +▁▅█ 10\.0 events\/s loaded$/m);
  });
});
