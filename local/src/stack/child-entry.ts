/**
 * Where a child process's entry file is: next to this module, `<name>.ts` (run under tsx) from source, `<name>.js` when
 * the stack runs compiled (local/dist mirrors the sources one file per file, so the entry is beside its client).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** The entry file of child `name` and the Node flags it needs; `extraArgv` first (e.g. `--cpu-prof`). */
export function childEntry(name: string, extraArgv: readonly string[] = [], dir: string = __dirname): { file: string; execArgv: string[] } {
  const compiled = path.join(dir, `${name}.js`);
  if (!__filename.endsWith('.ts') && existsSync(compiled)) return { file: compiled, execArgv: [...extraArgv] };
  return { file: path.join(dir, `${name}.ts`), execArgv: [...extraArgv, '--import', pathToFileURL(require.resolve('tsx')).href] };
}
