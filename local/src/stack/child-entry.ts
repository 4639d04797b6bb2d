/**
 * Where a child process's entry file is: next to this module, `<name>.ts` (run under tsx) from source, `<name>.js` when
 * the stack runs compiled (local/dist mirrors the sources one file per file, so the entry is beside its client).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Whether this module runs from the TypeScript sources (jest, tsx), not from local/dist or a bundle. */
const FROM_SOURCE = __filename.endsWith('.ts');

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

/**
 * Tests: set to local/dist's compiled copy of this directory to have a stack running from the TypeScript sources (in
 * jest, or under tsx) fork its children from there with plain node, instead of compiling them under tsx at every start
 * (the transform's handler module loads in 0.37 s of CPU compiled, 0.87 s under tsx). The AWS processes load nothing of the
 * caller's sources; a handler process loads the compiled copy of its handler module (see {@link compiledModule}), and
 * falls back to tsx when there is none (a test's own handler). Unset, as users run it: the entry beside this module.
 */
export const COMPILED_STACK_DIR_ENV = 'CLAIMS_CDC_COMPILED_STACK_DIR';

/** The entry file of child `name` and the Node flags it needs (the profile flags first, when asked for). */
export function childEntry(name: string, dir: string = __dirname): { file: string; execArgv: string[] } {
  const compiledDir = process.env[COMPILED_STACK_DIR_ENV];
  if (compiledDir && FROM_SOURCE) return { file: path.join(compiledDir, `${name}.js`), execArgv: profileArgv() };
  const compiled = path.join(dir, `${name}.js`);
  if (!FROM_SOURCE && existsSync(compiled)) return { file: compiled, execArgv: profileArgv() };
  return sourceEntry(name, dir);
}

/** Child `name` from its TypeScript source, under tsx. */
const sourceEntry = (name: string, dir: string): { file: string; execArgv: string[] } => ({
  file: path.join(dir, `${name}.ts`),
  execArgv: [...profileArgv(), '--import', pathToFileURL(require.resolve('tsx')).href],
});

/**
 * The entry of a handler process for `handlerModule` and the module it is to import: the compiled entry with the
 * module's compiled copy when one exists (see COMPILED_STACK_DIR_ENV), else the entry from source with the module as
 * given (a compiled child cannot import TypeScript).
 */
export function handlerChildEntry(handlerModule: string, dir: string = __dirname): { file: string; execArgv: string[]; handlerModule: string } {
  if (!FROM_SOURCE || !process.env[COMPILED_STACK_DIR_ENV]) return { ...childEntry('handler-process', dir), handlerModule };
  const compiled = compiledModule(handlerModule);
  return compiled ? { ...childEntry('handler-process', dir), handlerModule: compiled } : { ...sourceEntry('handler-process', dir), handlerModule };
}

/**
 * The compiled copy of a source module (a path without extension under the repository root, as serverless.yml names
 * a handler) when the stack runs from source and COMPILED_STACK_DIR_ENV names local/dist's stack directory; else
 * undefined. local/dist mirrors the repository one file per file, so the copy is at the same relative path.
 */
function compiledModule(sourceModule: string): string | undefined {
  const compiledDir = process.env[COMPILED_STACK_DIR_ENV];
  if (!compiledDir || !FROM_SOURCE) return undefined;
  const relative = path.relative(path.resolve(__dirname, '..', '..', '..'), sourceModule);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
  const compiled = path.join(path.resolve(compiledDir, '..', '..', '..'), `${relative.replace(/\.ts$/, '')}.js`);
  return existsSync(compiled) ? compiled : undefined;
}
