/**
 * `npm start` = `claims-cdc demo`, run as a user runs it (a child process with a stack of its own): it plays the
 * quickstart, prints the quickstart's verification queries verbatim with their results, checks every one, and
 * exits 0 only when all hold. Its failure path is bounded and says what did not hold.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateClaims, TABLES } from '@claims-cdc/shared';
import { killAllCliProcesses, runCli } from './support/cli-process';
import { openTestWarehouse } from '@claims-cdc/shared/test-support/warehouse';

/**
 * The quickstart's verification queries ("Change Data Capture (CDC) In Action"), copied from the quickstart
 * independently of the demo's own copy, in its order. Lines are listed so trailing spaces stay visible.
 */
const hist = (eventName: string) => [
  'select ',
  '    eventName,',
  '    TO_TIMESTAMP(TO_NUMBER(eventCreationUnixTime) / 1000000) AS eventCreationUTC,',
  '    claimId, ',
  '    claimStatus, ',
  '    paymentStatus, ',
  '    totalCharge, ',
  '    insurancePlan,',
  '    memberId,',
  '    providerName',
  `  from openflow_insclaim_event_hist_tbl where eventname = '${eventName}' order by eventCreationUTC;`,
];
const QUICKSTART_QUERIES = [
  ['-- count and show rows in the destination table', 'select * from openflow_insclaim_dest_tbl;'],
  ['select count(*) from openflow_insclaim_dest_tbl;'],
  ['-- All the Insert events are captured in the event history table', "select * from openflow_insclaim_event_hist_tbl where eventname='INSERT';"],
  [...hist('MODIFY').slice(0, -1), "  from openflow_insclaim_dest_tbl where eventname = 'MODIFY';"],
  hist('MODIFY'),
  ['SELECT *', 'FROM openflow_insclaim_dest_tbl', '-- get the claim id from the event history table', 'WHERE claimid IN (', '    SELECT claimid', '    FROM openflow_insclaim_event_hist_tbl', "    WHERE eventname = 'MODIFY'", ');'],
  hist('REMOVE'),
].map((lines) => lines.join('\n'));

const checkLines = (stdout: string) => stdout.split('\n').filter((line) => /^[✓✗] /.test(line));

/** The rows of each query, run on the warehouse file a finished demo left in `stateDir` (read directly, not through the demo's checks). */
const readWarehouse = async (stateDir: string, queries: Record<string, string>): Promise<Record<string, Record<string, unknown>[]>> => {
  const warehouse = await openTestWarehouse({ path: path.join(stateDir, 'warehouse.duckdb') });
  try {
    const out: Record<string, Record<string, unknown>[]> = {};
    for (const [name, sql] of Object.entries(queries)) out[name] = await warehouse.query(sql);
    return out;
  } finally {
    await warehouse.close();
  }
};

