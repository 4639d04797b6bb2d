import { metrics } from '@claims-cdc/shared/observability/metrics';
import { claims, row, withStatus } from '@claims-cdc/shared/test-support/factories';
import { warehouseFromEnv } from '@claims-cdc/shared/warehouse/from-env';
import { TABLES } from '@claims-cdc/shared/warehouse/tables';
import { DuckDbWarehouse } from '@claims-cdc/shared/warehouse/duckdb';
import type { CallOptions } from '@claims-cdc/shared/warehouse/port';
import type { Context } from 'aws-lambda';
import { merge, WAREHOUSE_MARGIN_MS } from '../src/handlers/merge';

const T = 1_732_000_000_000_000;

describe('merge handler', () => {
  it('merges what is staged and reports counts, backlog and the age of the oldest unmerged event', async () => {
    // Prepare: the handler and this test share the process's warehouse (DUCKDB_PATH=:memory:)
    const warehouse = await warehouseFromEnv();
    await warehouse.init();
    const [a, b] = claims(2, 3);
    await warehouse.stage([row({ eventName: 'INSERT', claim: a!, micros: T, eventId: 'm1' }), row({ eventName: 'REMOVE', claim: b!, micros: T, eventId: 'm2' })]);
    // Act
    const first = await merge();
    const second = await merge();
    // Assess
    expect(first).toMatchObject({ events: 2, claims: 2, inserted: 1, tombstonedOnly: 1, backlog: 0, oldestUnmergedAgeSeconds: 0 });
    expect(second).toMatchObject({ events: 0, backlog: 0 });
  });

  it('reports the duplicate claim rows it repaired, in the reply and as a metric', async () => {
    // Prepare: a second destination row for one claim, as a manual load into Snowflake could leave
    const warehouse = await warehouseFromEnv();
    await warehouse.init();
    const [, , c] = claims(3, 3);
    await warehouse.stage([row({ eventName: 'INSERT', claim: c!, micros: T, eventId: 'd1' })]);
    await merge();
    await warehouse.query(`INSERT INTO ${TABLES.destination} SELECT * FROM ${TABLES.destination} WHERE eventId = 'd1'`);
    await warehouse.stage([row({ eventName: 'MODIFY', claim: withStatus(c!, 'Rejected'), micros: T + 1, eventId: 'd2' })]);
    const addMetric = jest.spyOn(metrics, 'addMetric');
    // Act
    const reply = await merge();
    // Assess
    expect(reply).toMatchObject({ events: 1, updated: 1, duplicates: 1 });
    expect(addMetric).toHaveBeenCalledWith('DuplicateKeysRepaired', 'Count', 1);
    expect(await warehouse.query(`SELECT eventId FROM ${TABLES.destination} WHERE eventId IN ('d1', 'd2')`)).toEqual([{ eventId: 'd2' }]);
    addMetric.mockRestore();
  });

  it('publishes end-to-end freshness (creation to commit) as p50/p99/max metrics in milliseconds', async () => {
    // Prepare: two events created 1.5 s and 0.5 s before the merge commits (the clock is read at the commit)
    const warehouse = await warehouseFromEnv();
    await warehouse.init();
    const [, , , d, e] = claims(5, 3);
    await warehouse.stage([row({ eventName: 'INSERT', claim: d!, micros: T, eventId: 'f1' }), row({ eventName: 'INSERT', claim: e!, micros: T + 1_000_000, eventId: 'f2' })]);
    const now = jest.spyOn(Date, 'now').mockReturnValue(T / 1000 + 1_500);
    const addMetric = jest.spyOn(metrics, 'addMetric');
    // Act
    const reply = await merge();
    const idle = await merge();
    // Assess: p99 interpolates 1% of the way from the oldest to the newest
    expect(reply.freshness).toEqual({ p50Ms: 1000, p99Ms: 1490, maxMs: 1500 });
    expect(addMetric).toHaveBeenCalledWith('EndToEndFreshnessP50', 'Milliseconds', 1000);
    expect(addMetric).toHaveBeenCalledWith('EndToEndFreshnessP99', 'Milliseconds', 1490);
    expect(addMetric).toHaveBeenCalledWith('EndToEndFreshnessMax', 'Milliseconds', 1500);
    expect(idle.freshness).toBeNull();
    expect(addMetric.mock.calls.filter(([name]) => String(name).startsWith('EndToEndFreshness'))).toHaveLength(3);
    now.mockRestore();
    addMetric.mockRestore();
  });

  it('bounds the merge by the invocation: remaining time less the margin reaches the warehouse', async () => {
    // Prepare: watch what reaches the adapter behind the process's lazy warehouse
    const warehouseMerge = jest.spyOn(DuckDbWarehouse.prototype, 'merge');
    const context = { getRemainingTimeInMillis: () => 290_000 } as unknown as Context;
    // Act
    const before = Date.now();
    await merge(undefined, context);
    const after = Date.now();
    // Assess: DuckDB's merge declares no options parameter (it ignores them), so the second argument is read untyped
    expect(warehouseMerge).toHaveBeenCalledTimes(1);
    const deadline = ((warehouseMerge.mock.calls[0] as unknown[])[1] as CallOptions).deadline as number;
    expect(deadline).toBeGreaterThanOrEqual(before + 290_000 - WAREHOUSE_MARGIN_MS);
    expect(deadline).toBeLessThanOrEqual(after + 290_000 - WAREHOUSE_MARGIN_MS);
    warehouseMerge.mockRestore();
  });
});
