/**
 * Test helper: runs a TypeScript entry point in a child process (`node --import tsx FILE ARGS`), in its own process
 * group, so a test can kill it and everything it started (the SQS emulator's process) at once — also when the test
 * fails or times out first. A stack the child starts forks its children from local/dist while that is current
 * (see compiledStackEnv in node-entry.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { compiledStackEnv } from './node-entry';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const LOADER = pathToFileURL(require.resolve('tsx')).href;
const live = new Set<ChildProcess>();

/** A child started by {@link startTsChild}. */
export interface TsChild {
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code when the process has ended and its output is read. */
  readonly exited: Promise<number | null>;
  /** Resolves when stdout matches; rejects with the output so far if the process ends first. */
  waitForOutput(pattern: RegExp): Promise<RegExpMatchArray>;
  signal(signal: NodeJS.Signals): void;
  /** SIGKILLs the process group (no-op when already gone). */
  kill(): void;
}

export function startTsChild(file: string, args: readonly string[] = [], env: Record<string, string> = {}): TsChild {
  const child = spawn(process.execPath, ['--import', LOADER, file, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...compiledStackEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  live.add(child);
  let out = '';
  let err = '';
  let ended = false;
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      ended = true;
      live.delete(child);
      resolve(code);
    }),
  );
  const kill = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  return {
    stdout: () => out,
    stderr: () => err,
    exited,
    signal: (signal) => child.kill(signal),
    kill,
    async waitForOutput(pattern) {
      for (;;) {
        const match = out.match(pattern);
        if (match) return match;
        if (ended) throw new Error(`the child exited before printing ${pattern}\n--- stdout\n${out.slice(-3000)}\n--- stderr\n${err.slice(-3000)}`);
        await sleep(50);
      }
    },
  };
}

/** Kills every child this module started that is still running. */
export function killAllTsChildren(): void {
  for (const child of live) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}
process.once('exit', killAllTsChildren);
