import { DIALECTS } from '../src/warehouse/dialect';
import { freshnessFrom, statusFrom, toJsonValue } from '../src/warehouse/merge-run';
import { openTestWarehouse } from '../test-support/warehouse';

const RUN = '11111111-2222-3333-4444-555555555555';

describe('the merge skeleton\'s value conversion (one toJsonValue for both adapters)', () => {
  it.each([
    ['a safe bigint', 42n, 42],
    ['an unsafe bigint', 2n ** 63n - 1n, '9223372036854775807'],
    ['a date', new Date(Date.UTC(2025, 0, 2, 3, 4, 5)), '2025-01-02T03:04:05.000Z'],
    ['a list with bigints', [1n, 2n ** 60n], '[1,"1152921504606846976"]'],
    ['a struct (a VARIANT)', { a: 'x', b: [1, null] }, '{"a":"x","b":[1,null]}'],
    ['null', null, null],
    ['undefined', undefined, null],
  ])('%s', (_name, value, expected) => {
    // Act + Assess
    expect(toJsonValue(value)).toEqual(expected);
  });

  it('DuckDB hands a LIST back as JSON text, not "[object Object]" or "1,2"', async () => {
    // Prepare
    const warehouse = await openTestWarehouse({ path: ':memory:' });
    // Act
    const rows = await warehouse.query('SELECT [1, 2]::BIGINT[] AS l, {\'k\': 3}::STRUCT(k INTEGER) AS s');
    // Assess
    expect(rows).toEqual([{ l: '[1,2]', s: '{"k":3}' }]);
    await warehouse.close();
  });
});

describe('freshness from the stats row', () => {
  it('turns creation-time percentiles into delays to the commit (p99 from the 1st percentile, max from the oldest)', () => {
    // Prepare: commit at 1,750,000,000,000 ms; times in µs as DuckDB (lower case) or Snowflake (upper case) return them
    const lower = { eventMicrosP50: 1_749_999_999_000_000, eventMicrosP01: 1_749_999_998_000_500.5, oldestEventMicros: 1_749_999_990_000_000 };
    const upper = { EVENTMICROSP50: '1749999999000000', EVENTMICROSP01: '1749999998000500.5', OLDESTEVENTMICROS: '1749999990000000' };
    // Act + Assess
    expect(freshnessFrom(lower, 1_750_000_000_000)).toEqual({ p50Ms: 1000, p99Ms: 1999.5, maxMs: 10_000 });
    expect(freshnessFrom(upper, 1_750_000_000_000)).toEqual({ p50Ms: 1000, p99Ms: 1999.5, maxMs: 10_000 });
  });

  it('is null when no claimed time could be read', () => {
    expect(freshnessFrom({ eventMicrosP50: null, eventMicrosP01: null, oldestEventMicros: null }, 1)).toBeNull();
    expect(freshnessFrom(undefined, 1)).toBeNull();
  });

  it('status rows map whatever the case of their columns', () => {
    expect(statusFrom({ STAGED: 2, history: 5n, Destination: '3', TOMBSTONES: 0, OLDESTSTAGEDMICROS: null })).toEqual({
      staged: 2,
      history: 5,
      destination: 3,
      tombstones: 0,
      oldestStagedMicros: null,
    });
  });
});

