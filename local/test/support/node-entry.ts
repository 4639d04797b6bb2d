/**
 * Test helper: how a child process runs one of the repository's TypeScript entry points. While local/dist is current
 * (built by `npm ci` through the root `prepare` script, or `npm run build`, and no source newer than it), the compiled
 * copy of the file runs with plain node, as the `claims-cdc` bin does: the same code, without tsx compiling it again at
 * every start in the CLI and in each process the stack forks. When local/dist is stale or missing (a developer editing
 * sources), or CLAIMS_CDC_FROM_SOURCE=1 asks for it, or the file has no compiled copy (test fixtures), the TypeScript
 * runs under tsx's loader instead. Decided at each start, so an edit made while a suite runs is picked up.
 *
 * Only what local/dist is built to run is started from it: the CLI and the stack. The chaos harness imports the shared
 * test support, which local/dist does not mirror, so it always runs from the sources (support/ts-child.ts); the child
 * processes of the stack it starts (AWS processes, handler process) can still come from local/dist (compiledStackEnv).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { COMPILED_STACK_DIR_ENV } from '../../src/stack/child-entry';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const LOADER = pathToFileURL(require.resolve('tsx')).href;
// Plain CommonJS shared with the bin (no types of its own).
const dist = require('../../bin/dist') as { staleReason(root?: string): string | undefined };

/** Whether local/dist may be used now: current, and not declined with CLAIMS_CDC_FROM_SOURCE=1. */
const distUsable = (): boolean => process.env.CLAIMS_CDC_FROM_SOURCE !== '1' && dist.staleReason() === undefined;

/** The compiled copy of `file` in local/dist, if it exists. */
function compiledCopy(file: string): string | undefined {
  const relative = path.relative(REPO_ROOT, file);
  if (relative.startsWith('..') || !relative.endsWith('.ts')) return undefined;
  const compiled = path.join(REPO_ROOT, 'local', 'dist', relative.replace(/\.ts$/, '.js'));
  return existsSync(compiled) ? compiled : undefined;
}

/** The compiled copy of `file` in local/dist when it exists and local/dist is current, else undefined. */
export function compiledEntry(file: string): string | undefined {
  const compiled = compiledCopy(file);
  return compiled && distUsable() ? compiled : undefined;
}

/**
 * Environment for a stack run from the TypeScript sources (in jest, or in a child under tsx): while local/dist is
 * current, the stack forks its children (the AWS processes, and the handler process with its handler's compiled copy)
 * from local/dist with plain node (see COMPILED_STACK_DIR_ENV in child-entry.ts); else nothing, and they run under tsx.
 */
export function compiledStackEnv(): Record<string, string> {
  const dir = path.join(REPO_ROOT, 'local', 'dist', 'local', 'src', 'stack');
  return distUsable() && existsSync(path.join(dir, 'aws-process.js')) ? { [COMPILED_STACK_DIR_ENV]: dir } : {};
}

/** node's arguments that run `file` (a .ts under the repository root) with `args`. */
export function nodeArgs(file: string, args: readonly string[]): string[] {
  const compiled = compiledEntry(file);
  return compiled ? [compiled, ...args] : ['--import', LOADER, file, ...args];
}

/** Whether this process loads modules from local/dist (see requireEntry); decided at the first call. */
let fromDist: boolean | undefined;

/**
 * The module at `file` (a .ts under the repository root, loaded in a child process a test starts): its compiled copy
 * while local/dist is current, else the TypeScript itself (the child runs under tsx then). A stack loaded from
 * local/dist forks its own processes from local/dist too, without tsx; what it shares with the caller (the warehouse
 * singleton) must be loaded the same way, so it is one module instance.
 */
export function requireEntry<T>(file: string): T {
  // Decided once per process: a source edited meanwhile must not leave the process with modules from both trees.
  fromDist ??= distUsable();
  return require((fromDist ? compiledCopy(file) : undefined) ?? file) as T;
}
