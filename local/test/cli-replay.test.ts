import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { changeRecord, claims, withStatus } from '@claims-cdc/shared/test-support/factories';
import type { Claim } from '@claims-cdc/shared';
import { run } from '../src/cli/main';

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
};

const T = 1_732_000_000_000_000;

describe('claims-cdc replay + sql', () => {
  const dir = mkdtempSync(join(tmpdir(), 'claims-cdc-replay-'));
  const twenty = claims(20, 8);
  const target = twenty.find((c) => c.claim_status === 'In Review') as Claim;
  const lines = [
    ...twenty.map((claim, i) => JSON.stringify(changeRecord({ eventName: 'INSERT', claim, micros: T + i }))),
    '{"this is": not json',
    JSON.stringify(changeRecord({ eventName: 'MODIFY', claim: withStatus(target, 'Rejected'), micros: T + 100 })),
    JSON.stringify({ eventName: 'INSERT', dynamodb: {} }),
    JSON.stringify(changeRecord({ eventName: 'REMOVE', claim: target, micros: T + 200 })),
    // a duplicate of the first INSERT, delivered late
    JSON.stringify(changeRecord({ eventName: 'INSERT', claim: twenty[0] as Claim, micros: T, eventId: 'dup' })),
  ];
  const file = join(dir, 'events.jsonl');
  writeFileSync(file, `${lines.join('\n')}\n`);
  // The events and the warehouses replayed from them hold claims (PHI in production): nothing stays in the temp dir.
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    [1, 1],
    [3, 2],
    [100, 1],
  ])('replays with --batch %i --merge-every %i to the same destination, reporting bad lines by number', async (batch, mergeEvery) => {
    // Prepare
    const db = join(dir, `wh-${batch}-${mergeEvery}.duckdb`);
    const replay = capture();
    // Act
    const code = await run(['replay', file, '--db', db, '--batch', String(batch), '--merge-every', String(mergeEvery), '--json'], replay.io);
    const query = capture();
    await run(['sql', 'select claimId from openflow_insclaim_dest_tbl order by claimId', '--db', db, '--json'], query.io);
    // Assess: two lines rejected, so the replay finished with exit code 3
    expect(code).toBe(3);
    expect(JSON.parse(replay.out[0] as string)).toMatchObject({ lines: 25, events: 23, rejected: 2, destination: 19 });
    expect(replay.err).toEqual([expect.stringMatching(/^line 21: not-json/), expect.stringMatching(/^line 23: not-a-change-record/)]);
    expect(JSON.parse(query.out[0] as string)).toEqual(
      twenty
        .filter((c) => c !== target)
        .map((c) => ({ claimId: c.claim_id }))
        .sort((a, b) => a.claimId.localeCompare(b.claimId)),
    );
  });

  it('shows progress (lines read, rate) without --json, and none with it (issue 14)', async () => {
    // Prepare
    const plain = capture();
    const json = capture();
    // Act
    await run(['replay', file, '--db', join(dir, 'progress-plain.duckdb'), '--batch', '5'], plain.io);
    await run(['replay', file, '--db', join(dir, 'progress-json.duckdb'), '--batch', '5', '--json'], json.io);
    // Assess: the file has 25 lines; the last progress line printed names them all
    const progress = plain.out.filter((line) => line.startsWith('replayed '));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatch(/^replayed 25 lines · \d+ lines\/s$/);
    expect(json.out).toHaveLength(1);
    expect(() => JSON.parse(json.out[0] as string)).not.toThrow();
  });

  it('the warehouse a replay writes has the quickstart views: sql on them works (issue 13: they were missing)', async () => {
    // Prepare
    const db = join(dir, 'views.duckdb');
    await run(['replay', file, '--db', db], capture().io);
    const latest = capture();
    const backlog = capture();
    // Act
    const latestCode = await run(['sql', `select eventName from openflow_insclaim_latest_event_vw where claimId = '${target.claim_id}'`, '--db', db, '--json'], latest.io);
    const backlogCode = await run(['sql', 'select stagedRows from openflow_insclaim_backlog_vw', '--db', db, '--json'], backlog.io);
    // Assess: the target's newest event is its REMOVE; everything was merged
    expect([latestCode, backlogCode]).toEqual([0, 0]);
    expect(JSON.parse(latest.out[0] as string)).toEqual([{ eventName: 'REMOVE' }]);
    expect(JSON.parse(backlog.out[0] as string)).toEqual([{ stagedRows: 0 }]);
  });

  it.each([
    [['replay'], /needs a FILE/],
    [['replay', file], /needs --db/],
    [['replay', join(dir, 'missing.jsonl'), '--db', 'x.duckdb'], /no such file/],
    [['replay', file, '--db', 'x.duckdb', '--batch', '0'], /--batch must be a positive integer/],
    [['replay', file, '--db', 'x.duckdb', '--bogus'], /Unknown option '--bogus'/],
    [['sql'], /needs a QUERY/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ])('%j exits 2 with one clear line', async (argv, message) => {
    const io = capture();
    expect(await run(argv, io.io)).toBe(2);
    expect(io.err[0]).toMatch(message);
  });

  it('a failing query exits 1 with the reason', async () => {
    // Prepare: a warehouse of its own (not one another test replayed into), so the query reaches it and fails there.
    const db = join(dir, 'failing-query.duckdb');
    await run(['replay', file, '--db', db], capture().io);
    const io = capture();
    // Act
    const code = await run(['sql', 'select * from no_such_table', '--db', db], io.io);
    // Assess
    expect(code).toBe(1);
    expect(io.err[0]).toMatch(/query failed: .*no_such_table/);
  });
});
