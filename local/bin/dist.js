'use strict';
/**
 * The compiled CLI in local/dist: how it is built (root `prepare`, so `npm ci` builds it on a fresh clone; or
 * `npm run build`) and whether it is current (the bin falls back to TypeScript when it is not).
 *
 * local/dist mirrors the repository's runtime files at the same relative paths — local/src, shared/src and
 * services/*\/src with every TypeScript file compiled one-to-one to CommonJS by esbuild (what tsx does at each start),
 * the workspaces' YAML files (serverless.yml and what it includes) and serverless.common.yml copied, other files (the SQS emulator's .mjs entry)
 * copied — plus local/dist/node_modules/@claims-cdc/* links to the mirrored workspaces with their `exports` pointing
 * at the .js files. So code that finds files by path keeps working unchanged: `__dirname` next to a child-process
 * entry, the repository root three levels above local/src/stack, handler modules named by serverless.yml. Nothing is
 * bundled: modules stay one per file, commands stay lazily loaded, and there is one instance of each module per
 * process (the warehouse singleton the CLI shares with the load and merge handlers). node_modules packages are used
 * where npm installed them (DuckDB's native module included).
 *
 * This file is plain CommonJS with no dependencies on the fast path: the bin loads it at every start.
 */
const fs = require('node:fs');
const path = require('node:path');

/** The repository root (local/bin → repo). */
const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** The compiled CLI entry point (local/dist/build.json, written last by a build, has the build's time as mtime). */
const DIST_ENTRY = path.join(REPO_ROOT, 'local', 'dist', 'local', 'src', 'cli', 'main.js');
/** The TypeScript entry point (tsx fallback, tests). */
const SOURCE_ENTRY = path.join(REPO_ROOT, 'local', 'src', 'cli', 'main.ts');

/** The dist directory of a repository root, and its stamp and entry point. */
const distOf = (root) => {
  const dir = path.join(root, 'local', 'dist');
  return { dir, stamp: path.join(dir, 'build.json'), entry: path.join(dir, 'local', 'src', 'cli', 'main.js') };
};

/** Workspace directories (relative to the root), from the root package.json. */
function workspaces(root) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  return pkg.workspaces ?? [];
}

/** Relative paths of the single files mirrored besides the workspaces' src trees. */
function extraFiles(root) {
  const files = ['serverless.common.yml'];
  for (const ws of workspaces(root)) {
    // serverless.yml and the files it includes with ${file(./x.yml)}: the stack reads its settings from them.
    const yml = fs.readdirSync(path.join(root, ws)).filter((name) => /\.ya?ml$/.test(name));
    files.push(path.join(ws, 'package.json'), ...yml.map((name) => path.join(ws, name)));
  }
  return files.filter((file) => fs.existsSync(path.join(root, file)));
}

/** Calls `visit(absolutePath, stats)` for every file and directory under `dir` (the directory itself included). */
function walk(dir, visit) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  // A file an editor removes meanwhile (a swap file) is skipped, not an error.
  const stats = fs.statSync(dir, { throwIfNoEntry: false });
  if (stats) visit(dir, stats);
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, visit);
    else if (entry.isFile()) {
      const fileStats = fs.statSync(full, { throwIfNoEntry: false });
      if (fileStats) visit(full, fileStats);
    }
  }
}

/** Why local/dist cannot be used as it is (missing, or older than a source), or undefined when it is current. */
function staleReason(root = REPO_ROOT) {
  const dist = distOf(root);
  let built;
  try {
    built = fs.statSync(dist.stamp).mtimeMs;
  } catch {
    return 'local/dist is not built';
  }
  if (!fs.existsSync(dist.entry)) return 'local/dist is incomplete';
  let newer;
  const check = (file, stats) => {
    // Directory mtimes catch deleted and renamed files.
    if (!newer && stats.mtimeMs > built) newer = path.relative(root, file);
  };
  for (const ws of workspaces(root)) {
    walk(path.join(root, ws, 'src'), check);
    if (newer) break;
  }
  for (const file of extraFiles(root)) {
    if (newer) break;
    const stats = fs.statSync(path.join(root, file), { throwIfNoEntry: false });
    if (stats) check(path.join(root, file), stats);
  }
  return newer ? `local/dist is older than ${newer}` : undefined;
}

/** A workspace package.json for the mirror: entry points at the compiled files, and a name of its own (no clash). */
function mirroredPackageJson(text) {
  const pkg = JSON.parse(text);
  const js = (value) =>
    typeof value === 'string'
      ? value.replace(/\.ts$/, '.js')
      : value && typeof value === 'object'
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, js(v)]))
        : value;
  for (const key of ['main', 'exports']) if (pkg[key] !== undefined) pkg[key] = js(pkg[key]);
  delete pkg.types;
  delete pkg.scripts;
  delete pkg.bin;
  // Jest's module map sees local/dist: two package.json files with one name would be a naming collision there.
  return `${JSON.stringify({ ...pkg, name: `${pkg.name}--built` }, null, 2)}\n`;
}

/** Builds local/dist from scratch, into a temporary directory swapped in at the end. Returns the number of files. */
async function build(root = REPO_ROOT) {
  const esbuild = require('esbuild');
  const { dir } = distOf(root);
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const typescript = [];
  const copies = [];
  for (const ws of workspaces(root)) {
    walk(path.join(root, ws, 'src'), (file, stats) => {
      if (!stats.isFile() || /\.test\.ts$/.test(file) || file.endsWith('.d.ts')) return;
      (file.endsWith('.ts') ? typescript : copies).push(file);
    });
  }
  await esbuild.build({
    entryPoints: typescript,
    outdir: tmp,
    outbase: root,
    bundle: false,
    format: 'cjs',
    platform: 'node',
    target: `node${process.versions.node.split('.')[0]}`,
    // import() becomes require(), as tsx does for CommonJS: relative and handler paths are extensionless, which only
    // require() resolves; ESM-only packages (@middy/core) load through require(esm) of Node >= 20.19.
    supported: { 'dynamic-import': false },
    logLevel: 'warning',
  });
  for (const file of copies) {
    const to = path.join(tmp, path.relative(root, file));
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(file, to);
  }
  for (const file of extraFiles(root)) {
    const to = path.join(tmp, file);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    fs.writeFileSync(to, file.endsWith('package.json') ? mirroredPackageJson(text) : text);
    if (file.endsWith('package.json')) {
      const name = JSON.parse(text).name;
      const link = path.join(tmp, 'node_modules', ...name.split('/'));
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(path.relative(path.dirname(link), path.join(tmp, path.dirname(file))), link, 'dir');
    }
  }
  fs.writeFileSync(path.join(tmp, 'build.json'), `${JSON.stringify({ node: process.version, files: typescript.length + copies.length })}\n`);
  // Swap: a CLI starting meanwhile sees either the old build, none (and falls back), or the new one.
  const old = `${dir}.old-${process.pid}`;
  if (fs.existsSync(dir)) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  fs.rmSync(old, { recursive: true, force: true });
  return typescript.length + copies.length;
}

module.exports = { REPO_ROOT, DIST_ENTRY, SOURCE_ENTRY, staleReason, build };

if (require.main === module) {
  const started = Date.now();
  build().then(
    (files) => process.stdout.write(`claims-cdc: built local/dist (${files} files) in ${Date.now() - started} ms\n`),
    (error) => {
      process.stderr.write(`claims-cdc: building local/dist failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
