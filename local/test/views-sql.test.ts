/**
 * `claims-cdc sql` answers on the views (issue 13: `select * from openflow_insclaim_backlog_vw` used to fail with
 * "Table … does not exist"): a warehouse file created by the adapter, read through the CLI's read-only path.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Claim } from '@claims-cdc/shared/domain/claim';
import { VIEWS } from '@claims-cdc/shared/warehouse/views';
import { changeRecord, claims, row, withStatus } from '@claims-cdc/shared/test-support/factories';
import { run } from '../src/cli/main';
import { openTestWarehouse } from '@claims-cdc/shared/test-support/warehouse';

const dir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-views-'));
const file = path.join(dir, 'warehouse.duckdb');
const T = 1_732_000_000_000_000;
const [claim] = claims(1, 13) as [Claim];

/** `claims-cdc sql QUERY --db FILE --json`, in this process. */
const sql = async (query: string, db = file) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(['sql', query, '--db', db, '--json'], { out: (t: string) => out.push(t), err: (t: string) => err.push(t) });
  return { code, err, rows: code === 0 ? (JSON.parse(out.join('')) as Array<Record<string, unknown>>) : [] };
};

beforeAll(async () => {
  const warehouse = await openTestWarehouse({ path: file });
  await warehouse.init();
  await warehouse.stage([
    row({ eventName: 'INSERT', claim: withStatus(claim, 'In Review'), micros: T, eventId: 'v1' }),
    row({ eventName: 'MODIFY', claim: withStatus(claim, 'Rejected'), micros: T + 1_000_000, eventId: 'v2' }),
  ]);
  await warehouse.merge();
  await warehouse.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('claims-cdc sql on the views', () => {
  it('select * from openflow_insclaim_backlog_vw answers: nothing waits', async () => {
    // Act
    const result = await sql(`select * from ${VIEWS.backlog}`);
    // Assess
    expect(result.err).toEqual([]);
    expect(result.rows).toEqual([expect.objectContaining({ stagedRows: 0, stagedClaims: 0, oldestUnmergedAgeSeconds: null })]);
  });

  it('the status history shows the claim going from In Review to Rejected', async () => {
    // Act
    const result = await sql(`select claimStatus, eventId, isCurrent from ${VIEWS.statusHistory} order by validFromMicros`);
    // Assess
    expect(result.err).toEqual([]);
    expect(result.rows).toEqual([
      { claimStatus: 'In Review', eventId: 'v1', isCurrent: false },
      { claimStatus: 'Rejected', eventId: 'v2', isCurrent: true },
    ]);
  });

  it.each([VIEWS.latestEvent, VIEWS.summary, VIEWS.pending, VIEWS.adjudicationTimes])('select * from %s runs', async (view) => {
    // Act
    const result = await sql(`select * from ${view}`);
    // Assess
    expect(result).toMatchObject({ code: 0, err: [] });
  });
});

describe('claims-cdc replay --db', () => {
  it('writes a warehouse whose status history shows the quickstart flow: In Review, then Rejected until the REMOVE', async () => {
    // Prepare: the quickstart's three changes of one claim, as DynamoDB's Kinesis destination writes them
    const quick: Claim = { ...claim, claim_status: 'In Review', payment_status: 'Processing' };
    const rejected: Claim = { ...quick, claim_status: 'Rejected', payment_status: 'Denied' };
    const events = path.join(dir, 'quickstart.jsonl');
    const db = path.join(dir, 'replayed.duckdb');
    const lines = [
      changeRecord({ eventName: 'INSERT', claim: quick, micros: T, eventId: 'r-insert' }),
      changeRecord({ eventName: 'MODIFY', claim: rejected, micros: T + 60_000_000, eventId: 'r-modify' }, quick),
      changeRecord({ eventName: 'REMOVE', claim: rejected, micros: T + 120_000_000, eventId: 'r-remove' }),
    ];
    writeFileSync(events, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    // Act
    const code = await run(['replay', events, '--db', db], { out: () => undefined, err: () => undefined });
    const result = await sql(`select claimStatus, paymentStatus, validFromMicros, validToMicros, isCurrent, eventId, closedByEventName from ${VIEWS.statusHistory} order by validFromMicros`, db);
    // Assess
    expect(code).toBe(0);
    expect(result.err).toEqual([]);
    expect(result.rows).toEqual([
      { claimStatus: 'In Review', paymentStatus: 'Processing', validFromMicros: T, validToMicros: T + 60_000_000, isCurrent: false, eventId: 'r-insert', closedByEventName: 'MODIFY' },
      { claimStatus: 'Rejected', paymentStatus: 'Denied', validFromMicros: T + 60_000_000, validToMicros: T + 120_000_000, isCurrent: false, eventId: 'r-modify', closedByEventName: 'REMOVE' },
    ]);
  });
});
