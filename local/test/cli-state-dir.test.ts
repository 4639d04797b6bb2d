/**
 * `claims-cdc up` and its state directory, as a user meets them: two `up` started at the same instant on one
 * directory (exactly one runs; the other says so in one line and touches nothing, so the running stack stays
 * findable and its warehouse stays put), and a `--state-dir` that cannot be created (one line, exit 1, at once).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../src/cli/main';
import { readStackInfo } from '../src/stack/stack-client';
import { killAllCliProcesses, runCli, startCli, type CliProcess } from './support/cli-process';

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
};

describe('two claims-cdc up started at once on one state directory', () => {
  const stateDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-race-')), 'state');
  const at = ['--state-dir', stateDir];
  let winner: CliProcess;
  let loser: CliProcess;
  let loserExit: { code: number | null; signal: NodeJS.Signals | null };

  const cli = async (...argv: string[]) => {
    const io = capture();
    const code = await run([...argv, ...at], io.io);
    return { code, out: io.out.join('\n'), err: io.err.join('\n') };
  };

  beforeAll(async () => {
    // Act: both at once, on a directory that does not exist yet.
    const both = [startCli(['up', ...at]), startCli(['up', ...at])] as const;
    const first = await Promise.race(both.map((p) => p.exited.then((exit) => ({ p, exit }))));
    loser = first.p;
    loserExit = first.exit;
    winner = both[0] === loser ? both[1] : both[0];
    await winner.waitForOutput(/^Ctrl-C stops the stack\.$/m);
  }, 90_000);

  afterAll(() => {
    killAllCliProcesses();
    rmSync(path.dirname(stateDir), { recursive: true, force: true });
  });

  it('the other exits 1 with one line naming the running stack, and prints nothing else', () => {
    // Assess
    expect(loserExit).toEqual({ code: 1, signal: null });
    expect(loser.stdout()).toBe('');
    expect(loser.stderr()).toMatch(
      new RegExp(`^claims-cdc up: a stack is already running in ${stateDir} \\(pid ${winner.pid}(, API http://127\\.0\\.0\\.1:\\d+)?\\); use it, or stop it first\\n$`),
    );
  });

  it('the running stack keeps its state file and lock, and status finds it', async () => {
    // Act
    const status = await cli('status', '--json');
    // Assess
    expect(readStackInfo(stateDir)?.pid).toBe(winner.pid);
    expect(readFileSync(path.join(stateDir, 'stack.lock'), 'utf8').trim()).toBe(String(winner.pid));
    expect(status.code).toBe(0);
    expect(JSON.parse(status.out)).toMatchObject({ pid: winner.pid, stateDir });
  });

  it('a third up is refused too and leaves the running stack\'s warehouse in place', async () => {
    // Act
    const third = await cli('up');
    // Assess
    expect(third.code).toBe(1);
    expect(third.err).toMatch(/^claims-cdc up: a stack is already running in /);
    expect(existsSync(path.join(stateDir, 'warehouse.duckdb'))).toBe(true);
    expect((await cli('sql', 'select count(*) as n from openflow_insclaim_dest_tbl', '--json')).code).toBe(0);
  });

  it('the winner releases the lock and removes its state file when it stops', async () => {
    // Act
    winner.signal('SIGINT');
    const exit = await winner.exited;
    // Assess
    expect(exit).toEqual({ code: 0, signal: null });
    expect(existsSync(path.join(stateDir, 'stack.json'))).toBe(false);
    expect(existsSync(path.join(stateDir, 'stack.lock'))).toBe(false);
  });
});

describe('claims-cdc up --state-dir on a path that cannot be a directory', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-baddir-'));
  const file = path.join(root, 'a-file');
  writeFileSync(file, 'not a directory');

  afterAll(() => {
    killAllCliProcesses();
    rmSync(root, { recursive: true, force: true });
  });

  it.each([
    [['up', '--state-dir', file], `claims-cdc up: cannot use ${file} as the state directory: ${file} exists and is not a directory`],
    [['up', '--state-dir', path.join(file, 'sub')], `claims-cdc up: cannot use ${path.join(file, 'sub')} as the state directory: ${file} exists and is not a directory`],
    [['up', '--state-dir', '/proc/x/y'], 'claims-cdc up: cannot create the state directory /proc/x/y: ENOENT (no such file or directory) on /proc/x'],
    [['demo', '--state-dir', '/proc/x/y'], 'claims-cdc demo: cannot create the state directory /proc/x/y: ENOENT (no such file or directory) on /proc/x'],
  ])('%j fails at once: exit 1, one line', async (argv, message) => {
    // Act: killed after 30 s, so a hang fails the test instead of blocking it.
    const result = await runCli(argv, 30_000);
    // Assess
    expect(result).toEqual({ code: 1, stdout: '', stderr: `${message}\n` });
  }, 40_000);
});
