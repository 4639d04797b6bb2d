/**
 * `claims-cdc sql` only reads, on a file (`--db`) and through the running stack's `sql` route: one statement that
 * reads runs; anything that writes, touches a file or attaches a database, and several statements at once, are
 * refused in one line; and a query that fails on a row never prints the row's values.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDbWarehouse } from '@claims-cdc/shared/warehouse/duckdb';
import { TABLES } from '@claims-cdc/shared/warehouse/tables';
import { VIEWS } from '@claims-cdc/shared/warehouse/views';
import { run } from '../src/cli/main';
import { QUICKSTART_QUERIES } from '../src/demo/quickstart-queries';
import { QueryRefusedError, ReadOnlyQueries } from '../src/inspect/read-only-sql';
import { callStackControl, readStackInfo, StackControlError } from '../src/stack/stack-client';
import { killAllCliProcesses, startCli, type CliProcess } from './support/cli-process';
import { waitUntil } from './support/wait';
import { openTestWarehouse } from '@claims-cdc/shared/test-support/warehouse';

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
};

const dir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-sql-ro-'));
const leaked = path.join(dir, 'leaked.csv');
const attached = path.join(dir, 'attached.duckdb');

/** Statements that must be refused, and how the refusal reads. */
const REFUSED: ReadonlyArray<[string, string, RegExp]> = [
  ['create table', 'create table stolen (a varchar)', /^query failed: sql only reads: CREATE is refused \(accepted: one SELECT, WITH, FROM, VALUES, EXPLAIN, DESCRIBE, SHOW or SUMMARIZE statement\)$/],
  ['insert', `insert into ${TABLES.destination} (claimId) values ('CLM-FFFFFFFF')`, /^query failed: sql only reads: INSERT is refused/],
  ['copy to a file', `copy (select patientEmail from ${TABLES.destination}) to '${leaked}'`, /^query failed: sql cannot read or write files or attach databases \(file access is turned off\)$/],
  ['read_text', "select * from read_text('/etc/hostname')", /^query failed: sql cannot read or write files/],
  ['read_csv', "select * from read_csv('/etc/passwd')", /^query failed: sql cannot read or write files/],
  ['attach', `attach '${attached}' as other`, /^query failed: sql only reads: ATTACH is refused/],
  ['two statements', `select 1; create table stolen as select * from ${TABLES.destination}`, /^query failed: sql runs one statement per call; this text holds 2 /],
  ['explain analyze of a write', 'explain analyze create table stolen (a int)', /^query failed: sql only reads: EXPLAIN \[ANALYZE\] must be followed by a statement that reads$/],
  ['set', 'set threads = 1', /^query failed: sql only reads: SET is refused/],
];

/** Statements that read, and a row they must return. */
const ACCEPTED: ReadonlyArray<[string, string, Record<string, unknown>]> = [
  ['select', `select claimId from ${TABLES.destination} order by claimId limit 1`, { claimId: expect.stringMatching(/^CLM-/) }],
  ['with', `with d as (select count(*) as n from ${TABLES.destination}) select n > 0 as some from d`, { some: true }],
  ['from-first', `from ${TABLES.destination} select count(*) > 0 as some`, { some: true }],
  ['describe', `describe ${TABLES.destination}`, { column_name: 'eventName', column_type: 'VARCHAR' }],
  ['show', 'show tables', { name: TABLES.staging }],
  ['summarize', `summarize ${TABLES.destination}`, { column_name: 'eventName' }],
  ['explain', `explain select * from ${TABLES.destination}`, { explain_key: 'physical_plan' }],
];

afterAll(() => {
  killAllCliProcesses();
  rmSync(dir, { recursive: true, force: true });
});

describe('claims-cdc sql --db FILE', () => {
  const file = path.join(dir, 'warehouse.duckdb');
  const names = ['Zebulon4', 'zeb.quux@example.com'];
  const digest = () => createHash('sha256').update(readFileSync(file)).digest('hex');
  let before = '';

  /** Runs `claims-cdc sql QUERY --db FILE --json` in this process. */
  const sql = async (query: string) => {
    const io = capture();
    const code = await run(['sql', query, '--db', file, '--json'], io.io);
    return { code, rows: code === 0 ? (JSON.parse(io.out.join('')) as Array<Record<string, unknown>>) : [], err: io.err };
  };

  beforeAll(async () => {
    const warehouse = await openTestWarehouse({ path: file });
    await warehouse.init();
    await warehouse.query(`INSERT INTO ${TABLES.destination} (claimId, patientFirstName, patientEmail) VALUES ('CLM-00000001', '${names[0]}', '${names[1]}')`);
    await warehouse.close();
    before = digest();
  });

  it('a cast that fails on a name prints the error with the value scrubbed', async () => {
    // Act
    const result = await sql(`select cast(patientFirstName as integer) from ${TABLES.destination}`);
    // Assess
    expect(result.code).toBe(1);
    expect(result.err).toEqual(["claims-cdc sql: query failed: Conversion Error: Could not convert string '…' to INT32 when casting from source column patientFirstName"]);
  });

  it('a failing query with a name in its own text does not echo it', async () => {
    // Act
    const result = await sql(`select * from ${TABLES.destination} where patientEmail = '${names[1]}' and`);
    // Assess
    expect(result.code).toBe(1);
    expect(result.err).toHaveLength(1);
    expect(result.err[0]).toMatch(/^claims-cdc sql: query failed: Parser Error: /);
    for (const name of names) expect(result.err[0]).not.toContain(name);
  });

  it.each(REFUSED)('refuses %s in one line and changes nothing', async (_kind, query, message) => {
    // Act
    const result = await sql(query);
    // Assess
    expect(result.code).toBe(1);
    expect(result.err).toHaveLength(1);
    expect(result.err[0]?.replace(/^claims-cdc sql: /, '')).toMatch(message);
    expect(existsSync(leaked)).toBe(false);
    expect(existsSync(attached)).toBe(false);
    expect(digest()).toBe(before);
  });

  it.each(ACCEPTED)('runs %s', async (_kind, query, row) => {
    // Act
    const result = await sql(query);
    // Assess
    expect(result.err).toEqual([]);
    expect(result.rows).toContainEqual(expect.objectContaining(row));
  });

  it('leaves the file as it was', async () => {
    // Act
    const tables = await sql('show tables');
    // Assess
    expect(tables.rows.map((r) => r.name)).toEqual([...Object.values(TABLES), ...Object.values(VIEWS)].sort());
    expect(digest()).toBe(before);
  });
});

