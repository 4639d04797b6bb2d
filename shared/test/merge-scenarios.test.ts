import type { Claim } from '../src/domain/claim';
import { DuckDbWarehouse } from '../src/warehouse/duckdb';
import { TABLES } from '../src/warehouse/tables';
import { claims, type Op, row, withStatus } from '../test-support/factories';

const [a, b, c] = claims(3, 11) as [Claim, Claim, Claim];
const T = 1_732_000_000_000_000;
const ins = (claim: Claim, micros: number, eventId: string, seq = ''): Op => ({ eventName: 'INSERT', claim, micros, eventId, seq });
const mod = (claim: Claim, micros: number, eventId: string, seq = ''): Op => ({ eventName: 'MODIFY', claim, micros, eventId, seq });
const rem = (claim: Claim, micros: number, eventId: string, seq = ''): Op => ({ eventName: 'REMOVE', claim, micros, eventId, seq });

type Expected = Record<string, { status: string; eventName: string } | 'absent'>;

interface Scenario {
  readonly name: string;
  /** Each inner array is one load; a 'merge' string merges. A final merge always follows. */
  readonly steps: ReadonlyArray<readonly Op[] | 'merge'>;
  readonly expected: Expected;
  readonly historyEvents: number;
}

const scenarios: Scenario[] = [
  {
    name: 'INSERT + MODIFY in one batch: the MODIFY wins',
    steps: [[ins(a, T, 'e1'), mod(withStatus(a, 'Rejected'), T + 5, 'e2')]],
    expected: { [a.claim_id]: { status: 'Rejected', eventName: 'MODIFY' } },
    historyEvents: 2,
  },
  {
    name: 'MODIFY + REMOVE in one batch: the claim is gone',
    steps: [[ins(a, T, 'e1')], 'merge', [mod(withStatus(a, 'Rejected'), T + 5, 'e2'), rem(a, T + 9, 'e3')]],
    expected: { [a.claim_id]: 'absent' },
    historyEvents: 3,
  },
  {
    name: 'INSERT + REMOVE in one batch: never appears',
    steps: [[ins(a, T, 'e1'), rem(a, T + 1, 'e2')]],
    expected: { [a.claim_id]: 'absent' },
    historyEvents: 2,
  },
  {
    name: 'exact duplicates are one event',
    steps: [[ins(a, T, 'e1'), ins(a, T, 'e1'), ins(b, T, 'e2')], [ins(a, T, 'e1')]],
    expected: { [a.claim_id]: { status: a.claim_status, eventName: 'INSERT' }, [b.claim_id]: { status: b.claim_status, eventName: 'INSERT' } },
    historyEvents: 2,
  },
  {
    name: 'reversed order: the newest still wins',
    steps: [[mod(withStatus(a, 'Paid'), T + 20, 'e3'), mod(withStatus(a, 'Approved'), T + 10, 'e2'), ins(a, T, 'e1')]],
    expected: { [a.claim_id]: { status: 'Paid', eventName: 'MODIFY' } },
    historyEvents: 3,
  },
  {
    name: 'MODIFY before INSERT (INSERT never arrived first): the MODIFY creates the row, the late INSERT is stale',
    steps: [[mod(withStatus(a, 'Approved'), T + 10, 'e2')], 'merge', [ins(a, T, 'e1')]],
    expected: { [a.claim_id]: { status: 'Approved', eventName: 'MODIFY' } },
    historyEvents: 2,
  },
  {
    name: 'REMOVE of an unknown claim is a no-op plus tombstone',
    steps: [[rem(c, T, 'e1')]],
    expected: { [c.claim_id]: 'absent' },
    historyEvents: 1,
  },
  {
    name: 'late INSERT after REMOVE does not resurrect the claim',
    steps: [[ins(a, T, 'e1')], 'merge', [rem(a, T + 10, 'e3')], 'merge', [ins(a, T, 'e1b'), mod(a, T + 5, 'e2')]],
    expected: { [a.claim_id]: 'absent' },
    historyEvents: 4,
  },
  {
    name: 'a claim re-created after its REMOVE (newer INSERT) comes back',
    steps: [[ins(a, T, 'e1')], 'merge', [rem(a, T + 10, 'e2')], 'merge', [ins(withStatus(a, 'Submitted'), T + 20, 'e3')]],
    expected: { [a.claim_id]: { status: 'Submitted', eventName: 'INSERT' } },
    historyEvents: 3,
  },
  {
    name: 'a whole batch replayed after its merge changes nothing',
    steps: [[ins(a, T, 'e1'), mod(withStatus(a, 'Rejected'), T + 1, 'e2'), ins(b, T, 'e3')], 'merge', [ins(a, T, 'e1'), mod(withStatus(a, 'Rejected'), T + 1, 'e2'), ins(b, T, 'e3')]],
    expected: { [a.claim_id]: { status: 'Rejected', eventName: 'MODIFY' }, [b.claim_id]: { status: b.claim_status, eventName: 'INSERT' } },
    historyEvents: 3,
  },
  {
    name: 'same microsecond: the Kinesis sequence number orders (numerically, not as text)',
    steps: [[mod(withStatus(a, 'Paid'), T, 'e2', '100'), mod(withStatus(a, 'Approved'), T, 'e1', '99')]],
    expected: { [a.claim_id]: { status: 'Paid', eventName: 'MODIFY' } },
    historyEvents: 2,
  },
];

