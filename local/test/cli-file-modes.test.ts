/**
 * Everything the CLI, `replay` and the chaos harness write holds PHI, so under a permissive umask (022) the state
 * directory is still 0700 and every file they create in it 0600: the warehouse and its WAL (which DuckDB creates on
 * its own), the logs, the quarantine, the state file and the lock. Each case walks the whole directory, so a file
 * added later is checked too.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { generateClaims, type Claim } from '@claims-cdc/shared';
import { buildChangeRecord } from '@claims-cdc/shared/test-support/change-records';
import { changeRecord, claims } from '@claims-cdc/shared/test-support/factories';
import { run } from '../src/cli/main';
import { readStackInfo } from '../src/stack/stack-client';
import { killAllCliProcesses, runCli, startCli } from './support/cli-process';
import { killAllTsChildren, REPO_ROOT, startTsChild } from './support/ts-child';
import { waitUntil } from './support/wait';

/** Every entry below `dir` (and `dir` itself, as '.'), with its permission bits in octal. */
function modes(dir: string): Record<string, string> {
  const out: Record<string, string> = { '.': (statSync(dir).mode & 0o777).toString(8) };
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const file = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, file)] = (statSync(file).mode & 0o777).toString(8);
  }
  return out;
}

/** What `modes` must be: directories 0700, everything else 0600. */
function privateModes(dir: string): Record<string, string> {
  return Object.fromEntries(Object.keys(modes(dir)).map((name) => [name, statSync(path.join(dir, name)).isDirectory() ? '700' : '600']));
}

const T = 1_732_000_000_000_000;

describe('file modes under umask 022', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-modes-'));
  let umask: number;

  beforeAll(() => {
    // Children inherit it: the CLI and the harness must not depend on the user's umask.
    umask = process.umask(0o022);
  });

  afterAll(() => {
    process.umask(umask);
    killAllCliProcesses();
    killAllTsChildren();
    rmSync(root, { recursive: true, force: true });
  });

  it('up: the state directory it creates and every file in it, while running and after Ctrl-C', async () => {
    // Prepare
    const stateDir = path.join(root, 'up', 'state');
    const at = ['--state-dir', stateDir];
    const cli = async (...argv: string[]) => {
      const out: string[] = [];
      const code = await run([...argv, ...at], { out: (t) => out.push(t), err: () => undefined });
      return { code, out: out.join('\n') };
    };
    const up = startCli(['up', ...at]);
    await up.waitForOutput(/^Ctrl-C stops the stack\.$/m);
    const info = readStackInfo(stateDir)!;
    const kinesis = new KinesisClient({ endpoint: info.endpoints.kinesis, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const claim = generateClaims(1, 99)[0] as Claim;
    // A record the transform rejects: it lands in DIR/quarantine.jsonl, and a warning in DIR/handlers.log.
    const poison = buildChangeRecord({ eventName: 'INSERT', tableName: 'InsuranceClaims', keys: { claim_id: claim.claim_id }, newImage: { ...claim, total_charge: String(claim.total_charge) }, micros: T });
    // Act
    expect((await cli('generate', '3', '--seed', '5')).code).toBe(0);
    await kinesis.send(new PutRecordCommand({ StreamName: 'InsuranceClaimsStream', PartitionKey: 'P', Data: Buffer.from(JSON.stringify(poison)) }));
    kinesis.destroy();
    await waitUntil(async () => {
      const status = JSON.parse((await cli('status', '--json')).out) as { pipeline: { destination: number; staged: number; quarantined?: number } };
      return status.pipeline.destination === 3 && readdirSync(stateDir).includes('quarantine.jsonl');
    }, 'three rows in the destination and one quarantined record');
    const running = modes(stateDir);
    const runningExpected = privateModes(stateDir);
    up.signal('SIGINT');
    const exit = await up.exited;
    // Assess
    expect(Object.keys(running)).toEqual(expect.arrayContaining(['stack.json', 'stack.lock', 'warehouse.duckdb', 'handlers.log', 'quarantine.jsonl']));
    expect(running).toEqual(runningExpected);
    expect(running['.']).toBe('700');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Object.keys(modes(stateDir))).toContain('warehouse.duckdb');
    expect(modes(stateDir)).toEqual(privateModes(stateDir));
  }, 120_000);

  it('replay: the --db file it creates, and its WAL, run as a user runs it', async () => {
    // Prepare
    const input = path.join(root, 'events.jsonl');
    writeFileSync(input, `${claims(10, 3).map((claim, i) => JSON.stringify(changeRecord({ eventName: 'INSERT', claim, micros: T + i }))).join('\n')}\n`);
    const out = path.join(root, 'replay-out');
    mkdirSync(out);
    // Act
    const result = await runCli(['replay', input, '--db', path.join(out, 'replayed.duckdb')], 60_000);
    // Assess
    expect(result).toMatchObject({ code: 0 });
    const files = modes(out);
    delete files['.']; // the user's directory, as they made it
    expect(Object.keys(files)).toContain('replayed.duckdb');
    expect(files).toEqual(Object.fromEntries(Object.keys(files).map((name) => [name, '600'])));
  }, 90_000);

  it('replay: the --db file is owner-only when the command runs in a process with a permissive umask', async () => {
    // Prepare
    const input = path.join(root, 'events-in-process.jsonl');
    writeFileSync(input, `${JSON.stringify(changeRecord({ eventName: 'INSERT', claim: claims(1, 4)[0] as Claim, micros: T }))}\n`);
    const db = path.join(root, 'in-process.duckdb');
    // Act
    const code = await run(['replay', input, '--db', db, '--json'], { out: () => undefined, err: () => undefined });
    // Assess
    expect(code).toBe(0);
    expect(modes(root)['in-process.duckdb']).toBe('600');
  });

  it('chaos: the state directory it is given and every file the run leaves in it', async () => {
    // Prepare
    const stateDir = path.join(root, 'chaos', 'state');
    // Act
    const harness = startTsChild(path.join(REPO_ROOT, 'local', 'src', 'chaos', 'cli.ts'), [
      '--events', '40', '--claims', '8', '--faults', 'poison', '--state-dir', stateDir, '--quiet', '--json',
    ]);
    const code = await harness.exited;
    // Assess
    expect({ code, stderr: harness.stderr().slice(-2000) }).toMatchObject({ code: 0 });
    const files = modes(stateDir);
    expect(Object.keys(files)).toEqual(expect.arrayContaining(['warehouse.duckdb', 'quarantine.jsonl']));
    expect(files).toEqual(privateModes(stateDir));
    expect(files['.']).toBe('700');
  }, 180_000);
});