describe('the read-only check the stack applies (against an empty twin of its tables)', () => {
  let warehouse: DuckDbWarehouse;
  let readOnly: ReadOnlyQueries;

  beforeAll(async () => {
    warehouse = await openTestWarehouse({ path: ':memory:' });
    await warehouse.init();
    readOnly = new ReadOnlyQueries(warehouse);
  });

  afterAll(() => readOnly.close());

  it.each(QUICKSTART_QUERIES.map((query, i) => [i + 1, query.sql]))('lets quickstart query %i through (the demo runs them this way)', async (_n, query) => {
    // Act
    const rows = await readOnly.query(query as string);
    // Assess
    expect(Array.isArray(rows)).toBe(true);
  });

  it('refuses a write before the warehouse sees it', async () => {
    // Prepare
    await warehouse.query(`insert into ${TABLES.destination} (claimId) values ('CLM-00000001')`);
    // Act
    const error = await readOnly.query(`delete from ${TABLES.destination}`).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(QueryRefusedError);
    expect(await readOnly.query(`select claimId from ${TABLES.destination}`)).toEqual([{ claimId: 'CLM-00000001' }]);
  });
});

describe('the running stack\'s sql route', () => {
  const stateDir = path.join(dir, 'state');
  const at = ['--state-dir', stateDir];
  let up: CliProcess;
  let values: string[] = [];

  /** Runs a command in this process; it talks HTTP to the stack. */
  const cli = async (...argv: string[]) => {
    const io = capture();
    const code = await run([...argv, ...at], io.io);
    return { code, out: io.out.join('\n'), err: io.err.join('\n') };
  };

  beforeAll(async () => {
    up = startCli(['up', ...at]);
    await up.waitForOutput(/^Ctrl-C stops the stack\.$/m);
    expect((await cli('generate', '3', '--seed', '5')).code).toBe(0);
    await waitUntil(async () => {
      const status = JSON.parse((await cli('status', '--json')).out) as { pipeline: { destination: number; staged: number } };
      return status.pipeline.destination === 3 && status.pipeline.staged === 0;
    }, 'three rows in the destination');
    const rows = JSON.parse((await cli('sql', `select patientFirstName, patientLastName, patientEmail from ${TABLES.destination}`, '--json')).out) as Array<Record<string, string>>;
    values = rows.flatMap((row) => Object.values(row));
  }, 120_000);

  afterAll(async () => {
    up.signal('SIGINT');
    await up.exited;
  });

  it('a cast that fails on a name answers with the value scrubbed, in the CLI and in the API reply', async () => {
    // Prepare
    const query = `select cast(patientFirstName as integer) from ${TABLES.destination}`;
    const stack = readStackInfo(stateDir);
    // Act
    const result = await cli('sql', query);
    const reply = await callStackControl(stack as NonNullable<typeof stack>, 'sql', { sql: query }).catch((error: unknown) => error);
    // Assess
    expect(values.length).toBe(9);
    expect(result).toEqual({ code: 1, out: '', err: "claims-cdc sql: query failed: Conversion Error: Could not convert string '…' to INT32 when casting from source column patientFirstName" });
    expect(reply).toBeInstanceOf(StackControlError);
    expect((reply as StackControlError).statusCode).toBe(400);
    for (const value of values) {
      expect(result.err).not.toContain(value);
      expect((reply as Error).message).not.toContain(value);
    }
  });

  it.each(REFUSED)('refuses %s in one line', async (_kind, query, message) => {
    // Act
    const result = await cli('sql', query);
    // Assess
    expect(result.code).toBe(1);
    expect(result.err.replace(/^claims-cdc sql: /, '')).toMatch(message);
    expect(existsSync(leaked)).toBe(false);
    expect(existsSync(attached)).toBe(false);
  });

  it.each(ACCEPTED)('runs %s', async (_kind, query, row) => {
    // Act
    const result = await cli('sql', query, '--json');
    // Assess
    expect(result.err).toBe('');
    expect(JSON.parse(result.out)).toContainEqual(expect.objectContaining(row));
  });

  it('nothing refused reached the warehouse', async () => {
    // Act
    const tables = JSON.parse((await cli('sql', 'show tables', '--json')).out) as Array<{ name: string }>;
    const count = JSON.parse((await cli('sql', `select count(*) as n from ${TABLES.destination}`, '--json')).out) as unknown;
    // Assess
    expect(tables.map((t) => t.name)).toEqual([...Object.values(TABLES), ...Object.values(VIEWS)].sort());
    expect(count).toEqual([{ n: 3 }]);
  });
});
