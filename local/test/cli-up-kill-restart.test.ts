/**
 * `kill -9` of `claims-cdc up` at several moments of one run, each followed by a plain `up` on the same state
 * directory: during writes through the API, right after them (records on the stream, messages in the load queue),
 * while staged rows wait for (or are in) a merge, and while a restarted stack is still replaying. Only the `up` process
 * is killed, as a user's `kill -9 PID` does (its SQS emulator process exits when its parent is gone). After the last
 * restart the pipeline drains and `verify` is clean: every item in DynamoDB is in the destination, identical, and no
 * change is in the history twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../src/cli/main';
import type { PipelineStatus } from '../src/inspect/pipeline-status';
import { readStackInfo } from '../src/stack/stack-client';
import { killAllCliProcesses, startCli, type CliProcess } from './support/cli-process';
import { waitUntil } from './support/wait';

jest.setTimeout(600_000);

describe('claims-cdc up: kill -9 at several moments, then a plain up', () => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-kill-'));
  const at = ['--state-dir', stateDir];
  const cli = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run([...argv, ...at], { out: (t) => out.push(t), err: (t) => err.push(t) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const status = async (): Promise<PipelineStatus | undefined> => {
    const result = await cli('status', '--json');
    return result.code === 0 ? (JSON.parse(result.out) as { pipeline: PipelineStatus }).pipeline : undefined;
  };
  const startUp = async (extra: string[] = []): Promise<CliProcess> => {
    const up = startCli(['up', ...at, ...extra]);
    await up.waitForOutput(/^Ctrl-C stops the stack\.$/m, 120_000);
    return up;
  };
  /** kill -9 of the `up` process alone; resolves when it is gone and its SQS emulator process too. */
  const kill9 = async (up: CliProcess) => {
    const sqsEndpoint = readStackInfo(stateDir)?.endpoints.sqs;
    process.kill(up.pid, 'SIGKILL');
    expect((await up.exited).signal).toBe('SIGKILL');
    if (sqsEndpoint) {
      await waitUntil(async () => fetch(`${sqsEndpoint}/health`).then(() => false, () => true), 'the SQS emulator process to exit after its parent');
    }
  };

  afterAll(() => {
    killAllCliProcesses();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('drains after every restart and ends with verify clean, nothing lost or doubled', async () => {
    // Prepare: a fresh stack.
    let up = await startUp();
    expect(up.stdout()).toMatch(/^ {2}state {6}empty at start/m);

    // Act 1: kill -9 during writes through the API (generate is cut off with it).
    const generate = startCli(['generate', '600', '--seed', '21', ...at]);
    await waitUntil(async () => ((await status())?.items ?? 0) >= 100, 'the first 100 claims in DynamoDB', 60_000);
    await kill9(up);
    expect((await generate.exited).code).not.toBe(0);

    // Act 2: a plain up resumes; more claims; kill -9 right after them, before the pipeline drains.
    up = await startUp();
    expect(up.stdout()).toMatch(/^ {2}state {6}resumed from the earlier run/m);
    const resumed = (await status())!;
    expect(resumed.items).toBeGreaterThanOrEqual(100);
    // The error text is in the comparison, so a failure says why.
    const generated = await cli('generate', '400', '--seed', '22');
    expect(generated).toMatchObject({ code: 0 });
    const beforeKill2 = (await status())!;
    await kill9(up);
    expect(beforeKill2.items).toBeGreaterThanOrEqual(resumed.items + 400);
    // Still on its way when killed: on the stream, in the load queue, staged or being merged.
    expect(beforeKill2.destination).toBeLessThan(beforeKill2.items);

    // Act 3: kill -9 while rows are staged for (or in) a merge.
    up = await startUp();
    const merging = await waitUntil(async () => {
      const s = await status();
      return s && (s.mergeRunning || s.staged > 0) ? s : undefined;
    }, 'staged rows or a running merge', 60_000);
    await kill9(up);
    expect(merging.mergeRunning || merging.staged > 0).toBe(true);

    // Act 4: kill -9 of a stack still replaying what the earlier runs left, with new writes arriving.
    up = await startUp();
    const late = startCli(['generate', '50', '--seed', '23', ...at]);
    await late.exited;
    await kill9(up);

    // Assess: a plain up drains everything and verify is clean.
    up = await startUp();
    const drained = await waitUntil(
      async () => {
        const s = await status();
        return s && s.inStream === 0 && s.loadQueue === 0 && s.staged === 0 && !s.mergeRunning && s.destination === s.items ? s : undefined;
      },
      'the pipeline to drain',
      120_000,
    );
    const verify = await cli('verify', '--json', '--settle', '5');
    expect(JSON.parse(verify.out)).toMatchObject({ ok: true });
    expect(verify.code).toBe(0);
    expect(drained.items).toBeGreaterThanOrEqual(100 + 400);
    expect(drained).toMatchObject({ quarantined: 0, deadLettered: 0 });
    const history = JSON.parse((await cli('sql', 'select count(*)::int as n, count(distinct eventId)::int as events from openflow_insclaim_event_hist_tbl', '--json')).out) as { n: number; events: number }[];
    expect(history[0]!.n).toBe(history[0]!.events);
    // generate only inserts new claims: exactly one INSERT per item, none twice under another eventID either.
    expect(history[0]!.n).toBe(drained.items);
    up.signal('SIGINT');
    expect((await up.exited).code).toBe(0);
  });

  it('up --fresh starts empty', async () => {
    // Prepare: claims in the state directory, written here (so the test does not rest on what another test left).
    const earlier = await startUp();
    const generated = await cli('generate', '5', '--seed', '24');
    expect(generated).toMatchObject({ code: 0 });
    expect((await status())?.items).toBeGreaterThanOrEqual(5);
    earlier.signal('SIGINT');
    expect((await earlier.exited).code).toBe(0);
    // Act
    const up = await startUp(['--fresh']);
    const s = (await status())!;
    up.signal('SIGINT');
    await up.exited;
    // Assess
    expect(up.stdout()).toMatch(/^ {2}state {6}empty at start/m);
    expect(s).toMatchObject({ items: 0, history: 0, destination: 0, loadQueue: 0, inStream: 0 });
  });

  it('up --help says that up resumes and how to start fresh', async () => {
    // Act
    const help = await cli('up', '--help');
    // Assess
    expect(help.out).toMatch(/up resumes where the last run stopped/);
    expect(help.out).toMatch(/^ {2}--fresh {12}start empty/m);
  });
});
