/**
 * scripts/prune-lambda-modules.js on a node_modules tree built here, one package per rule: what it keeps and what it
 * deletes is written out below, file by file (the packaging test checks the same script on snowflake-sdk's real tree).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './test-support/packaging';

const SCRIPT = join(REPO_ROOT, 'scripts', 'prune-lambda-modules.js');

/** A package: its package.json (an object, or raw text) and the files it holds besides. */
interface FixturePackage {
  readonly manifest: Record<string, unknown> | string;
  readonly files: readonly string[];
}

const writeTree = (root: string, packages: Record<string, FixturePackage>): void => {
  for (const [dir, pkg] of Object.entries(packages)) {
    const at = join(root, 'node_modules', dir);
    mkdirSync(at, { recursive: true });
    writeFileSync(join(at, 'package.json'), typeof pkg.manifest === 'string' ? pkg.manifest : JSON.stringify(pkg.manifest));
    for (const file of pkg.files) {
      mkdirSync(dirname(join(at, file)), { recursive: true });
      writeFileSync(join(at, file), '');
    }
  }
};

/** Every file left under node_modules, relative and sorted. */
const filesLeft = (root: string): string[] =>
  (readdirSync(join(root, 'node_modules'), { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(join(root, 'node_modules').length + 1))
    .sort();

const prune = (root: string): void => {
  execFileSync(process.execPath, [SCRIPT, root], { stdio: ['ignore', 'pipe', 'pipe'] });
};

describe('prune-lambda-modules', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'claims-cdc-prune-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it.each<[string, FixturePackage, string[]]>([
    [
      'a CommonJS main: the other dialects, declarations and maps go',
      { manifest: { main: 'dist/commonjs/index.js' }, files: ['dist/commonjs/index.js', 'dist/commonjs/index.js.map', 'dist/commonjs/index.d.ts', 'dist/esm/index.js', 'dist/browser/index.js', 'dist/react-native/index.js', 'dist/workerd/index.js', 'dist-es/index.js', 'types.d.cts', 'README.md'] },
      ['README.md', 'dist/commonjs/index.js', 'package.json'],
    ],
    [
      'require through module-sync (Node 22): its ESM build stays',
      { manifest: { exports: { '.': { 'module-sync': './dist/esm/index.mjs', require: './dist/cjs/index.js' } } }, files: ['dist/esm/index.mjs', 'dist/cjs/index.js'] },
      ['dist/cjs/index.js', 'dist/esm/index.mjs', 'package.json'],
    ],
    [
      'a default nested under import does not count: the ESM build goes',
      { manifest: { exports: { '.': { import: { types: './dist/esm/index.d.ts', default: './dist/esm/index.js' }, require: { default: './dist/commonjs/index.js' } } } }, files: ['dist/esm/index.js', 'dist/commonjs/index.js'] },
      ['dist/commonjs/index.js', 'package.json'],
    ],
    [
      'a browser condition does not count; default does',
      { manifest: { exports: { '.': { browser: './dist/browser/index.js', default: './dist/commonjs/index.js' } } }, files: ['dist/browser/index.js', 'dist/commonjs/index.js'] },
      ['dist/commonjs/index.js', 'package.json'],
    ],
    [
      'a subpath pattern that covers every file: every dialect stays',
      { manifest: { exports: { './*': './*' } }, files: ['dist/esm/a.js', 'dist-es/b.js', 'c.js'] },
      ['c.js', 'dist-es/b.js', 'dist/esm/a.js', 'package.json'],
    ],
    [
      'a pattern under dist/: the dialects in dist stay, dist-es goes',
      { manifest: { exports: { './lib/*': { require: './dist/*.js' } } }, files: ['dist/esm/a.js', 'dist-es/b.js'] },
      ['dist/esm/a.js', 'package.json'],
    ],
    [
      'a main inside the ESM build (no exports): it stays',
      { manifest: { main: './dist/esm/index.js' }, files: ['dist/esm/index.js', 'dist-es/index.js'] },
      ['dist/esm/index.js', 'package.json'],
    ],
    [
      'an imports target under node: it stays',
      { manifest: { main: 'index.js', imports: { '#internal': { node: './dist/browser/internal.js' } } }, files: ['index.js', 'dist/browser/internal.js'] },
      ['dist/browser/internal.js', 'index.js', 'package.json'],
    ],
  ])('%s', (_, pkg, expected) => {
    // Prepare
    writeTree(root, { pkg });
    // Act
    prune(root);
    // Assess
    expect(filesLeft(root)).toEqual(expected.map((file) => join('pkg', file)).sort());
  });

  it('prunes scoped packages and the versions nested inside a package', () => {
    // Prepare
    writeTree(root, {
      '@scope/outer': { manifest: { main: 'dist-cjs/index.js' }, files: ['dist-cjs/index.js', 'dist-es/index.js'] },
      '@scope/outer/node_modules/inner': { manifest: { main: 'lib/index.js' }, files: ['lib/index.js', 'lib/index.d.ts', 'dist/esm/index.js'] },
    });
    // Act
    prune(root);
    // Assess
    expect(filesLeft(root)).toEqual(
      ['@scope/outer/dist-cjs/index.js', '@scope/outer/node_modules/inner/lib/index.js', '@scope/outer/node_modules/inner/package.json', '@scope/outer/package.json'].map((f) => join(...f.split('/'))),
    );
  });

  it('fails, naming the package, on a package.json it cannot read', () => {
    // Prepare
    writeTree(root, { broken: { manifest: '{ "main": ', files: ['dist-es/index.js'] } });
    // Act
    const run = () => prune(root);
    // Assess
    expect(run).toThrow(/cannot read .*broken.*package\.json/);
  });
});
