#!/usr/bin/env node
'use strict';
// Runs the CLI compiled to local/dist (built by `npm ci` through the root `prepare` script, or `npm run build`), in
// this process: no TypeScript compiler at start, so `claims-cdc --help` and `status` answer at once.
// When local/dist is missing or older than a source (a developer editing src), it says so in one stderr line and runs
// the TypeScript under tsx's loader in one child process instead (slower start, same behaviour); CLAIMS_CDC_FROM_SOURCE=1
// asks for that path on purpose. It never rebuilds by itself: two CLIs started at once would race on local/dist.
const { DIST_ENTRY, SOURCE_ENTRY, staleReason } = require('./dist');

const fromSource = process.env.CLAIMS_CDC_FROM_SOURCE === '1';
const stale = fromSource ? undefined : staleReason();

if (!fromSource && !stale) {
  require(DIST_ENTRY).main();
} else {
  if (stale) process.stderr.write(`claims-cdc: ${stale}; running the TypeScript sources through tsx (slower start; npm run build refreshes it)\n`);
  const { spawn } = require('node:child_process');
  const { constants } = require('node:os');
  const { pathToFileURL } = require('node:url');
  const loader = pathToFileURL(require.resolve('tsx')).href;
  const child = spawn(process.execPath, ['--import', loader, SOURCE_ENTRY, ...process.argv.slice(2)], { stdio: 'inherit' });
  // Ctrl-C reaches the child from the terminal itself (same process group) and the CLI decides how to stop, so the
  // wrapper only waits for it. Signals sent to the wrapper alone (kill, a closed terminal) are passed on.
  process.on('SIGINT', () => undefined);
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('error', (error) => {
    process.stderr.write(`claims-cdc: cannot start the CLI: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 1)));
}
