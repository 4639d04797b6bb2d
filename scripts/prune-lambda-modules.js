#!/usr/bin/env node
/**
 * Run by serverless-esbuild in a warehouse function's build directory, right after it installs the external modules
 * (snowflake-sdk and its tree; serverless.common.yml, `custom.esbuildWarehouse.packagerOptions.scripts`). Deletes from
 * `node_modules` what Lambda's Node never loads, so that the zips carry, and packaging copies and compresses, only
 * what runs:
 *
 * - type declarations and source maps of the dependencies (`*.d.ts`, `*.d.cts`, `*.d.mts`, `*.map`);
 * - a package's builds for other dialects (`dist-es`, `dist/esm`, `dist/browser`, `dist/react-native`,
 *   `dist/workerd`), unless its CommonJS entry (`main`, or what `exports` gives `require`) lies inside one.
 *
 * Whole packages stay, even one only a browser loads (`@azure/msal-browser`): serverless-esbuild lists the tree with
 * `npm ls` after this script, and a missing package fails packaging.
 *
 * Why a script and not `package.patterns`: serverless-esbuild (1.57) checks every file of the build against every
 * excluded file, so thousands of excluded declaration files made each warehouse zip take 10–20 s of CPU. The packaging
 * test (services/packaging.test.ts) loads each handler and snowflake-sdk from the unzipped artifact and requires every
 * package the zip ships, so a deletion that took a needed file fails there.
 *
 * Usage: `node prune-lambda-modules.js [directory]` (default: the current directory, which holds `node_modules`).
 */
const { existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync } = require('node:fs');
const path = require('node:path');

const DECLARATION_OR_MAP = /\.(d\.[cm]?ts|map)$/;
/** Build directories of other dialects, relative to a package's root. */
const DIALECT_DIRECTORIES = ['dist-es', 'dist/esm', 'dist/browser', 'dist/react-native', 'dist/workerd'];

/** The `exports` conditions Node's `require` matches (https://nodejs.org/api/packages.html#conditional-exports). */
const REQUIRE_CONDITIONS = new Set(['require', 'node', 'node-addons', 'default']);

/**
 * Every file that `require(<package>)` can start from: `main`, and each `exports` target reached through `require`
 * conditions only (a target under `import`, `browser` or `module`, at any depth, is not).
 */
const commonJsEntries = (manifest) => {
  const entries = [typeof manifest.main === 'string' ? manifest.main : 'index.js'];
  const visit = (target) => {
    if (typeof target === 'string') entries.push(target);
    else if (Array.isArray(target)) target.forEach(visit);
    else if (target && typeof target === 'object') {
      for (const [key, value] of Object.entries(target)) if (key.startsWith('.') || REQUIRE_CONDITIONS.has(key)) visit(value);
    }
  };
  visit(manifest.exports);
  return entries.map((entry) => path.normalize(entry));
};

/** Deletes the dialect directories of one package whose CommonJS entries lie outside them. */
const pruneDialects = (packageDir) => {
  const manifest = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
  const entries = commonJsEntries(manifest);
  for (const dialect of DIALECT_DIRECTORIES) {
    const dir = path.join(packageDir, dialect);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
    if (entries.some((entry) => entry === path.normalize(dialect) || entry.startsWith(path.normalize(dialect) + path.sep))) continue;
    rmSync(dir, { recursive: true, force: true });
  }
};

/** Walks `node_modules` (nested ones included): each package's dialects, then its declaration and map files. */
const pruneModules = (modulesDir) => {
  const packages = [];
  for (const entry of readdirSync(modulesDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const dir = path.join(modulesDir, entry.name);
    if (entry.name.startsWith('@')) {
      for (const scoped of readdirSync(dir, { withFileTypes: true })) if (scoped.isDirectory()) packages.push(path.join(dir, scoped.name));
    } else packages.push(dir);
  }
  for (const packageDir of packages) {
    // A version of a dependency that differs from the hoisted one is installed inside the package that needs it.
    const nested = path.join(packageDir, 'node_modules');
    if (existsSync(nested)) pruneModules(nested);
    if (existsSync(path.join(packageDir, 'package.json'))) pruneDialects(packageDir);
    for (const file of readdirSync(packageDir, { recursive: true })) {
      const filePath = path.join(packageDir, file);
      if (DECLARATION_OR_MAP.test(file) && lstatSync(filePath).isFile()) rmSync(filePath);
    }
  }
};

const modulesDir = path.join(path.resolve(process.argv[2] ?? '.'), 'node_modules');
if (existsSync(modulesDir)) pruneModules(modulesDir);
