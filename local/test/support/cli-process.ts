/**
 * Test helper: runs the claims-cdc CLI in a child process, as a user would, and makes sure no child outlives the
 * test. A stack needs its own process (handler modules keep the environment of the first stack they were imported
 * for), so `up` and `demo` are always tested this way.
 *
 * Children run the compiled CLI in local/dist with plain node while it is current, else `node --import tsx main.ts`
 * (see node-entry.ts; no wrapper process in between either way), in their own process group, so a cleanup can kill
 * the CLI and everything it started (the SQS emulator's process) at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { nodeArgs, REPO_ROOT } from './node-entry';

export { REPO_ROOT };
const MAIN = path.join(REPO_ROOT, 'local', 'src', 'cli', 'main.ts');

const live = new Set<ChildProcess>();

/** Kills every child started by this module that is still running (and its process group). */
export function killAllCliProcesses(): void {
  for (const child of live) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}
process.once('exit', killAllCliProcesses);

/** A CLI process started by {@link startCli}. */
export interface CliProcess {
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout matches; rejects (with the output so far) after `timeoutMs` or if the process exits first. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  signal(signal: NodeJS.Signals): void;
}

/** Starts `claims-cdc ARGS` in a child process. */
export function startCli(args: readonly string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, nodeArgs(MAIN, args), {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  let ended = false;
  void exited.then(() => (ended = true));
  return {
    pid: child.pid as number,
    stdout: () => out,
    stderr: () => err,
    exited,
    signal: (signal) => child.kill(signal),
    async waitForOutput(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = out.match(pattern);
        if (match) return match;
        if (ended || Date.now() > deadline) {
          throw new Error(`${ended ? 'the CLI exited' : 'timed out'} before printing ${pattern}\n--- stdout\n${out}\n--- stderr\n${err}`);
        }
        await sleep(50);
      }
    },
  };
}

/** Runs `claims-cdc ARGS` to its end (killed after `timeoutMs`). */
export async function runCli(args: readonly string[], timeoutMs = 90_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = startCli(args);
  const timer = setTimeout(() => {
    try {
      process.kill(-cli.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, timeoutMs);
  const { code } = await cli.exited;
  clearTimeout(timer);
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}
