/**
 * The dependencies of local/src point one way: commands (cli/) on top, then the features, then the console helpers,
 * then the stack (and below it all, the shared core). A module may import its own layer or any layer below it; an
 * import that points up (a feature reaching into a command, the stack reaching into a feature) fails this test.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const SRC = path.join(__dirname, '..', 'src');

/** Each top-level folder of local/src and its height: a module may import only folders at its height or lower. */
const LAYERS: Readonly<Record<string, number>> = {
  cli: 3,
  demo: 2,
  chaos: 2,
  quarantine: 2,
  inspect: 2,
  backfill: 2,
  'live-page': 2,
  replay: 2,
  'aws-target': 2,
  console: 1,
  stack: 0,
  types: 0,
};

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(ts|mts|mjs)$/.test(entry.name) ? [full] : [];
  });

/** The module specifiers of every static import, re-export and dynamic `import()` in a file. */
export const importedSpecifiers = (text: string): string[] =>
  [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => (m[1] ?? m[2])!);

/** The top folder of local/src a relative import from `file` lands in, or undefined when it leaves local/src. */
const layerOfTarget = (file: string, specifier: string): string | undefined => {
  if (!specifier.startsWith('.')) return undefined;
  const relative = path.relative(SRC, path.resolve(path.dirname(file), specifier));
  return relative.startsWith('..') ? undefined : relative.split(path.sep)[0];
};

const topFolder = (file: string): string => path.relative(SRC, file).split(path.sep)[0]!;

describe('layering of local/src', () => {
  it('knows the layer of every top-level folder', () => {
    // Prepare
    const folders = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    // Assess
    expect(folders.filter((folder) => LAYERS[folder] === undefined)).toEqual([]);
  });

  it('has no import pointing to a higher layer', () => {
    // Act
    const upward = sourceFiles(SRC).flatMap((file) => {
      const from = topFolder(file);
      return importedSpecifiers(readFileSync(file, 'utf8')).flatMap((specifier) => {
        const to = layerOfTarget(file, specifier);
        return to !== undefined && (LAYERS[to] ?? 0) > (LAYERS[from] ?? 0) ? [`${path.relative(SRC, file)} -> ${specifier}`] : [];
      });
    });
    // Assess
    expect(upward).toEqual([]);
  });

  it.each([
    ["import { x } from '../cli/io';", ['../cli/io']],
    ["import type {\n  A,\n  B,\n} from '../stack';", ['../stack']],
    ["export { y } from './y';", ['./y']],
    ["const m = await import('../../quarantine/command');", ['../../quarantine/command']],
    ["// a comment mentioning from 'nowhere' is not an import", []],
  ])('reads the imports of %j', (text, expected) => {
    // Assess
    expect(importedSpecifiers(text)).toEqual(expected);
  });
});
