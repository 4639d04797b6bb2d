#!/usr/bin/env node
// Runs the TypeScript CLI under tsx's loader, so `npx claims-cdc` works from a fresh clone without a build step.
// The CLI runs in one child process (no second wrapper), which owns the stack when it runs `up` or `demo`.
const { spawn } = require('node:child_process');
const { constants } = require('node:os');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const loader = pathToFileURL(require.resolve('tsx')).href;
const child = spawn(process.execPath, ['--import', loader, join(__dirname, '..', 'src', 'cli', 'main.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });

// Ctrl-C reaches the child from the terminal itself (same process group) and the CLI decides how to stop, so the
// wrapper only waits for it. Signals sent to the wrapper alone (kill, a closed terminal) are passed on.
process.on('SIGINT', () => undefined);
for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('error', (error) => {
  process.stderr.write(`claims-cdc: cannot start the CLI: ${error.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 1)));
