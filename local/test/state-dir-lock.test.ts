/**
 * The state directory, in this process: created owner-only whatever the umask, a path that cannot be a directory
 * refused at once, a directory that is not the stack's never changed; and its lock: exclusive, re-entrant, taken
 * over from a process that is gone, removed only by its owner.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensurePrivateDir, lockStateDir, StateDirError, StateDirLockedError, tightenStateFiles } from '../src/stack/stack-client';

const mode = (file: string) => statSync(file).mode & 0o777;
/** A pid no process has any more: a child that already exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid;

describe('the state directory', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-statedir-'));
  let umask: number;

  beforeAll(() => {
    umask = process.umask(0o022);
  });
  afterAll(() => {
    process.umask(umask);
    rmSync(root, { recursive: true, force: true });
  });

  it('is created 0700, with its missing parents, under a permissive umask', () => {
    // Act
    const dir = path.join(root, 'new', 'nested', 'state');
    ensurePrivateDir(dir);
    // Assess
    expect(mode(dir)).toBe(0o700);
    expect(mode(path.join(root, 'new'))).toBe(0o700);
  });

  it('of an earlier run is made private, and so are the stack files in it', () => {
    // Prepare
    const dir = path.join(root, 'earlier');
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(path.join(dir, 'warehouse.duckdb'), 'x', { mode: 0o644 });
    writeFileSync(path.join(dir, 'handlers.log'), 'x', { mode: 0o664 });
    // Act
    ensurePrivateDir(dir);
    tightenStateFiles(dir);
    // Assess
    expect(mode(dir)).toBe(0o700);
    expect(mode(path.join(dir, 'warehouse.duckdb'))).toBe(0o600);
    expect(mode(path.join(dir, 'handlers.log'))).toBe(0o600);
  });

  it('that others can read and that holds files not the stack\'s is refused and left as it was', () => {
    // Prepare
    const dir = path.join(root, 'someones');
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(path.join(dir, 'notes.txt'), 'x', { mode: 0o644 });
    // Act + Assess
    expect(() => ensurePrivateDir(dir)).toThrow(new StateDirError(`cannot use ${dir} as the state directory: others can read it and it holds files that are not the stack's (give a new or empty directory)`));
    expect(mode(dir)).toBe(0o755);
  });

  it.each([
    ['an existing file', () => path.join(root, 'a-file'), (p: string) => `cannot use ${p} as the state directory: ${p} exists and is not a directory`],
    ['a path below a file', () => path.join(root, 'a-file', 'sub'), (p: string) => `cannot use ${p} as the state directory: ${path.dirname(p)} exists and is not a directory`],
    ['a path under /proc, where mkdir -p never returns', () => '/proc/x/y', () => 'cannot create the state directory /proc/x/y: ENOENT (no such file or directory) on /proc/x'],
  ])('on %s fails at once with one line', (_name, given, message) => {
    // Prepare
    writeFileSync(path.join(root, 'a-file'), 'x');
    const dir = given();
    // Act + Assess
    expect(() => ensurePrivateDir(dir)).toThrow(new StateDirError(message(dir)));
  });
});

describe('the state directory lock', () => {
  let dir: string;
  const lockFile = () => path.join(dir, 'stack.lock');

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is taken with this pid, owner-only, re-entrant in this process, and removed on release', () => {
    // Act
    const lock = lockStateDir(dir);
    const again = lockStateDir(dir);
    again.release();
    const heldAfterInnerRelease = existsSync(lockFile());
    // Assess
    expect(lock.owned).toBe(true);
    expect(again.owned).toBe(false);
    expect(heldAfterInnerRelease).toBe(true);
    expect(readFileSync(lockFile(), 'utf8').trim()).toBe(String(process.pid));
    expect(mode(lockFile())).toBe(0o600);
    lock.release();
    expect(existsSync(lockFile())).toBe(false);
  });

  it('is refused while a live process holds it, which keeps it', () => {
    // Prepare: the lock of a live process (this test's parent).
    writeFileSync(lockFile(), `${process.ppid}\n`);
    // Act
    let error: unknown;
    try {
      lockStateDir(dir);
    } catch (e) {
      error = e;
    }
    // Assess
    expect(error).toBeInstanceOf(StateDirLockedError);
    expect(error).toMatchObject({ pid: process.ppid, stateDir: dir });
    expect(readFileSync(lockFile(), 'utf8').trim()).toBe(String(process.ppid));
  });

  it.each([
    ['a process that is gone (kill -9)', () => `${deadPid()}\n`],
    ['no pid (a torn write)', () => 'garbage'],
  ])('is taken over from %s', (_name, content) => {
    // Prepare
    writeFileSync(lockFile(), content());
    // Act
    const lock = lockStateDir(dir);
    // Assess
    expect(lock.owned).toBe(true);
    expect(readFileSync(lockFile(), 'utf8').trim()).toBe(String(process.pid));
    lock.release();
  });

  it('is not removed by a former owner once another process has it', () => {
    // Prepare
    const lock = lockStateDir(dir);
    writeFileSync(lockFile(), `${process.ppid}\n`);
    // Act
    lock.release();
    // Assess
    expect(readFileSync(lockFile(), 'utf8').trim()).toBe(String(process.ppid));
  });
});
