/**
 * `claims-cdc up` in a child process, driven by the other commands as a user drives it from another terminal:
 * claims go in through the API, status and sql go to the running stack, and `verify` finds rows changed behind the
 * pipeline's back — naming claim ids and columns, never values.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { buildChangeRecord } from '@claims-cdc/shared/test-support/change-records';
import { claims } from '@claims-cdc/shared/test-support/factories';
import { run } from '../src/cli/main';
import { readStackInfo } from '../src/stack/stack-client';
import { killAllCliProcesses, startCli, type CliProcess } from './support/cli-process';
import { waitUntil } from './support/wait';

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
};

type PipelineCounts = { items: number; destination: number; staged: number; history: number; quarantined: number };

/**
 * `claims-cdc up` on a state directory of its own for the tests of one describe block, and the other commands run in
 * this process against it (they only talk HTTP to the stack).
 */
const upStack = () => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-up-'));
  const at = ['--state-dir', stateDir];
  const fixture = { stateDir, up: undefined as CliProcess | undefined };
  const cli = async (...argv: string[]) => {
    const io = capture();
    const code = await run([...argv, ...at], io.io);
    return { code, out: io.out.join('\n'), err: io.err.join('\n') };
  };
  const sqlJson = async (query: string) => JSON.parse((await cli('sql', query, '--json')).out) as Record<string, unknown>[];
  const pipeline = async () => (JSON.parse((await cli('status', '--json')).out) as { pipeline: PipelineCounts }).pipeline;
  /** Generates `count` claims through the API and waits until the pipeline has merged them; their ids. */
  const generated = async (count: number, seed: number) => {
    const reply = await cli('generate', String(count), '--seed', String(seed), '--json');
    expect(reply.code).toBe(0);
    const ids = (JSON.parse(reply.out) as { claimIds: string[] }).claimIds;
    const list = ids.map((id) => `'${id}'`).join(', ');
    await waitUntil(async () => {
      const [row] = await sqlJson(`select count(*) as n from openflow_insclaim_dest_tbl where claimId in (${list})`);
      return Number(row?.n) === ids.length && (await pipeline()).staged === 0 ? true : undefined;
    }, `${count} generated claims in the destination`);
    return ids;
  };

  beforeAll(async () => {
    fixture.up = startCli(['up', ...at]);
    await fixture.up.waitForOutput(/^Ctrl-C stops the stack\.$/m);
  });

  afterAll(() => {
    killAllCliProcesses();
    rmSync(stateDir, { recursive: true, force: true });
  });

  return { fixture, cli, sqlJson, pipeline, generated };
};

