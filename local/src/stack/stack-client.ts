/**
 * How another process finds and talks to a running stack: the stack writes `<stateDir>/stack.json` (owner-only
 * permissions: it holds the token) and answers control calls on `/_stack/<name>` with that token.
 *
 * Also the state directory itself: it holds PHI (the warehouse, the logs, the quarantine), so it is owner-only, and
 * one stack at a time owns it, through `<stateDir>/stack.lock`.
 */
import {
  chmodSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { AwsEndpoints } from './aws-env';

/** What a running stack publishes about itself. */
export interface StackInfo {
  pid: number;
  apiUrl: string;
  token: string;
  startedAt: string;
  stateDir: string;
  endpoints: Partial<AwsEndpoints>;
  /** The DynamoDB emulator itself, behind the capture: its writes reach no stream (`generate --untracked`). */
  dynamodbUncaptured?: string;
}

/** Raised for a failed control call; `statusCode` is the HTTP status (0 when the stack could not be reached). */
export class StackControlError extends Error {
  override readonly name = 'StackControlError';
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

const FILE = 'stack.json';

/** Path of the state file in a state directory. */
export function stackInfoPath(stateDir: string): string {
  return path.join(stateDir, FILE);
}

/** Writes the state file, readable by its owner only. */
export function writeStackInfo(info: StackInfo): void {
  writeFileSync(stackInfoPath(info.stateDir), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
}

/** Removes the state file if it still describes this process's stack. */
export function removeStackInfo(stateDir: string, pid = process.pid): void {
  const info = readStackInfo(stateDir, { includeDead: true });
  if (info && info.pid === pid) rmSync(stackInfoPath(stateDir), { force: true });
}

/** The running stack of a state directory, or undefined (no file, or its process is gone). */
export function readStackInfo(stateDir: string, options: { includeDead?: boolean } = {}): StackInfo | undefined {
  const file = stackInfoPath(stateDir);
  if (!existsSync(file)) return undefined;
  let info: StackInfo;
  try {
    info = JSON.parse(readFileSync(file, 'utf8')) as StackInfo;
  } catch {
    return undefined;
  }
  if (!options.includeDead && !processAlive(info.pid)) return undefined;
  return info;
}

/** Calls `/_stack/<name>` on a running stack; POSTs `body` as JSON when given, else GETs. */
export async function callStackControl<T = unknown>(
  stack: Pick<StackInfo, 'apiUrl' | 'token'>,
  name: string,
  body?: unknown,
  options: { query?: Record<string, string>; timeoutMs?: number } = {},
): Promise<T> {
  const url = new URL(`/_stack/${name}`, stack.apiUrl);
  for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
  let response: Response;
  try {
    response = await fetch(url, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${stack.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
    });
  } catch (error) {
    throw new StackControlError(0, `cannot reach the stack at ${stack.apiUrl}: ${(error as Error).message}`);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (!response.ok) {
    const message = (parsed as { error?: string; message?: string } | null)?.error ?? (parsed as { message?: string } | null)?.message ?? text;
    throw new StackControlError(response.status, `${name}: ${message}`);
  }
  return parsed as T;
}

/** Raised when a state directory cannot be created, made private or locked; the message is one line. */
export class StateDirError extends Error {
  override readonly name = 'StateDirError';
}

/** Raised when another live process holds a state directory (its lock, or its state file); `apiUrl` when known. */
export class StateDirLockedError extends StateDirError {
  constructor(
    readonly stateDir: string,
    readonly pid: number,
    readonly apiUrl?: string,
  ) {
    super(`a stack is already running in ${stateDir} (pid ${pid}${apiUrl ? `, API ${apiUrl}` : ''})`);
  }
}

/**
 * Claims a state directory for a stack: makes it private (it will hold PHI), takes its lock, and tightens the files
 * an earlier run left. Throws StateDirLockedError when another stack has it (also one of a version without the
 * lock, found by its state file), StateDirError when it cannot be used. Call it before touching anything in the
 * directory: of two stacks started at once on it, the second then leaves everything to the first.
 */
export function claimStateDir(stateDir: string): StateDirLock {
  ensurePrivateDir(stateDir);
  let lock: StateDirLock;
  try {
    lock = lockStateDir(stateDir);
  } catch (error) {
    if (!(error instanceof StateDirLockedError)) throw error;
    const info = readStackInfo(stateDir);
    throw info?.pid === error.pid ? new StateDirLockedError(stateDir, info.pid, info.apiUrl) : error;
  }
  // A state file of this very process is fine only inside a claim this process already holds (`up`, then its stack).
  const other = readStackInfo(stateDir);
  if (other && (other.pid !== process.pid || lock.owned)) {
    lock.release();
    throw new StateDirLockedError(stateDir, other.pid, other.apiUrl);
  }
  tightenStateFiles(stateDir);
  return lock;
}

/**
 * The files a stack keeps at the top of its state directory. A directory holding one of them (or nothing) is a
 * state directory, which may be made private; any other existing directory is the user's and is never changed.
 */
const STATE_FILES = [
  'stack.json',
  'stack.lock',
  'warehouse.duckdb',
  'warehouse.duckdb.wal',
  'handlers.log',
  'quarantine.jsonl',
  // The embedded stack's persisted pipeline (persistence.ts): directories are tightened by the stack itself.
  'sqs.journal',
  'capture.journal',
  'kinesis-checkpoints.json',
  'dynamodb',
  'kinesis',
];

/**
 * Creates a state directory (and its missing parents) owner-only (0700): it will hold PHI. An existing one that
 * others can read is made private if it is a state directory (of an earlier run, or empty) and refused otherwise,
 * so a mistyped `--state-dir` never changes the mode of a directory that is not the stack's (a home, a `/proc`).
 *
 * Each missing component is created on its own: Node's recursive mkdir never returns on some paths (`/proc/x/y`
 * loops on ENOENT), and a component that cannot be created must fail at once with the reason.
 */
export function ensurePrivateDir(dir: string): void {
  const target = path.resolve(dir);
  const missing: string[] = [];
  for (let current = target; ; current = path.dirname(current)) {
    const kind = entryKind(current);
    if (kind === 'directory') break;
    if (kind === 'other') throw new StateDirError(`cannot use ${target} as the state directory: ${current} exists and is not a directory`);
    missing.unshift(current);
    if (path.dirname(current) === current) break;
  }
  for (const component of missing) {
    try {
      mkdirSync(component, { mode: 0o700 });
      // The mode given to mkdir is filtered by the umask: set it exactly.
      chmodSync(component, 0o700);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && entryKind(component) === 'directory') continue; // made meanwhile
      throw new StateDirError(`cannot create the state directory ${target}: ${reason(error)}`);
    }
  }
  if (missing.length === 0) makeExistingDirPrivate(target);
}

function makeExistingDirPrivate(target: string): void {
  let entries: string[];
  try {
    if ((statSync(target).mode & 0o077) === 0) return;
    entries = readdirSync(target);
  } catch (error) {
    throw new StateDirError(`cannot use ${target} as the state directory: ${reason(error)}`);
  }
  if (entries.length > 0 && !entries.some((name) => STATE_FILES.includes(name))) {
    throw new StateDirError(`cannot use ${target} as the state directory: others can read it and it holds files that are not the stack's (give a new or empty directory)`);
  }
  try {
    chmodSync(target, 0o700);
  } catch (error) {
    throw new StateDirError(`cannot make the state directory ${target} private: ${reason(error)}`);
  }
}

/**
 * Takes group and other access away from the stack's files in a state directory (written by an earlier run, before
 * the directory was private). Only the stack's own file names are touched; entries of another owner are left alone.
 */
export function tightenStateFiles(dir: string): void {
  for (const name of STATE_FILES) {
    const file = path.join(dir, name);
    try {
      const stat = lstatSync(file);
      if (!stat.isFile() || stat.uid !== process.getuid?.() || (stat.mode & 0o077) === 0) continue;
      chmodSync(file, stat.mode & 0o700);
    } catch {
      // Absent, removed meanwhile, or not ours to change: nothing to tighten.
    }
  }
}

/** The lock a process holds on a state directory; `release` is a no-op when this process already held it. */
export interface StateDirLock {
  readonly owned: boolean;
  release(): void;
}

const LOCK_FILE = 'stack.lock';

/**
 * Takes `<stateDir>/stack.lock` for this process, atomically: the pid is written to a file of this process's own
 * and hard-linked to the lock's name, which fails when the lock exists (so the lock is never seen empty). A lock whose
 * process is gone (`kill -9`) is taken over. Re-entrant: a process that holds the lock gets a no-op handle.
 * Throws StateDirLockedError when a live process holds it, StateDirError when it cannot be taken at all.
 */
export function lockStateDir(stateDir: string): StateDirLock {
  const file = path.join(stateDir, LOCK_FILE);
  const mine = `${file}.${process.pid}`;
  try {
    writeFileSync(mine, `${process.pid}\n`, { mode: 0o600 });
  } catch (error) {
    throw new StateDirError(`cannot lock the state directory ${stateDir}: ${reason(error)}`);
  }
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        linkSync(mine, file);
        return ownedLock(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new StateDirError(`cannot lock the state directory ${stateDir}: ${reason(error)}`);
      }
      const holder = lockHolder(file);
      if (holder === process.pid) return { owned: false, release: () => undefined };
      if (holder !== undefined && processAlive(holder)) throw new StateDirLockedError(stateDir, holder);
      removeStaleLock(file, holder, stateDir);
    }
    throw new StateDirError(`cannot lock the state directory ${stateDir}: its lock keeps changing hands`);
  } finally {
    rmSync(mine, { force: true });
  }
}

function ownedLock(file: string): StateDirLock {
  // Also on process.exit (a second Ctrl-C exits at once): a lock left behind would only be taken over as stale.
  const onExit = () => release();
  const release = () => {
    process.off('exit', onExit);
    if (lockHolder(file) === process.pid) rmSync(file, { force: true });
  };
  process.on('exit', onExit);
  return { owned: true, release };
}

/** The pid a lock file names; undefined when it is gone or does not hold a pid (then it is stale). */
function lockHolder(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes a lock whose process is gone. It is renamed away first, so of two processes taking it over only one moves
 * it; if what was moved is no longer the stale lock (another process took it over in between), it is put back.
 */
function removeStaleLock(file: string, stalePid: number | undefined, stateDir: string): void {
  const moved = `${file}.${process.pid}.stale`;
  try {
    renameSync(file, moved);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // Someone else moved it: try again.
    throw new StateDirError(`cannot take over the stale lock of ${stateDir}: ${reason(error)}`);
  }
  const holder = lockHolder(moved);
  if (holder !== stalePid && holder !== undefined && processAlive(holder)) {
    try {
      linkSync(moved, file);
    } catch {
      // A third process took the lock meanwhile; the next attempt finds it held.
    }
  }
  unlinkSync(moved);
}

function entryKind(file: string): 'directory' | 'other' | 'missing' {
  try {
    return statSync(file).isDirectory() ? 'directory' : 'other';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOTDIR: a parent is a file; the walk up reaches it and names it.
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw new StateDirError(`cannot use ${file} as the state directory: ${reason(error)}`);
  }
}

function reason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ? `${e.code} (${e.message.replace(/^[A-Z]+: /, '').split(',')[0]})${e.path ? ` on ${e.path}` : ''}` : String(e.message ?? error);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
