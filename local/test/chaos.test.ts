/**
 * The chaos harness, small, inside `npm test`: a few hundred events with every fault on, in a child process (the
 * real handlers keep the environment of the first stack they were imported for), with ALL logging turned on —
 * DEBUG logs, event logging requested, EMF metrics printed — and every line the process writes captured. It must
 * pass every check, and no line may hold a PHI value of the claims it wrote (regenerated here from the seed with
 * the shared generator).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Claim, itemJson, TABLES } from '@claims-cdc/shared';
import { marshallImage } from '@claims-cdc/shared/test-support/change-records';
import { phiFinder, phiValues } from '@claims-cdc/shared/test-support/phi';
import { canonicalJson } from '../src/chaos/exact-json';
import type { ChaosReport } from '../src/chaos/run';
import { FAULTS } from '../src/chaos/options';
import { phiSources, UNTRACKED_SHARE, Workload } from '../src/chaos/workload';
import { killAllTsChildren, REPO_ROOT, startTsChild, type TsChild } from './support/ts-child';
import { openTestWarehouse } from '@claims-cdc/shared/test-support/warehouse';

const CLI = path.join(REPO_ROOT, 'local', 'src', 'chaos', 'cli.ts');
const RUN = { events: 300, claims: 40, seed: 7 };

/**
 * Both sources: through DynamoDB (every fault, the backfill's untracked claims included), and put straight on the
 * stream (`--source direct`, what the long runs use: every fault but the backfill, which needs DynamoDB).
 */
const SOURCES = [
  { source: 'dynamodb', faults: [...FAULTS], backfill: true },
  { source: 'direct', faults: FAULTS.filter((fault) => fault !== 'backfill'), backfill: false },
] as const;