describe('claims-cdc up, driven by generate, status, sql and verify', () => {
  const { fixture, cli, sqlJson, pipeline, generated } = upStack();
  const { stateDir } = fixture;
  /** Claims every test may rely on: generated once, before the tests. */
  let seeded: string[] = [];

  beforeAll(async () => {
    seeded = await generated(6, 11);
  });

  it('prints the API endpoint and token, and publishes them for the other commands', async () => {
    // Assess
    const token = fixture.up!.stdout().match(/^ {2}API token {2}(\S+)$/m)?.[1];
    expect(fixture.up!.stdout()).toMatch(/^ {2}HTTP API {3}http:\/\/127\.0\.0\.1:\d+ /m);
    expect(token).toHaveLength(43);
    expect(fixture.up!.stdout()).toContain(`npx claims-cdc status --state-dir ${stateDir}`);
  });

  it('generates claims through the API, which reach the destination', async () => {
    // Prepare
    const before = await pipeline();
    // Act
    const reply = await cli('generate', '3', '--seed', '12', '--json');
    const claimIds = (JSON.parse(reply.out) as { claimIds: string[] }).claimIds;
    // Assess
    expect(reply.code).toBe(0);
    expect(claimIds).toHaveLength(3);
    const after = await waitUntil(async () => {
      const counts = await pipeline();
      return counts.destination === before.destination + 3 && counts.staged === 0 ? counts : undefined;
    }, 'three more rows in the destination');
    expect(after).toMatchObject({ items: before.items + 3, history: before.history + 3 });
    const list = claimIds.map((id) => `'${id}'`).join(', ');
    expect(await sqlJson(`select claimId from openflow_insclaim_dest_tbl where claimId in (${list}) order by claimId`)).toEqual([...claimIds].sort().map((claimId) => ({ claimId })));
  });

  it('status shows every stage in one clear table', async () => {
    // Prepare
    const counts = await pipeline();
    // Act
    const status = await cli('status');
    // Assess
    expect(status.code).toBe(0);
    expect(status.out).toMatch(new RegExp(`^DynamoDB +${counts.items} items in InsuranceClaims$`, 'm'));
    expect(status.out).toMatch(new RegExp(`^destination +${counts.destination} rows$`, 'm'));
    expect(status.out).toMatch(/^quarantined +0 messages$/m);
  });

  it('verify passes while the destination mirrors DynamoDB', async () => {
    // Act
    const verify = await cli('verify');
    // Assess
    const [, items, rows] = verify.out.match(/^✓ DynamoDB and the destination match row by row \((\d+) items in DynamoDB, (\d+) rows/) ?? [];
    expect(verify).toEqual({ code: 0, out: expect.any(String), err: '' });
    expect(Number(items)).toBeGreaterThanOrEqual(seeded.length);
    expect(rows).toBe(items);
  });

  it('the stack\'s sql refuses to change the destination behind the pipeline\'s back; verify still matches', async () => {
    // Prepare: three edits that would bypass DynamoDB and the pipeline (verify's drift report is tested in verify-diff.test.ts)
    const [changed, removed] = [...seeded].sort() as [string, string];
    // Act
    const edits = [
      await cli('sql', `update openflow_insclaim_dest_tbl set claimStatus = claimStatus || ' (edited)' where claimId = '${changed}'`),
      await cli('sql', `delete from openflow_insclaim_dest_tbl where claimId = '${removed}'`),
      await cli('sql', "insert into openflow_insclaim_dest_tbl (claimId, claimStatus) values ('CLM-FFFFFFFF', 'Paid')"),
    ];
    const verify = await cli('verify', '--json');
    // Assess
    expect(edits.map((e) => e.code)).toEqual([1, 1, 1]);
    for (const e of edits) expect(e.err).toMatch(/sql only reads/);
    expect(verify.code).toBe(0);
    const result = JSON.parse(verify.out) as { items: number; destinationRows: number };
    expect(result).toMatchObject({ ok: true, missing: [], extra: [], differing: [] });
    expect(result.destinationRows).toBe(result.items);
  });

  it('sql --db on the warehouse the stack holds is refused in one line', async () => {
    // Act
    const io = capture();
    const code = await run(['sql', 'select 1', '--db', path.join(stateDir, 'warehouse.duckdb')], io.io);
    // Assess
    expect(code).toBe(1);
    expect(io.err).toEqual([`claims-cdc sql: warehouse ${path.join(stateDir, 'warehouse.duckdb')} is held by the stack running in ${stateDir} (pid ${fixture.up!.pid}); query it through the stack: claims-cdc sql "..." --state-dir ${stateDir}`]);
  });

  it.each([
    [['modify', 'CLM-00000000', '--status', 'Paid'], 'claims-cdc modify: PATCH /claims/CLM-00000000 failed (404): claim CLM-00000000 not found'],
    [['delete', 'CLM-00000000'], 'claims-cdc delete: DELETE /claims/CLM-00000000 failed (404): claim CLM-00000000 not found'],
    [['sql', 'select nope'], expect.stringMatching(/^claims-cdc sql: query failed: Binder Error: .*"nope"/)],
  ])('%j fails in one line with exit 1', async (argv, message) => {
    // Act
    const result = await cli(...argv);
    // Assess
    expect(result).toEqual({ code: 1, out: '', err: message });
  });

  it('a second up on the same state directory is refused', async () => {
    // Act
    const second = await cli('up');
    // Assess
    expect(second.code).toBe(1);
    expect(second.err).toMatch(new RegExp(`^claims-cdc up: a stack is already running in ${stateDir} \\(pid ${fixture.up!.pid}, API http://127\\.0\\.0\\.1:\\d+\\); use it, or stop it first$`));
  });
});

describe('claims-cdc up, with an item the pipeline cannot process', () => {
  const { fixture, cli, pipeline } = upStack();

  it('counts it as quarantined, and verify reports it (claim id and column, never the value)', async () => {
    // Prepare: a script's write (captured like any other) with a status the claim schema does not know.
    const [claim] = claims(1, 4242);
    const bad = { ...claim!, claim_id: 'CLM-0BAD0BAD', claim_status: 'Lost in the mail' };
    const image = buildChangeRecord({ eventName: 'INSERT', tableName: 'InsuranceClaims', keys: { claim_id: bad.claim_id }, newImage: bad, micros: Date.now() * 1000 }).dynamodb.NewImage;
    const client = new DynamoDBClient({ endpoint: readStackInfo(fixture.stateDir)?.endpoints.dynamodb, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    try {
      // Act
      await client.send(new PutItemCommand({ TableName: 'InsuranceClaims', Item: image as unknown as Record<string, AttributeValue> }));
      const counts = await waitUntil(async () => {
        const c = await pipeline();
        return c.quarantined === 1 ? c : undefined;
      }, 'the bad item to be quarantined');
      const verify = await cli('verify', '--json');
      // Assess
      expect(counts.items).toBe(1);
      expect(verify.code).toBe(1);
      expect(JSON.parse(verify.out)).toMatchObject({ unprocessable: [{ claimId: 'CLM-0BAD0BAD', reason: expect.stringContaining('claim_status') }] });
      expect(verify.out).not.toContain('Lost in the mail');
    } finally {
      client.destroy();
    }
  });
});

describe('claims-cdc up, stopped', () => {
  const { fixture, cli, generated } = upStack();

  it('stops cleanly on Ctrl-C: exit 0, state file removed, commands then say no stack runs, the warehouse is free', async () => {
    // Prepare
    const { up, stateDir } = fixture;
    const ids = await generated(2, 13);
    // Act
    up!.signal('SIGINT');
    const exit = await up!.exited;
    const status = await cli('status');
    // Assess
    expect(exit).toEqual({ code: 0, signal: null });
    expect(up!.stdout()).toMatch(/^SIGINT: stopping the stack .*\nstopped; the warehouse stays in /m);
    expect(existsSync(path.join(stateDir, 'stack.json'))).toBe(false);
    expect(status).toEqual({ code: 1, out: '', err: `claims-cdc status: no stack running in ${stateDir}; start one with \`claims-cdc up --state-dir ${stateDir}\`` });
    const afterwards = capture();
    const code = await run(['sql', 'select count(*) as n from openflow_insclaim_dest_tbl', '--json', '--db', path.join(stateDir, 'warehouse.duckdb')], afterwards.io);
    expect(code).toBe(0);
    expect(JSON.parse(afterwards.out.join(''))).toEqual([{ n: ids.length }]);
  });
});
