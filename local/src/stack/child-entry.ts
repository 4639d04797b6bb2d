/**
 * Where a child process's entry file is: next to this module, `<name>.ts` (run under tsx) from source, `<name>.js` when
 * the stack runs compiled (local/dist mirrors the sources one file per file, so the entry is beside its client).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Set to a directory to have every child process of the stack (the AWS processes, the handler process) write a CPU
 * profile there when it exits (`node --cpu-prof`). NODE_OPTIONS cannot carry `--cpu-prof`, and a profile of the
 * stack's own process alone misses most of a drain's CPU.
 */
export const CHILD_PROFILE_ENV = 'CLAIMS_CDC_CHILD_PROFILE_DIR';

/** `--cpu-prof` flags when CHILD_PROFILE_ENV names a directory, else none. */
export function profileArgv(): string[] {
  const dir = process.env[CHILD_PROFILE_ENV];
  // Resolved here: a child may run in another working directory.
  return dir ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(dir)] : [];
}

/** The entry file of child `name` and the Node flags it needs (the profile flags first, when asked for). */
export function childEntry(name: string, dir: string = __dirname): { file: string; execArgv: string[] } {
  const compiled = path.join(dir, `${name}.js`);
  if (!__filename.endsWith('.ts') && existsSync(compiled)) return { file: compiled, execArgv: profileArgv() };
  return { file: path.join(dir, `${name}.ts`), execArgv: [...profileArgv(), '--import', pathToFileURL(require.resolve('tsx')).href] };
}