describe.each(scenarios)('merge scenario: $name', ({ steps, expected, historyEvents }) => {
  it('converges to the expected destination, history holds each event once, staging is empty', async () => {
    // Prepare
    const warehouse = await DuckDbWarehouse.open({ path: ':memory:' });
    await warehouse.init();
    // Act
    for (const step of steps) {
      if (step === 'merge') await warehouse.merge();
      else await warehouse.stage(step.map(row));
    }
    await warehouse.merge();
    // Assess
    const rows = await warehouse.query(`SELECT claimId, claimStatus, eventName FROM ${TABLES.destination}`);
    for (const [claimId, want] of Object.entries(expected)) {
      const found = rows.find((r) => r.claimId === claimId);
      if (want === 'absent') expect(found).toBeUndefined();
      else expect(found).toEqual({ claimId, claimStatus: want.status, eventName: want.eventName });
    }
    expect(rows).toHaveLength(Object.values(expected).filter((v) => v !== 'absent').length);
    const [history] = await warehouse.query(`SELECT COUNT(*) AS n, COUNT(DISTINCT eventId) AS d FROM ${TABLES.history}`);
    expect(history).toEqual({ n: historyEvents, d: historyEvents });
    expect((await warehouse.status()).staged).toBe(0);
    await warehouse.close();
  });
});

describe('the quickstart: 20 INSERT, one In Review → Rejected, then REMOVE', () => {
  it('ends with 19 rows, the history holds 22 events, and the verification queries run unchanged', async () => {
    // Prepare
    const warehouse = await DuckDbWarehouse.open({ path: ':memory:' });
    await warehouse.init();
    const twenty = claims(20, 3);
    const target = twenty.find((claim) => claim.claim_status === 'In Review') as Claim;
    // Act
    await warehouse.stage(twenty.map((claim, i) => row(ins(claim, T + i, `i${i}`))));
    await warehouse.merge();
    const afterInsert = await warehouse.query('select count(*) AS n from openflow_insclaim_dest_tbl');
    await warehouse.stage([row(mod(withStatus(target, 'Rejected'), T + 100, 'm1'))]);
    await warehouse.merge();
    const modified = await warehouse.query(
      "select eventName, TO_TIMESTAMP(TO_NUMBER(eventCreationUnixTime) / 1000000) AS eventCreationUTC, claimId, claimStatus from openflow_insclaim_dest_tbl where eventname = 'MODIFY'",
    );
    await warehouse.stage([row(rem(target, T + 200, 'r1'))]);
    await warehouse.merge();
    // Assess
    expect(afterInsert).toEqual([{ n: 20 }]);
    expect(modified).toEqual([{ eventName: 'MODIFY', eventCreationUTC: new Date((T + 100) / 1000).toISOString(), claimId: target.claim_id, claimStatus: 'Rejected' }]);
    expect(await warehouse.query("SELECT * FROM openflow_insclaim_dest_tbl WHERE claimid IN (SELECT claimid FROM openflow_insclaim_event_hist_tbl WHERE eventname = 'MODIFY')")).toEqual([]);
    expect(await warehouse.query("select count(*) AS n from openflow_insclaim_event_hist_tbl where eventname='INSERT'")).toEqual([{ n: 20 }]);
    expect(await warehouse.query('select count(*) AS n from openflow_insclaim_dest_tbl')).toEqual([{ n: 19 }]);
    await warehouse.close();
  });
});

