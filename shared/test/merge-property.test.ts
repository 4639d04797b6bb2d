import fc from 'fast-check';
import type { Claim, ClaimStatus } from '../src/domain/claim';
import { CLAIM_STATUSES } from '../src/domain/claim';
import type { ClaimRow } from '../src/domain/columns';
import { DuckDbWarehouse } from '../src/warehouse/duckdb';
import { TABLES } from '../src/warehouse/tables';
import { claims, expectedDestination, MergeOracle, type Op, row, withStatus } from '../test-support/factories';
import { openTestWarehouse } from '../test-support/warehouse';

const POOL = claims(4, 99);
const T = 1_732_000_000_000_000;

/** A random history of a few claims: each op gets a unique, increasing version, as DynamoDB assigns them. */
const histories = fc.array(fc.record({ claim: fc.nat(POOL.length - 1), kind: fc.constantFrom('put', 'put', 'remove'), status: fc.constantFrom(...CLAIM_STATUSES), sameMicro: fc.boolean() }), {
  minLength: 1,
  maxLength: 25,
});

const toRows = (history: ReadonlyArray<{ claim: number; kind: string; status: ClaimStatus; sameMicro: boolean }>): ClaimRow[] => {
  const exists = new Set<number>();
  let micros = T;
  return history.map((step, i) => {
    micros += step.sameMicro ? 0 : 1 + (i % 3);
    const claim = withStatus(POOL[step.claim] as Claim, step.status);
    const eventName = step.kind === 'remove' ? 'REMOVE' : exists.has(step.claim) ? 'MODIFY' : 'INSERT';
    if (eventName === 'REMOVE') exists.delete(step.claim);
    else exists.add(step.claim);
    const op: Op = { eventName, claim, micros, seq: String(1000 + i), eventId: `e${i}` };
    return row(op);
  });
};

/** Delivery: duplicates, shuffling and batch splits with merges in between. */
const deliveries = (n: number) =>
  fc.record({
    order: fc.shuffledSubarray(Array.from({ length: n }, (_, i) => i), { minLength: n, maxLength: n }),
    duplicates: fc.array(fc.nat(n - 1), { maxLength: n }),
    cuts: fc.array(fc.nat(n), { maxLength: 4 }),
    mergeAfter: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
  });

// Both merge shapes: `table` (DuckDB's) and `cte` (the SQL Snowflake runs, with DuckDB's types).
describe.each(['table', 'cte'] as const)('merge converges under any delivery (property, %s shape)', (shape) => {
  let warehouse: DuckDbWarehouse;
  beforeAll(async () => {
    warehouse = await openTestWarehouse({ path: ':memory:', mergeShape: shape });
    await warehouse.init();
  });
  afterAll(() => warehouse.close());

  it('random histories delivered with duplication, shuffling and splits reach the oracle state; history holds each event once', async () => {
    await fc.assert(
      fc.asyncProperty(
        histories.chain((history) => fc.tuple(fc.constant(history), deliveries(history.length))),
        async ([history, delivery]) => {
          // Prepare
          for (const table of Object.values(TABLES)) await warehouse.query(`DELETE FROM ${table}`);
          const rows = toRows(history);
          const sent = [...delivery.order, ...delivery.duplicates].map((i) => rows[i] as ClaimRow);
          const cuts = [...new Set([0, ...delivery.cuts.map((c) => Math.min(c, sent.length)), sent.length])].sort((x, y) => x - y);
          // Act
          // The stepwise oracle merges exactly what each warehouse merge sees, so its stale branches run too.
          const oracle = new MergeOracle();
          let pending: ClaimRow[] = [];
          for (let b = 0; b + 1 < cuts.length; b += 1) {
            const batch = sent.slice(cuts[b], cuts[b + 1]);
            await warehouse.stage(batch);
            pending.push(...batch);
            if (delivery.mergeAfter[b % delivery.mergeAfter.length]) {
              await warehouse.merge();
              oracle.merge(pending);
              pending = [];
            }
          }
          await warehouse.merge();
          oracle.merge(pending);
          // Assess
          const expected = expectedDestination(rows);
          expect([...oracle.destination.keys()].sort()).toEqual([...expected.keys()].sort());
          for (const [claimId, r] of expected) expect(oracle.destination.get(claimId)?.eventId).toBe(r.eventId);
          const actual = await warehouse.query(`SELECT claimId, claimStatus, eventId FROM ${TABLES.destination} ORDER BY claimId`);
          expect(actual).toEqual(
            [...expected.values()].map((r) => ({ claimId: r.claimId, claimStatus: r.claimStatus, eventId: r.eventId })).sort((x, y) => String(x.claimId).localeCompare(String(y.claimId))),
          );
          const [history_] = await warehouse.query(`SELECT COUNT(*) AS n, COUNT(DISTINCT eventId) AS d FROM ${TABLES.history}`);
          expect(history_).toEqual({ n: rows.length, d: rows.length });
          expect((await warehouse.status()).staged).toBe(0);
        },
      ),
      { numRuns: 60, seed: 20261122 },
    );
    // 60 runs of up to a few dozen stage and merge calls: about 30 s on a quiet 2-core machine, several times that on a
    // loaded one; a slow machine is not a failure of this property.
  }, 300_000);
});