describe('the DuckDB merge shape (MERGE_SHAPES.duckdb = table): plan once, DELETE + INSERT, no MERGE', () => {
  const m = DIALECTS.duckdb.merge(RUN, '2024-05-06T07:08:09Z');

  it('builds the plan once into a temporary table, ranking narrow columns of the claimed rows', () => {
    expect(m.plan).toHaveLength(1);
    expect(m.plan[0]).toMatch(
      /^CREATE OR REPLACE TEMP TABLE claims_cdc_merge_plan AS WITH claimed AS \(SELECT s\.rowid AS stagedRow, claimId, eventName, eventId, eventCreationUnixTime, sequenceNumber, .* AS versionKey FROM openflow_insclaim_cdc_tbl s WHERE mergeRunId = '11111111-2222-3333-4444-555555555555'\), /,
    );
    expect(m.plan[0]).toContain('arg_max(struct_pack(stagedRow, eventName, eventId, eventCreationUnixTime, sequenceNumber), versionKey || eventId) AS w FROM claimed GROUP BY claimId');
    expect(m.plan[0]).not.toContain('rawImage');
    expect(m.stats).toContain('FROM claims_cdc_merge_plan) p');
    expect(m.stats).toContain("quantile_cont(m, 0.5) AS eventMicrosP50, quantile_cont(m, 0.01) AS eventMicrosP01, MIN(m) AS oldestEventMicros FROM (SELECT TRY_CAST(eventCreationUnixTime AS DOUBLE) AS m FROM openflow_insclaim_cdc_tbl WHERE mergeRunId = '11111111-2222-3333-4444-555555555555') e");
  });

  it('applies by DELETE of replaced rows (all copies but a stale claim\'s newest) and INSERT of the winners', () => {
    expect(m.apply.map((s) => s.name)).toEqual(['DELETE replaced destination rows', 'INSERT winners into destination', 'DELETE replaced tombstones', 'INSERT tombstones']);
    const [delDest, insDest, delTomb, insTomb] = m.apply.map((s) => s.sql) as [string, string, string, string];
    expect(delDest).toBe(
      "DELETE FROM openflow_insclaim_dest_tbl WHERE claimId IN (SELECT claimId FROM claims_cdc_merge_plan WHERE mergeAction <> 'stale' OR destCopies > 1) AND rowid NOT IN (SELECT destRow FROM claims_cdc_merge_plan WHERE mergeAction = 'stale' AND destCopies > 1 AND destRow IS NOT NULL)",
    );
    expect(insDest).toMatch(/^INSERT INTO openflow_insclaim_dest_tbl \(eventName, .*, loadedAt\) SELECT eventName, .*, loadedAt FROM openflow_insclaim_cdc_tbl WHERE rowid IN \(SELECT stagedRow FROM claims_cdc_merge_plan WHERE mergeAction = 'upsert'\)$/);
    expect(delTomb).toBe(
      "DELETE FROM openflow_insclaim_tombstone_tbl WHERE claimId IN (SELECT claimId FROM claims_cdc_merge_plan WHERE mergeAction = 'delete' OR tombstoneCopies > 1) AND rowid NOT IN (SELECT tombstoneRow FROM claims_cdc_merge_plan WHERE mergeAction <> 'delete' AND tombstoneCopies > 1 AND tombstoneRow IS NOT NULL)",
    );
    expect(insTomb).toBe(
      "INSERT INTO openflow_insclaim_tombstone_tbl (claimId, eventCreationUnixTime, sequenceNumber, eventId, deletedAt) SELECT claimId, eventCreationUnixTime, sequenceNumber, eventId, CAST('2024-05-06 07:08:09' AS TIMESTAMP) FROM claims_cdc_merge_plan WHERE mergeAction = 'delete'",
    );
    expect(m.deleteClaimed).toBe("DELETE FROM openflow_insclaim_cdc_tbl WHERE mergeRunId = '11111111-2222-3333-4444-555555555555'");
    expect([...m.plan, m.stats, ...m.apply.map((s) => s.sql)].join('\n')).not.toMatch(/\bMERGE INTO\b/);
  });

  it('stages by deleting what history holds from the load table, then two plain INSERTs (Snowflake keeps its MERGE)', () => {
    const load = DIALECTS.duckdb.stageFrom('claims_cdc_load_batch', '2024-05-06T07:08:09Z');
    expect(load.stagedBy).toBe(1);
    expect(load.sql[0]).toBe(
      'DELETE FROM claims_cdc_load_batch WHERE eventId IN (SELECT h.eventId FROM openflow_insclaim_event_hist_tbl h WHERE h.eventId IN (SELECT eventId FROM claims_cdc_load_batch))',
    );
    expect(load.sql[1]).toMatch(/^INSERT INTO openflow_insclaim_cdc_tbl \(.*, loadedAt, mergeRunId\) SELECT .*, CAST\('2024-05-06 07:08:09' AS TIMESTAMP\), NULL FROM claims_cdc_load_batch$/);
    expect(load.sql[2]).toMatch(/^INSERT INTO openflow_insclaim_event_hist_tbl \(.*, loadedAt\) SELECT .*, CAST\('2024-05-06 07:08:09' AS TIMESTAMP\) FROM claims_cdc_load_batch$/);
    expect(DIALECTS.snowflake.stageFrom('claims_cdc_load_batch', '2024-05-06T07:08:09Z').sql[1]).toMatch(/^MERGE INTO openflow_insclaim_event_hist_tbl USING /);
  });
});
