/**
 * The worksheet SQL in sql/ is generated (shared/scripts/generate-sql.ts). These tests fail when a committed file
 * differs from what the generator writes now, when a PHI column of the registry is not masked, and when the
 * DuckDB twins stop doing, on a real engine, what the adapter's merge does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sqlFiles } from '../scripts/sql-files';
import type { Claim } from '../src/domain/claim';
import { ALL_COLUMNS } from '../src/domain/columns';
import { DIALECTS } from '../src/warehouse/dialect';
import { TABLES } from '../src/warehouse/tables';
import { VIEWS } from '../src/warehouse/views';
import { claims, row, withStatus } from '../test-support/factories';
import { openTestWarehouse } from '../test-support/warehouse';

const root = resolve(__dirname, '..', '..');
const generated = sqlFiles();
const committed = (path: string): string => {
  const file = join(root, path);
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
};

/** The statements of a generated file: comment lines dropped, split at the `;` that ends a line. */
const statementsOf = (sql: string): string[] =>
  sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .split(/;\s*\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

const oneLine = (sql: string): string => sql.replace(/\s+/g, ' ').trim();

describe.each(Object.keys(generated))('%s', (path) => {
  it('is what `npm run sql:generate` writes from the registry now', () => {
    // Act
    const onDisk = committed(path);
    const want = generated[path] as string;
    // Assess
    if (onDisk !== want) {
      const lines = onDisk.split('\n');
      const at = want.split('\n').findIndex((line, i) => line !== lines[i]);
      throw new Error(`${path} is out of date (first difference at line ${at + 1}): run \`npm run sql:generate\` and commit the result`);
    }
    expect(onDisk).toBe(want);
  });
});

describe('sql/snowflake/05-masking.sql', () => {
  const masking = committed('sql/snowflake/05-masking.sql');
  const phi = ALL_COLUMNS.filter((c) => c.phi);

  it('tags every PHI column of every table that has one, and nothing else', () => {
    // Prepare: which tables hold which columns, read from the generated DDL itself
    const ddl = committed('sql/snowflake/02-tables.sql');
    const holders = [...ddl.matchAll(/CREATE TABLE IF NOT EXISTS (\w+) \(([^;]*)\);/g)].flatMap(([, table, body]) =>
      phi.filter((c) => new RegExp(`^\\s*${c.name} `, 'm').test(body as string)).map((c) => `${table}.${c.name}`),
    );
    // Act
    const tagged = [...masking.matchAll(/^ALTER TABLE (\w+) MODIFY COLUMN (\w+) SET TAG phi = 'true';$/gm)].map(([, table, column]) => `${table}.${column}`);
    // Assess
    expect(phi.map((c) => c.name)).toEqual(expect.arrayContaining(['memberId', 'patientLastName', 'patientDOB', 'patientEmail', 'rawImage']));
    expect(new Set(holders.map((h) => h.split('.')[0]))).toEqual(new Set([TABLES.destination, TABLES.history, TABLES.staging]));
    expect(tagged.sort()).toEqual(holders.sort());
  });

  it('sets on the tag a masking policy for the data type of every PHI column, clear only for PHI_READER', () => {
    // Prepare
    const family = (snowflakeType: string): string => (/^(STRING|VARCHAR)/.test(snowflakeType) ? 'STRING' : /^(INTEGER|NUMBER)/.test(snowflakeType) ? 'NUMBER' : snowflakeType);
    const needed = new Set(phi.map((c) => family(DIALECTS.snowflake.type(c.type))));
    // Act
    const policies = new Map([...masking.matchAll(/^CREATE MASKING POLICY IF NOT EXISTS (\w+) AS \(val (\w+)\) RETURNS (\w+) -> (.*) COMMENT/gm)].map(([, name, type, returns, body]) => [name, { type, returns, body }]));
    const onTag = [...masking.matchAll(/^ALTER TAG phi SET MASKING POLICY (\w+) FORCE;$/gm)].map(([, name]) => name as string);
    // Assess
    expect(new Set(onTag.map((name) => policies.get(name)?.type))).toEqual(needed);
    for (const name of onTag) {
      const policy = policies.get(name);
      expect(policy?.returns).toBe(policy?.type);
      expect(policy?.body).toMatch(/^CASE WHEN IS_ROLE_IN_SESSION\('PHI_READER'\) THEN val ELSE .+ END$/);
    }
  });

  it('creates the analyst and PHI_READER roles, and lets the pipeline role read clear values (its MERGE copies what it reads)', () => {
    expect(masking).toContain('CREATE ROLE IF NOT EXISTS PHI_READER');
    expect(masking).toContain('CREATE ROLE IF NOT EXISTS CLAIMS_ANALYST');
    expect(masking).toContain('GRANT ROLE PHI_READER TO ROLE IDENTIFIER($role_name);');
    expect(masking).toContain(`GRANT SELECT ON TABLE ${TABLES.destination} TO ROLE CLAIMS_ANALYST;`);
  });
});

describe('sql/snowflake/03-merge.sql', () => {
  it('runs exactly the adapter merge statements, with the run id and "now" as scripting variables, in one transaction', () => {
    // Prepare
    const sql = committed('sql/snowflake/03-merge.sql');
    const block = sql.slice(sql.indexOf('BEGIN TRANSACTION;') + 'BEGIN TRANSACTION;'.length, sql.indexOf('COMMIT;'));
    const runId = '11111111-2222-3333-4444-555555555555';
    const expected = DIALECTS.snowflake.merge(runId, '2024-05-06T07:08:09Z');
    const bind = (s: string) => oneLine(s.replaceAll(':run_id', `'${runId}'`).replaceAll(':merged_at', DIALECTS.snowflake.timestamp('2024-05-06T07:08:09Z')));
    // Act
    const inBlock = statementsOf(block).map(bind);
    // Assess
    expect(inBlock).toEqual([oneLine(expected.claim), `stats := (SELECT '${runId}' AS runId, s.* FROM (${oneLine(expected.stats)}) s)`, ...expected.apply.map((step) => oneLine(step.sql)), oneLine(expected.deleteClaimed)]);
    expect(sql).toMatch(/run_id STRING DEFAULT UUID_STRING\(\);/);
    expect(sql).toMatch(/EXCEPTION\n {2}WHEN OTHER THEN\n {4}ROLLBACK;\n {4}RAISE;/);
  });
});

describe('the DuckDB twins run on DuckDB and do what the adapter does', () => {
  it('02-tables, 03-merge and 04-views: a merge run from the worksheet converges like Warehouse.merge', async () => {
    // Prepare: tables from the worksheet, rows staged by the adapter
    const warehouse = await openTestWarehouse({ path: ':memory:' });
    for (const statement of statementsOf(committed('sql/duckdb/02-tables.sql'))) await warehouse.query(statement);
    await warehouse.init();
    const [a, b, c] = claims(3, 31) as [Claim, Claim, Claim];
    const T = 1_732_000_000_000_000;
    await warehouse.stage([
      row({ eventName: 'INSERT', claim: a, micros: T, eventId: 'w1' }),
      row({ eventName: 'MODIFY', claim: withStatus(a, 'Rejected'), micros: T + 5, eventId: 'w2' }),
      row({ eventName: 'INSERT', claim: b, micros: T + 1, eventId: 'w3' }),
      row({ eventName: 'REMOVE', claim: c, micros: T + 2, eventId: 'w4' }),
    ]);
    // Act
    const results = [];
    for (const statement of statementsOf(committed('sql/duckdb/03-merge.sql'))) results.push(await warehouse.query(statement));
    for (const statement of statementsOf(committed('sql/duckdb/04-views.sql'))) await warehouse.query(statement);
    // Assess
    const stats = results.find((r) => r.length === 1 && 'tombstonedOnly' in (r[0] ?? {}))?.[0];
    expect(stats).toMatchObject({ events: 4, claims: 3, inserted: 2, updated: 0, deleted: 0, tombstonedOnly: 1, stale: 0 });
    expect(await warehouse.query(`SELECT claimId, claimStatus, eventName FROM ${TABLES.destination} ORDER BY claimId`)).toEqual(
      [
        { claimId: a.claim_id, claimStatus: 'Rejected', eventName: 'MODIFY' },
        { claimId: b.claim_id, claimStatus: b.claim_status, eventName: 'INSERT' },
      ].sort((x, y) => x.claimId.localeCompare(y.claimId)),
    );
    expect(await warehouse.query(`SELECT claimId, eventId FROM ${TABLES.tombstones}`)).toEqual([{ claimId: c.claim_id, eventId: 'w4' }]);
    expect((await warehouse.status()).staged).toBe(0);
    expect(await warehouse.query(`SELECT claimId, eventId FROM ${VIEWS.latestEvent} ORDER BY eventId`)).toEqual([
      { claimId: a.claim_id, eventId: 'w2' },
      { claimId: b.claim_id, eventId: 'w3' },
      { claimId: c.claim_id, eventId: 'w4' },
    ]);
    expect(await warehouse.query(`SELECT stagedRows, oldestUnmergedAgeSeconds FROM ${VIEWS.backlog}`)).toEqual([{ stagedRows: 0, oldestUnmergedAgeSeconds: null }]);
    expect(await warehouse.query("SELECT TO_NUMBER('42') AS n")).toEqual([{ n: 42 }]);
    await warehouse.close();
  });

  it('the backlog view reports what waits and how long', async () => {
    // Prepare
    const warehouse = await openTestWarehouse({ path: ':memory:' });
    await warehouse.init();
    for (const statement of statementsOf(committed('sql/duckdb/04-views.sql'))) await warehouse.query(statement);
    const [a, b] = claims(2, 32) as [Claim, Claim];
    // Act
    await warehouse.stage([row({ eventName: 'INSERT', claim: a, micros: 1_732_000_000_000_000, eventId: 'v1' }), row({ eventName: 'INSERT', claim: b, micros: 1_732_000_000_000_007, eventId: 'v2' })]);
    const [backlog] = await warehouse.query(`SELECT * FROM ${VIEWS.backlog}`);
    await warehouse.close();
    // Assess
    expect(backlog).toMatchObject({ stagedRows: 2, stagedClaims: 2, oldestStagedMicros: 1_732_000_000_000_000 });
    expect(backlog?.oldestUnmergedAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(backlog?.oldestUnmergedAgeSeconds).toBeLessThan(60);
  });
});

describe('sql/snowflake/04-views.sql', () => {
  it('replaces each view with COPY GRANTS, so running it again keeps the grants 05-masking gave (issue 10 §3)', () => {
    // Prepare
    const text = readFileSync(resolve(__dirname, '../../sql/snowflake/04-views.sql'), 'utf8');
    // Assess
    for (const view of ['openflow_insclaim_latest_event_vw', 'openflow_insclaim_backlog_vw']) expect(text).toContain(`CREATE OR REPLACE VIEW ${view} COPY GRANTS AS SELECT`);
    expect(text).not.toMatch(/CREATE OR REPLACE VIEW \w+ AS/);
  });
});

describe('sql/snowflake/03-merge.sql run by hand', () => {
  it('refuses to merge, before its transaction, when the role cannot read clear PHI (issue 10 §3)', () => {
    // Prepare
    const text = readFileSync(resolve(__dirname, '../../sql/snowflake/03-merge.sql'), 'utf8');
    // Assess
    const probe = text.indexOf("SELECT IS_ROLE_IN_SESSION('PHI_READER') INTO :phi_reader;");
    const raise = text.indexOf('IF (NOT COALESCE(phi_reader, FALSE)) THEN\n    RAISE phi_masked;');
    expect(probe).toBeGreaterThan(0);
    expect(raise).toBeGreaterThan(probe);
    expect(text.indexOf('BEGIN TRANSACTION;')).toBeGreaterThan(raise);
  });
});