describe.each(SOURCES)('npm run chaos, small, every fault on, all logging captured (source $source)', ({ source, faults, backfill }) => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-chaos-test-'));
  let harness: TsChild | undefined;
  let result: { code: number | null; stdout: string; stderr: string };
  let report: ChaosReport;

  beforeAll(async () => {
    // Act
    harness = startTsChild(
      CLI,
      ['--events', String(RUN.events), '--claims', String(RUN.claims), '--seed', String(RUN.seed), '--faults', 'all', '--source', source, '--json', '--state-dir', stateDir],
      {
        POWERTOOLS_LOG_LEVEL: 'DEBUG',
        POWERTOOLS_LOGGER_LOG_EVENT: 'true',
        POWERTOOLS_METRICS_DISABLED: 'false',
        POWERTOOLS_DEV: 'false',
      },
    );
    const code = await harness.exited;
    result = { code, stdout: harness.stdout(), stderr: harness.stderr() };
    const line = result.stdout.split('\n').find((l) => l.startsWith('{"chaosReport":'));
    if (!line) throw new Error(`the harness printed no report (exit ${result.code})\n--- stderr\n${result.stderr.slice(-4000)}`);
    report = (JSON.parse(line) as { chaosReport: ChaosReport }).chaosReport;
  }, 300_000);

  afterAll(() => {
    killAllTsChildren();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('passes every check and exits 0', () => {
    // Assess
    const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.name}: expected ${c.expected}, got ${c.actual} ${(c.details ?? []).join('; ')}`);
    expect(failed).toEqual([]);
    expect(report.error).toBeUndefined();
    expect(report.passed).toBe(true);
    expect(result.code).toBe(0);
  });

  it('ran the workload it was asked for with every fault injected', () => {
    // Assess
    expect(report.options.faults).toEqual([...faults]);
    expect(report.workload.INSERT + report.workload.MODIFY + report.workload.REMOVE).toBe(RUN.events);
    expect(report.workload.bursts).toBeGreaterThan(0);
    expect(report.checks.find((c) => c.name.startsWith('every enabled fault'))?.ok).toBe(true);
    expect(report.faults.mergeCrashesRolledBack).toBe(report.faults.mergeCrashes);
    expect(report.faults.poisonInjected).toBeGreaterThanOrEqual(7);
  });

  it('left in the warehouse what its operations, replayed here from the seed, leave in DynamoDB (read without the harness checks)', async () => {
    // Prepare: the run's operations, regenerated from its seed (every fault on: poison, both oversized scenarios,
    // exotic values, and the claims written untracked before the run for the backfill), applied here to a map of items
    // that starts with the untracked ones; what the warehouse holds is read straight from the run's DuckDB file.
    const workload = new Workload({ events: RUN.events, claims: RUN.claims, seed: RUN.seed, poison: true, oversized: true, oversizedRemove: true, exoticValues: true, untrackedShare: backfill ? UNTRACKED_SHARE : 0 });
    const ops = [...workload.ops()];
    const items = new Map<string, Claim>(workload.untracked.map((item) => [item.claim_id, item]));
    // Untracked claims the workload never writes: only the backfill can bring them.
    const cold = workload.untracked.map((item) => item.claim_id).filter((id) => !ops.some((op) => op.kind !== 'POISON' && op.claimId === id));
    const removed = new Set<string>();
    for (const op of ops) {
      if (op.kind === 'INSERT' || op.kind === 'MODIFY') items.set(op.claimId, op.after);
      if (op.kind === 'REMOVE') {
        items.delete(op.claimId);
        removed.add(op.claimId);
      }
    }
    const eventsOf = (kind: string) => ops.filter((op) => op.kind === kind).length;
    // A MODIFY that makes an item too large for a queue message is quarantined; every other change reaches history.
    const oversized = ops.filter((op) => op.kind === 'MODIFY' && op.oversized).length;
    const warehouse = await openTestWarehouse({ path: path.join(stateDir, 'warehouse.duckdb') });
    let destination: Record<string, unknown>[];
    let tombstones: Record<string, unknown>[];
    let history: Record<string, unknown>[];
    let staged: Record<string, unknown>[];
    let snapshots: Record<string, unknown>[];
    try {
      // Act
      destination = await warehouse.query(`SELECT claimId, claimStatus, paymentStatus, totalCharge, rawImage FROM ${TABLES.destination}`);
      tombstones = await warehouse.query(`SELECT claimId FROM ${TABLES.tombstones}`);
      history = await warehouse.query(`SELECT eventName, COUNT(*) AS n, COUNT(DISTINCT eventId) AS ids FROM ${TABLES.history} GROUP BY eventName ORDER BY eventName`);
      staged = await warehouse.query(`SELECT COUNT(*) AS n FROM ${TABLES.staging}`);
      snapshots = await warehouse.query(`SELECT claimId, COUNT(*) AS n, COUNT(DISTINCT eventId) AS ids FROM ${TABLES.history} WHERE eventName = 'SNAPSHOT' GROUP BY claimId`);
    } finally {
      await warehouse.close();
    }
    // Assess: the replay is the run (every claim inserted, some removed, two items grown past the limit)...
    expect(items.size + removed.size).toBe(40);
    expect(removed.size).toBeGreaterThan(0);
    expect(oversized).toBe(2);
    expect([...items.values()].filter((item) => 'ledger_ref' in item).length).toBeGreaterThan(0);
    expect(cold.length > 0).toBe(backfill);
    // ...the destination holds exactly the live items, each with the columns and raw image of its last version
    // (mismatches are reported by claim id: the values are PHI)...
    const ids = destination.map((row) => String(row.claimId)).sort();
    expect(ids).toEqual([...items.keys()].sort());
    const differing = destination
      .filter((row) => {
        const item = items.get(String(row.claimId)) as Claim;
        return (
          row.claimStatus !== item.claim_status ||
          row.paymentStatus !== item.payment_status ||
          // A 38-digit total (exotic values) is a NumberValue in the model; the FLOAT column holds its double.
          Number(row.totalCharge) !== Number(String(item.total_charge)) ||
          // The raw image digit for digit: the item as DynamoDB JSON (NumberValue keeps its digits), its exact JSON,
          // both sides with keys sorted and every number's text kept (JSON.parse would round 38-digit numbers).
          canonicalJson(String(row.rawImage)) !== canonicalJson(itemJson(marshallImage(item)))
        );
      })
      .map((row) => String(row.claimId));
    expect(differing).toEqual([]);
    // ...every removed claim is tombstoned and nothing else is; history holds each event once; staging is empty.
    expect(tombstones.map((row) => String(row.claimId)).sort()).toEqual([...removed].sort());
    const snapshotHistory = history.find((row) => row.eventName === 'SNAPSHOT');
    expect(history.filter((row) => row.eventName !== 'SNAPSHOT').map((row) => ({ eventName: row.eventName, n: Number(row.n), ids: Number(row.ids) }))).toEqual([
      { eventName: 'INSERT', n: eventsOf('INSERT'), ids: eventsOf('INSERT') },
      { eventName: 'MODIFY', n: eventsOf('MODIFY') - oversized, ids: eventsOf('MODIFY') - oversized },
      { eventName: 'REMOVE', n: eventsOf('REMOVE'), ids: eventsOf('REMOVE') },
    ]);
    // ...and the backfill's snapshots: each event once, the untracked claims nothing else wrote among them (how many
    // reads each claim got depends on timing: a page read again after the crash, a claim moved to a later page).
    // (The direct source has no table to snapshot: no SNAPSHOT event at all.)
    expect(snapshotHistory === undefined).toBe(!backfill);
    expect(Number(snapshotHistory?.n ?? 0)).toBe(Number(snapshotHistory?.ids ?? 0));
    const snapshotted = new Set(snapshots.map((row) => String(row.claimId)));
    expect(cold.filter((id) => !snapshotted.has(id))).toEqual([]);
    expect(snapshots.every((row) => Number(row.n) === Number(row.ids))).toBe(true);
    expect(Number(staged[0]?.n)).toBe(0);
  });

  it('wrote no generated PHI value (names, emails, phones, birth dates, streets, member ids) in any output line', () => {
    // Prepare: every PHI value the workload could have written, from the seed, with the shared generator.
    const { claims, contacts } = phiSources(RUN.seed, RUN.claims);
    const values = phiValues([...claims, ...contacts]);
    const find = phiFinder(values);
    const lines = `${result.stdout}\n${result.stderr}`.split('\n');
    // Act
    const leaks = lines.flatMap((line, n) => find(line).map((v) => `line ${n + 1}: ${v.path}`));
    // Assess: the output really holds every stage's logs (info and the quarantine warnings) and EMF metrics.
    expect(values.length).toBeGreaterThan(RUN.claims * 4);
    for (const message of ['batch transformed', 'batch staged', 'merge run', 'record quarantined']) {
      expect(lines.some((l) => l.includes(`"message":"${message}"`))).toBe(true);
    }
    expect(lines.some((l) => l.includes('"_aws"') && l.includes('"CloudWatchMetrics"'))).toBe(true);
    expect(leaks).toEqual([]);
  });

  it('did carry those PHI values through the pipeline (so their absence from the output means something)', async () => {
    // Prepare: the run's warehouse, closed by the harness when it exited.
    const { claims } = phiSources(RUN.seed, RUN.claims);
    const find = phiFinder(phiValues(claims));
    const warehouse = await openTestWarehouse({ path: path.join(stateDir, 'warehouse.duckdb') });
    try {
      // Act
      const rows = await warehouse.query(`SELECT rawImage FROM ${TABLES.history}`);
      const found = new Set(rows.flatMap((r) => find(String(r.rawImage)).map((v) => v.value)));
      // Assess
      expect(rows.length).toBeGreaterThan(0);
      expect(found.size).toBeGreaterThan(RUN.claims);
    } finally {
      await warehouse.close();
    }
  });
});
