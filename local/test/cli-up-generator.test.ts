/**
 * `claims-cdc up --generate-every SECONDS --generate-count N`: the ingest service's generate handler on a schedule,
 * as a stage deployed with generatorEnabled=true runs it. Its claims are captured and reach the destination; every
 * run writes N; the summary at stop says how many runs and claims there were.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../src/cli/main';
import { killAllCliProcesses, startCli, type CliProcess } from './support/cli-process';
import { waitUntil } from './support/wait';

const cli = async (...argv: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

describe('claims-cdc up --generate-every', () => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-up-generator-'));
  const at = ['--state-dir', stateDir];
  let up: CliProcess;

  afterAll(() => {
    killAllCliProcesses();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it.each([
    [['--generate-count', '5'], '--generate-count needs --generate-every SECONDS'],
    [['--generate-every', '0'], "--generate-every must be a number of seconds above 0 and at most 86400, got '0'"],
    [['--generate-every', 'soon'], "--generate-every must be a number of seconds above 0 and at most 86400, got 'soon'"],
    [['--generate-every', '1', '--generate-count', '2.5'], "--generate-count must be a positive integer, got '2.5'"],
  ])('refuses %j with one usage line and exit code 2, before touching the state directory', async (flags, message) => {
    // Act
    const reply = await cli('up', ...flags, '--state-dir', path.join(stateDir, 'never-created'));
    // Assess
    expect(reply.code).toBe(2);
    expect(reply.err).toBe(`claims-cdc up: ${message} (see claims-cdc up --help)`);
  });

  it('writes N claims per period through the generate handler, which reach the destination, and sums up at stop', async () => {
    // Prepare
    up = startCli(['up', ...at, '--generate-every', '1', '--generate-count', '3']);
    await up.waitForOutput(/^Ctrl-C stops the stack\.$/m);
    // Act: let it run a few periods.
    const status = await waitUntil(
      async () => {
        const reply = await cli('status', '--json', ...at);
        const s = JSON.parse(reply.out) as { pipeline: { items: number; destination: number } };
        // The generator keeps writing: the destination follows the table, a merge behind.
        return s.pipeline.destination >= 6 ? s : undefined;
      },
      'two generator runs in the destination',
      45_000,
    );
    up.signal('SIGTERM');
    const exited = await up.exited;
    // Assess
    expect(up.stdout()).toMatch(/^ {2}generator {2}3 claims every 1 s \(the ingest generate handler on a schedule, as generatorEnabled=true deploys it\)$/m);
    expect(status.pipeline.items).toBeGreaterThanOrEqual(status.pipeline.destination);
    expect(exited.code).toBe(0);
    const summary = up.stdout().match(/^generator: (\d+) runs?, (\d+) claims written$/m);
    expect(summary).not.toBeNull();
    const [runs, claims] = [Number(summary![1]), Number(summary![2])];
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(claims).toBe(3 * runs);
  }, 90_000);
});