describe('claims-cdc demo', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-demo-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    killAllCliProcesses();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('plays the quickstart: its queries verbatim and in order, every check ✓, DynamoDB matches the destination, exit 0', async () => {
    // Prepare: a state directory holding an earlier run's leftovers, which the demo must wipe.
    const stateDir = tempDir();
    writeFileSync(path.join(stateDir, 'warehouse.duckdb'), 'not a database');
    // Act
    const run = await runCli(['demo', '--state-dir', stateDir]);
    // Assess
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const checks = checkLines(run.stdout);
    expect(checks).toHaveLength(QUICKSTART_QUERIES.length + 1);
    expect(checks.filter((line) => !line.startsWith('✓ '))).toEqual([]);
    expect(checks.at(-1)).toMatch(/^✓ DynamoDB and the destination match row by row \(19 items in DynamoDB, 19 rows in the destination/);
    let from = 0;
    for (const query of QUICKSTART_QUERIES) {
      const at = run.stdout.indexOf(`\n${query}\n`, from);
      expect({ query, printedInOrder: at >= 0 }).toEqual({ query, printedInOrder: true });
      from = at + query.length;
    }
    expect(run.stdout).toMatch(/^Embedded stack ready in /m);
    expect(run.stdout).toMatch(/^All 8 checks hold ✓/m);
    expect(existsSync(path.join(stateDir, 'stack.json'))).toBe(false);

    // Assess, independently of the demo's own checks: the claims it asked for, regenerated here from the seed it
    // sent; the In Review claim it must have picked (the first by id); and what the warehouse file holds.
    const samples = /^POST \/claims\/samples \{"count":20,"seed":(\d+)\} → 201: 20 claims /m.exec(run.stdout);
    expect(samples).not.toBeNull();
    const claims = generateClaims(20, Number((samples as RegExpExecArray)[1]));
    const target = claims.filter((c) => c.claim_status === 'In Review').map((c) => c.claim_id).sort()[0] as string;
    expect(target).toMatch(/^CLM-/);
    expect(run.stdout).toContain(`\nPATCH /claims/${target} {"claimStatus":"Rejected"} → 200\n`);
    expect(run.stdout).toContain(`\nDELETE /claims/${target} → 200\n`);
    const kept = claims.filter((c) => c.claim_id !== target);
    const db = await readWarehouse(stateDir, {
      destination: `SELECT claimId, claimStatus, paymentStatus, totalCharge FROM ${TABLES.destination} ORDER BY claimId`,
      history: `SELECT eventName, claimId, claimStatus FROM ${TABLES.history} ORDER BY eventName, claimId`,
      tombstones: `SELECT claimId FROM ${TABLES.tombstones}`,
      staged: `SELECT COUNT(*) AS n FROM ${TABLES.staging}`,
    });
    // 19 rows: every ingested claim but the deleted one, as ingested (statuses and charge; values beyond ids stay out
    // of the failure message).
    const destination = db.destination as Record<string, unknown>[];
    expect(destination).toHaveLength(19);
    expect(destination.map((r) => r.claimId)).toEqual(kept.map((c) => c.claim_id).sort());
    expect(destination.map((r) => r.claimId)).not.toContain(target);
    const asIngested = new Map(kept.map((c) => [c.claim_id, `${c.claim_status}|${c.payment_status}|${c.total_charge}`]));
    expect(destination.filter((r) => asIngested.get(String(r.claimId)) !== `${String(r.claimStatus)}|${String(r.paymentStatus)}|${Number(r.totalCharge)}`).map((r) => r.claimId)).toEqual([]);
    // History: 20 INSERTs, then the target's MODIFY to Rejected and its REMOVE (carrying the last image: Rejected).
    expect(db.history).toEqual([
      ...claims.map((c) => ({ eventName: 'INSERT', claimId: c.claim_id, claimStatus: c.claim_status })).sort((x, y) => (x.claimId < y.claimId ? -1 : 1)),
      { eventName: 'MODIFY', claimId: target, claimStatus: 'Rejected' },
      { eventName: 'REMOVE', claimId: target, claimStatus: 'Rejected' },
    ]);
    expect(db.tombstones).toEqual([{ claimId: target }]);
    expect(db.staged).toEqual([{ n: 0 }]);
  });

  it('stops at a wait that does not end in time, says which, and exits 1 with the stack stopped', async () => {
    // Prepare
    const stateDir = tempDir();
    // Act: a bound no pipeline can meet.
    const run = await runCli(['demo', '--state-dir', stateDir, '--timeout', '0.001']);
    // Assess
    expect(run.code).toBe(1);
    expect(checkLines(run.stdout)).toEqual([expect.stringMatching(/^✗ timed out after 0\.0 s waiting for the destination to hold 20 rows \(DynamoDB \d+ · /)]);
    expect(run.stdout).toMatch(/^1 of 1 checks did not hold .*stack stopped\):\n {2}✗ timed out after/m);
    expect(existsSync(path.join(stateDir, 'stack.json'))).toBe(false);
  });

  it('refuses a state directory in which a stack is running', async () => {
    // Prepare: the state file of a live process (this test's own).
    const stateDir = tempDir();
    writeFileSync(path.join(stateDir, 'stack.json'), JSON.stringify({ pid: process.pid, apiUrl: 'http://127.0.0.1:9', token: 't', stateDir, endpoints: {} }));
    // Act
    const run = await runCli(['demo', '--state-dir', stateDir]);
    // Assess
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(`claims-cdc demo: a stack is running in ${stateDir} (pid ${process.pid}); stop it first or give the demo another --state-dir`);
    expect(existsSync(path.join(stateDir, 'stack.json'))).toBe(true);
  });
});
