#!/usr/bin/env node
/**
 * Run by serverless-esbuild in a warehouse function's build directory, right after it installs the external modules
 * (snowflake-sdk and its tree; serverless.common.yml, `custom.esbuildWarehouse.packagerOptions.scripts`). Deletes from
 * `node_modules` files that Node's CommonJS `require` never loads, so that the zips carry, and packaging copies and
 * compresses, less:
 *
 * - type declarations and source maps of the dependencies (`*.d.ts`, `*.d.cts`, `*.d.mts`, `*.map`);
 * - a package's builds for other dialects (`dist-es`, `dist/esm`, `dist/browser`, `dist/react-native`,
 *   `dist/workerd`), unless something `require` can reach points into one: `main`, an `exports` or `imports` target
 *   under conditions `require` matches, or a subpath pattern (`./*`) that covers it.
 *
 * Whole packages stay, even one only a browser loads (`@azure/msal-browser`): serverless-esbuild lists the tree with
 * `npm ls` after this script, and a missing package fails packaging.
 *
 * Why a script and not `package.patterns`: serverless-esbuild (1.57) checks every file of the build against every
 * excluded file, so thousands of excluded declaration files made each warehouse zip take 10–20 s of CPU. The packaging
 * test (services/packaging.test.ts) requires every top-level package of each warehouse zip and compares with the
 * repository's own copy, and services/prune-lambda-modules.test.ts checks these rules on a tree built for it. Neither
 * exercises a lazy `require` of a file deep inside a package, which is why only whole dialect directories go.
 *
 * Usage: `node prune-lambda-modules.js [directory]` (default: the current directory, which holds `node_modules`).
 */
const { existsSync, lstatSync, readdirSync, readFileSync, rmSync } = require('node:fs');
const path = require('node:path');

const DECLARATION_OR_MAP = /\.(d\.[cm]?ts|map)$/;
/** Build directories of other dialects, relative to a package's root. */
const DIALECT_DIRECTORIES = ['dist-es', 'dist/esm', 'dist/browser', 'dist/react-native', 'dist/workerd'];

/**
 * The `exports` conditions Node's `require` matches (https://nodejs.org/api/packages.html#conditional-exports):
 * `module-sync` too, which Node 22 (Lambda's runtime) resolves for `require` of a package that offers it.
 */
const REQUIRE_CONDITIONS = new Set(['require', 'node', 'node-addons', 'module-sync', 'default']);

/**
 * What `require` can reach in a package, as paths relative to its root: `main`, and each `exports` and `imports`
 * target reached through `require` conditions only (a target under `import`, `browser` or `module`, at any depth,
 * is not). A target with a `*` is kept as the prefix before it, which covers everything under that prefix.
 */
const requireTargets = (manifest) => {
  const targets = [typeof manifest.main === 'string' ? manifest.main : 'index.js'];
  const visit = (target) => {
    if (typeof target === 'string') targets.push(target.includes('*') ? target.slice(0, target.indexOf('*')) : target);
    else if (Array.isArray(target)) target.forEach(visit);
    else if (target && typeof target === 'object') {
      for (const [key, value] of Object.entries(target)) if (key.startsWith('.') || key.startsWith('#') || REQUIRE_CONDITIONS.has(key)) visit(value);
    }
  };
  visit(manifest.exports);
  visit(manifest.imports);
  return targets.map((target) => path.posix.normalize(target.replace(/\\/g, '/')).replace(/^\.\//, ''));
};

/**
 * Whether a target reaches into `dialect`: the directory itself, a file in it, or a prefix that covers it (a pattern's
 * `dist/`, or the empty prefix of `./*`). A plain target that happens to be such a prefix (a `main` of `dist`) keeps
 * the directory too: keeping what is not needed costs bytes, deleting what is needed breaks the function.
 */
const reaches = (target, dialect) => target === dialect || target.startsWith(`${dialect}/`) || `${dialect}/`.startsWith(target);

/** The package's manifest; a broken one fails packaging with the package named. */
const readManifest = (packageDir) => {
  try {
    return JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8').replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new Error(`prune-lambda-modules: cannot read ${path.join(packageDir, 'package.json')}: ${error.message}`);
  }
};

/** Deletes the dialect directories of one package that nothing `require` can reach points into. */
const pruneDialects = (packageDir) => {
  const targets = requireTargets(readManifest(packageDir));
  for (const dialect of DIALECT_DIRECTORIES) {
    const dir = path.join(packageDir, ...dialect.split('/'));
    if (!existsSync(dir) || !lstatSync(dir).isDirectory()) continue;
    if (targets.some((target) => reaches(target, dialect))) continue;
    rmSync(dir, { recursive: true, force: true });
  }
};

/** Deletes the declaration and source-map files under a package (its nested node_modules included). */
const pruneDeclarations = (packageDir) => {
  for (const file of readdirSync(packageDir, { recursive: true })) {
    const filePath = path.join(packageDir, file);
    if (DECLARATION_OR_MAP.test(file) && lstatSync(filePath).isFile()) rmSync(filePath);
  }
};

/** The package directories directly in a `node_modules` directory (scoped ones included). */
const packagesIn = (modulesDir) => {
  const packages = [];
  for (const entry of readdirSync(modulesDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const dir = path.join(modulesDir, entry.name);
    if (!entry.name.startsWith('@')) packages.push(dir);
    else for (const scoped of readdirSync(dir, { withFileTypes: true })) if (scoped.isDirectory()) packages.push(path.join(dir, scoped.name));
  }
  return packages;
};

/** Prunes every package of a `node_modules` directory, nested versions first. */
const pruneModules = (modulesDir) => {
  for (const packageDir of packagesIn(modulesDir)) {
    // A version of a dependency that differs from the hoisted one is installed inside the package that needs it.
    const nested = path.join(packageDir, 'node_modules');
    if (existsSync(nested)) pruneModules(nested);
    if (existsSync(path.join(packageDir, 'package.json'))) pruneDialects(packageDir);
    pruneDeclarations(packageDir);
  }
};

const modulesDir = path.join(path.resolve(process.argv[2] ?? '.'), 'node_modules');
if (existsSync(modulesDir)) pruneModules(modulesDir);