describe('merge transactions', () => {
  it('a row staged while a merge runs is left for the next merge, not deleted unmerged', async () => {
    // Prepare
    const warehouse = await DuckDbWarehouse.open({ path: ':memory:' });
    await warehouse.init();
    await warehouse.stage([row(ins(a, T, 'e1'))]);
    // Act: stage b from the stage connection while the merge holds its claimed rows
    const first = await warehouse.merge(async (step) => {
      if (step === 'planned') await warehouse.stage([row(ins(b, T, 'e2'))]);
    });
    const stagedBetween = (await warehouse.status()).staged;
    const second = await warehouse.merge();
    // Assess
    expect(first).toMatchObject({ events: 1, inserted: 1 });
    expect(stagedBetween).toBe(1);
    expect(second).toMatchObject({ events: 1, inserted: 1 });
    expect((await warehouse.status()).destination).toBe(2);
    await warehouse.close();
  });

  it.each(['claimed', 'planned', 'applied', 'deleted'] as const)('a merge that crashes after %s rolls back entirely', async (crashAt) => {
    // Prepare
    const warehouse = await DuckDbWarehouse.open({ path: ':memory:' });
    await warehouse.init();
    await warehouse.stage([row(ins(a, T, 'e1')), row(rem(c, T, 'e2'))]);
    // Act
    const crash = warehouse.merge((step) => {
      if (step === crashAt) throw new Error('crash');
    });
    // Assess
    await expect(crash).rejects.toThrow('crash');
    expect(await warehouse.status()).toMatchObject({ staged: 2, destination: 0, tombstones: 0 });
    expect(await warehouse.query(`SELECT COUNT(*) AS n FROM ${TABLES.staging} WHERE mergeRunId IS NOT NULL`)).toEqual([{ n: 0 }]);
    expect(await warehouse.merge()).toMatchObject({ events: 2, inserted: 1, tombstonedOnly: 1 });
    await warehouse.close();
  });

  it('two merges started at once: one applies, the other waits and finds nothing new', async () => {
    // Prepare
    const warehouse = await DuckDbWarehouse.open({ path: ':memory:' });
    await warehouse.init();
    await warehouse.stage([row(ins(a, T, 'e1')), row(ins(b, T, 'e2'))]);
    // Act
    const results = await Promise.all([warehouse.merge(), warehouse.merge()]);
    // Assess
    expect(results.map((r) => r.events).sort()).toEqual([0, 2]);
    expect((await warehouse.status()).destination).toBe(2);
    await warehouse.close();
  });

  it('reports inserted / updated / deleted / stale counts', async () => {
    // Prepare
    const warehouse = await DuckDbWarehouse.open({ path: ':memory:' });
    await warehouse.init();
    await warehouse.stage([row(ins(a, T + 10, 'e1')), row(ins(b, T, 'e2'))]);
    await warehouse.merge();
    // Act
    await warehouse.stage([row(ins(a, T, 'old')), row(mod(b, T + 1, 'e3')), row(rem(b, T + 2, 'e4')), row(ins(c, T, 'e5'))]);
    const result = await warehouse.merge();
    // Assess
    expect(result).toMatchObject({ events: 4, claims: 3, inserted: 1, updated: 0, deleted: 1, stale: 1 });
    await warehouse.close();
  });
});
