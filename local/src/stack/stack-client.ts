/**
 * How another process finds and talks to a running stack: the stack writes `<stateDir>/stack.json` (owner-only
 * permissions: it holds the token) and answers control calls on `/_stack/<name>` with that token.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
