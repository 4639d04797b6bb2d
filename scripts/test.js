#!/usr/bin/env node
/**
 * `npm test`: the type check and jest side by side, not one after the other. The type check is one process on one
 * core for 6–11 s; run first, it left the other core idle while every test waited for it. Either failing fails the
 * run (exit 1), after both have finished, so a type error never hides a test failure or the other way round.
 * Arguments go to jest (`npm test -- local/test/one.test.ts`).
 */
const { spawn } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
/** Runs a node script to its end; resolves with its exit code (1 when killed by a signal). */
const run = (script, args) =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit' });
    child.on('error', () => resolve(1));
    child.on('exit', (code) => resolve(code ?? 1));
  });

// `npm run typecheck` (its one definition, in package.json), through the npm that runs this script.
const npm = process.env.npm_execpath;
if (!npm) {
  process.stderr.write('scripts/test.js runs as `npm test`\n');
  process.exit(2);
}
const typecheck = run(npm, ['run', '--silent', 'typecheck']);
const jest = run(require.resolve('jest/bin/jest'), process.argv.slice(2));

Promise.all([typecheck, jest]).then(([types, tests]) => {
  if (types !== 0) process.stderr.write('\nnpm test: the type check failed (see above)\n');
  process.exit(types !== 0 || tests !== 0 ? 1 : 0);
});
