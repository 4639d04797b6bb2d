import type { Claim } from '../src/domain/claim';
import { DuckDbWarehouse } from '../src/warehouse/duckdb';
import { TABLES } from '../src/warehouse/tables';
import { claims, type Op, row, withStatus } from '../test-support/factories';
import { openTestWarehouse } from '../test-support/warehouse';

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

/**
 * Both merge shapes run on DuckDB: `table` is what DuckDB runs, `cte` is the SQL Snowflake runs (Dialect.merge with
 * DuckDB's types), so these scenarios prove the semantics of both.
 */
const SHAPES = [{ shape: 'table' as const }, { shape: 'cte' as const }];
const scenariosByShape = SHAPES.flatMap(({ shape }) => scenarios.map((s) => ({ ...s, shape })));

describe.each(scenariosByShape)('merge scenario ($shape shape): $name', ({ steps, expected, historyEvents, shape }) => {
  it('converges to the expected destination, history holds each event once, staging is empty', async () => {
    // Prepare
    const warehouse = await openTestWarehouse({ path: ':memory:', mergeShape: shape });
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
    const warehouse = await openTestWarehouse({ path: ':memory:' });
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
    const warehouse = await openTestWarehouse({ path: ':memory:' });
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
    const warehouse = await openTestWarehouse({ path: ':memory:' });
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

  it.each(SHAPES)('reports end-to-end freshness ($shape shape): delays from the claimed events\' creation to the commit, p50/p99/max in ms', async ({ shape }) => {
    // Prepare: three events created 5 s, 4 s and 2 s before the commit (two of one claim: both count); the clock is
    // read as the commit time
    const commitMs = (T + 5_000_000) / 1000;
    const warehouse = await openTestWarehouse({ path: ':memory:', clock: () => commitMs, mergeShape: shape });
    await warehouse.init();
    await warehouse.stage([row(ins(a, T, 'e1')), row(mod(withStatus(a, 'Approved'), T + 1_000_000, 'e2')), row(ins(b, T + 3_000_000, 'e3'))]);
    // Act
    const result = await warehouse.merge();
    const nothing = await warehouse.merge();
    // Assess: p99 interpolates between the two oldest (position 0.02 of 2 gaps: 20 ms after the oldest)
    expect(result.freshness).toEqual({ p50Ms: 4000, p99Ms: 4980, maxMs: 5000 });
    expect(nothing.freshness).toBeNull();
    await warehouse.close();
  });

  it('two merges started at once: one applies, the other waits and finds nothing new', async () => {
    // Prepare
    const warehouse = await openTestWarehouse({ path: ':memory:' });
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
    const warehouse = await openTestWarehouse({ path: ':memory:' });
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

/** A copy of a claim's row added by hand (Snowflake enforces no key), optionally with some columns replaced (SQL). */
interface Copy {
  readonly table: 'destination' | 'tombstones';
  readonly claim: Claim;
  readonly set?: Record<string, string>;
}

interface DuplicateScenario {
  readonly name: string;
  /** Loads, each merged, before the copies are added. */
  readonly before: ReadonlyArray<readonly Op[]>;
  readonly copies: readonly Copy[];
  /** Loaded and merged after: the run that meets the duplicates. */
  readonly then: readonly Op[];
  /** Per claim: the one destination row left (status, eventId) or none. */
  readonly destination: Record<string, { status: string; eventId: string } | 'absent'>;
  /** Per claim: the eventId of the one tombstone left, or none. */
  readonly tombstones: Record<string, string | 'absent'>;
  readonly duplicates: number;
  /** Claims not in the run: how many destination rows they still hold. */
  readonly untouched?: Record<string, number>;
}

const older = (micros: number, eventId: string, status?: string): Record<string, string> => ({
  eventCreationUnixTime: `'${micros}'`,
  eventId: `'${eventId}'`,
  ...(status === undefined ? {} : { claimStatus: `'${status}'` }),
});

const duplicateScenarios: DuplicateScenario[] = [
  {
    name: 'an identical destination copy, then a newer MODIFY: one row, the MODIFY',
    before: [[ins(a, T, 'e1')]],
    copies: [{ table: 'destination', claim: a }],
    then: [mod(withStatus(a, 'Rejected'), T + 5, 'e2')],
    destination: { [a.claim_id]: { status: 'Rejected', eventId: 'e2' } },
    tombstones: { [a.claim_id]: 'absent' },
    duplicates: 1,
  },
  {
    name: 'two identical destination copies, then a stale INSERT: one row, the one the destination held',
    before: [[mod(withStatus(a, 'Approved'), T + 10, 'e2')]],
    copies: [{ table: 'destination', claim: a }, { table: 'destination', claim: a }],
    then: [ins(a, T, 'e1')],
    destination: { [a.claim_id]: { status: 'Approved', eventId: 'e2' } },
    tombstones: { [a.claim_id]: 'absent' },
    duplicates: 2,
  },
  {
    name: 'a newer destination copy (a backfill), then a stale MODIFY: the newest copy is kept',
    before: [[ins(a, T, 'e1')]],
    copies: [{ table: 'destination', claim: a, set: older(T + 50, 'backfill', 'Paid') }],
    then: [mod(withStatus(a, 'Rejected'), T + 20, 'e2')],
    destination: { [a.claim_id]: { status: 'Paid', eventId: 'backfill' } },
    tombstones: { [a.claim_id]: 'absent' },
    duplicates: 1,
  },
  {
    name: 'an older destination copy, then a REMOVE: no row, one tombstone',
    before: [[ins(a, T, 'e1')]],
    copies: [{ table: 'destination', claim: a, set: older(T - 5, 'manual', 'Paid') }],
    then: [rem(a, T + 9, 'e3')],
    destination: { [a.claim_id]: 'absent' },
    tombstones: { [a.claim_id]: 'e3' },
    duplicates: 1,
  },
  {
    name: 'tombstone copies (one identical, one older), then a stale INSERT: still absent, one tombstone, the newest',
    before: [[ins(a, T, 'e1'), rem(a, T + 10, 'r1')]],
    copies: [{ table: 'tombstones', claim: a }, { table: 'tombstones', claim: a, set: older(T + 1, 'r0') }],
    then: [ins(a, T + 5, 'late')],
    destination: { [a.claim_id]: 'absent' },
    tombstones: { [a.claim_id]: 'r1' },
    duplicates: 2,
  },
  {
    name: 'a tombstone copy, then a newer REMOVE: one tombstone, the new REMOVE',
    before: [[rem(a, T, 'r1')]],
    copies: [{ table: 'tombstones', claim: a }],
    then: [rem(a, T + 10, 'r2')],
    destination: { [a.claim_id]: 'absent' },
    tombstones: { [a.claim_id]: 'r2' },
    duplicates: 1,
  },
  {
    name: 'a tombstone copy, then a newer INSERT: the claim comes back, one tombstone left',
    before: [[rem(a, T, 'r1')]],
    copies: [{ table: 'tombstones', claim: a }],
    then: [ins(withStatus(a, 'Submitted'), T + 10, 'e2')],
    destination: { [a.claim_id]: { status: 'Submitted', eventId: 'e2' } },
    tombstones: { [a.claim_id]: 'r1' },
    duplicates: 1,
  },
  {
    name: 'copies in both tables, a REMOVE: no row, one tombstone, every extra row counted',
    before: [[ins(a, T, 'e1'), rem(a, T + 1, 'r1')], [ins(withStatus(a, 'Paid'), T + 2, 'e2')]],
    copies: [{ table: 'destination', claim: a }, { table: 'tombstones', claim: a }, { table: 'tombstones', claim: a }],
    then: [rem(a, T + 9, 'r2')],
    destination: { [a.claim_id]: 'absent' },
    tombstones: { [a.claim_id]: 'r2' },
    duplicates: 3,
  },
  {
    name: 'only the claims of the run are repaired: a copy of an untouched claim stays and is not counted',
    before: [[ins(a, T, 'e1'), ins(b, T, 'e2')]],
    copies: [{ table: 'destination', claim: a }, { table: 'destination', claim: b }],
    then: [mod(withStatus(a, 'Rejected'), T + 5, 'e3')],
    destination: { [a.claim_id]: { status: 'Rejected', eventId: 'e3' } },
    tombstones: { [a.claim_id]: 'absent' },
    duplicates: 1,
    untouched: { [b.claim_id]: 2 },
  },
];

const addCopy = async (warehouse: DuckDbWarehouse, { table, claim, set = {} }: Copy): Promise<void> => {
  const replace = Object.entries(set).map(([column, value]) => `${value} AS ${column}`);
  const select = replace.length === 0 ? '*' : `* REPLACE (${replace.join(', ')})`;
  // LIMIT 1: one more row per call, whatever the table holds for the claim already.
  await warehouse.query(`INSERT INTO ${TABLES[table]} SELECT ${select} FROM ${TABLES[table]} WHERE claimId = '${claim.claim_id}' LIMIT 1`);
};

describe.each(SHAPES.flatMap(({ shape }) => duplicateScenarios.map((s) => ({ ...s, shape }))))('duplicate keys (Snowflake enforces none, $shape shape): $name', ({ before, copies, then, destination, tombstones, duplicates, untouched = {}, shape }) => {
  it('converges to one row (or none) per claim, reports the duplicates, and a replay finds none', async () => {
    // Prepare
    const warehouse = await openTestWarehouse({ path: ':memory:', mergeShape: shape });
    await warehouse.init();
    for (const load of before) {
      await warehouse.stage(load.map(row));
      await warehouse.merge();
    }
    for (const copy of copies) await addCopy(warehouse, copy);
    await warehouse.stage(then.map(row));
    // Act
    const result = await warehouse.merge();
    const destinationAfter = await warehouse.query(`SELECT claimId, claimStatus, eventId FROM ${TABLES.destination} ORDER BY claimId`);
    const tombstonesAfter = await warehouse.query(`SELECT claimId, eventId FROM ${TABLES.tombstones} ORDER BY claimId`);
    const replayed = await warehouse.stage(then.map((op) => row({ ...op, eventId: `${op.eventId}-again` })));
    const replay = await warehouse.merge();
    // Assess
    expect(result).toMatchObject({ events: then.length, duplicates });
    for (const [claimId, want] of Object.entries(destination)) {
      const found = destinationAfter.filter((r) => r.claimId === claimId);
      expect(found).toEqual(want === 'absent' ? [] : [{ claimId, claimStatus: want.status, eventId: want.eventId }]);
    }
    for (const [claimId, want] of Object.entries(tombstones)) {
      expect(tombstonesAfter.filter((r) => r.claimId === claimId)).toEqual(want === 'absent' ? [] : [{ claimId, eventId: want }]);
    }
    for (const [claimId, rows] of Object.entries(untouched)) expect(destinationAfter.filter((r) => r.claimId === claimId)).toHaveLength(rows);
    // The same events again (new ids, same versions) are stale or equal: nothing left to repair, nothing changes.
    expect(replayed.staged).toBe(then.length);
    expect(replay).toMatchObject({ duplicates: 0 });
    expect(await warehouse.query(`SELECT claimId, claimStatus, eventId FROM ${TABLES.destination} ORDER BY claimId`)).toEqual(destinationAfter);
    expect(await warehouse.query(`SELECT claimId, eventId FROM ${TABLES.tombstones} ORDER BY claimId`)).toEqual(tombstonesAfter);
    expect((await warehouse.status()).staged).toBe(0);
    await warehouse.close();
  });
});
