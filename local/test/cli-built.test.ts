/**
 * The compiled CLI (local/dist, built by `npm ci` through the root `prepare` script): it runs with plain node, lists
 * every command, loads no heavy module for `--help` and `status`, runs a whole stack (handlers found by path, the
 * emulators' child processes), and the bin uses it only while it is current.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { COMMANDS } from '../src/cli/commands';
import { waitUntil } from './support/wait';

// Plain CommonJS shared with the bin (no types of its own).
const dist = require('../bin/dist') as {
  REPO_ROOT: string;
  DIST_ENTRY: string;
  staleReason(root?: string): string | undefined;
  build(root?: string): Promise<number>;
};
const BIN = path.join(dist.REPO_ROOT, 'local', 'bin', 'claims-cdc.js');
const STALE_HINT = 'local/dist is stale or missing: run `npm run build` (npm ci builds it)';

const node = (args: readonly string[], env: NodeJS.ProcessEnv = process.env) => spawnSync(process.execPath, args, { cwd: dist.REPO_ROOT, env, encoding: 'utf8' });

/** The modules a compiled command line loads, by path (printed by the process at exit). */
const modulesLoadedBy = (argv: readonly string[]): string[] => {
  const script = `process.on('exit', () => process.stderr.write('\\nMODULES ' + JSON.stringify(Object.keys(require.cache)) + '\\n')); require(${JSON.stringify(dist.DIST_ENTRY)}).main(${JSON.stringify(argv)});`;
  const child = node(['-e', script]);
  const line = child.stderr.split('\n').find((l) => l.startsWith('MODULES '));
  if (!line) throw new Error(`no module list:\n${child.stderr}`);
  return JSON.parse(line.slice('MODULES '.length)) as string[];
};

describe('the compiled CLI in local/dist', () => {
  it('was built by npm ci, and --help with plain node lists every command of the command index', () => {
    // Prepare
    expect(existsSync(dist.DIST_ENTRY) ? 'built' : STALE_HINT).toBe('built');
    // Act
    const help = node([dist.DIST_ENTRY, '--help']);
    // Assess
    expect(help.status).toBe(0);
    expect(help.stderr).toBe('');
    const listed = [...help.stdout.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]);
    expect(listed.length > 0 && listed.join(' ') === Object.keys(COMMANDS).join(' ') ? listed : `${STALE_HINT}; lists ${listed.join(' ')}`).toEqual(Object.keys(COMMANDS));
  });

  it('through the bin: the compiled copy while it is current, else one stderr line and the same answer from the sources', () => {
    // Act
    const help = node([BIN, '--help'], { ...process.env, CLAIMS_CDC_FROM_SOURCE: '' });
    const stale = dist.staleReason();
    // Assess
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Commands:');
    expect(help.stderr).toBe(stale === undefined ? '' : `claims-cdc: ${stale}; running the TypeScript sources through tsx (slower start; npm run build refreshes it)\n`);
  });

  it.each([
    ['--help', ['--help']],
    ['status with no stack', ['status', '--state-dir', path.join(os.tmpdir(), 'claims-cdc-no-such-state-dir')]],
  ])('%s loads neither DuckDB, the AWS SDK, the emulators nor the Snowflake driver', (_name, argv) => {
    // Act
    const loaded = modulesLoadedBy(argv);
    // Assess: the command itself ran (its modules are there), and nothing heavy came with it.
    expect(loaded.some((file) => file.endsWith(path.join('cli', 'commands', 'index.js')))).toBe(true);
    expect(loaded.filter((file) => /node_modules[\\/](@duckdb|@aws-sdk|@smithy|dynalite|kinesalite|fauxqs|snowflake-sdk|@aws-lambda-powertools)[\\/]/.test(file))).toEqual([]);
  });
});

describe('staleReason and build, on a small repository of their own', () => {
  let root: string;

  beforeEach(() => {
    // Prepare: a root with one workspace, the layout dist.js expects.
    root = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-dist-'));
    writeFileSync(path.join(root, 'package.json'), JSON.stringify({ workspaces: ['lib', 'local'] }));
    for (const dir of ['lib/src', 'local/src/cli']) mkdirSync(path.join(root, dir), { recursive: true });
    writeFileSync(path.join(root, 'lib', 'package.json'), JSON.stringify({ name: '@t/lib', main: 'src/index.ts', exports: { '.': './src/index.ts', './*': './src/*.ts' } }));
    writeFileSync(path.join(root, 'lib', 'src', 'index.ts'), "export const answer = (n: number): number => n * 2;\n");
    writeFileSync(path.join(root, 'local', 'package.json'), JSON.stringify({ name: '@t/local' }));
    writeFileSync(path.join(root, 'local', 'src', 'cli', 'main.ts'), "import { answer } from '@t/lib';\nexport const main = async () => (await import('./late')).late(answer(21));\n");
    writeFileSync(path.join(root, 'local', 'src', 'cli', 'late.ts'), 'export const late = (n: number): string => `late ${n} ${__dirname}`;\n');
    writeFileSync(path.join(root, 'local', 'src', 'cli', 'child.mjs'), 'export {};\n');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('builds a mirror that runs with plain node: workspace packages by name, lazy imports, __dirname at the mirrored place', async () => {
    // Act
    expect(dist.staleReason(root)).toBe('local/dist is not built');
    await dist.build(root);
    const entry = path.join(root, 'local', 'dist', 'local', 'src', 'cli', 'main.js');
    const ran = node(['-e', `require(${JSON.stringify(entry)}).main().then((t) => process.stdout.write(t))`]);
    // Assess
    expect(ran.stderr).toBe('');
    expect(ran.stdout).toBe(`late 42 ${path.join(root, 'local', 'dist', 'local', 'src', 'cli')}`);
    expect(existsSync(path.join(root, 'local', 'dist', 'local', 'src', 'cli', 'child.mjs'))).toBe(true);
    expect(dist.staleReason(root)).toBeUndefined();
  });

  it('is stale once a source is newer than the build, or a file is deleted', async () => {
    // Prepare: a build, with every source and the build one minute and half a minute in the past.
    await dist.build(root);
    const sources = ['lib/package.json', 'local/package.json', 'lib/src', 'lib/src/index.ts', 'local/src', 'local/src/cli', ...['main.ts', 'late.ts', 'child.mjs'].map((f) => `local/src/cli/${f}`)];
    const age = (seconds: number) => {
      const then = new Date(Date.now() - seconds * 1000);
      for (const file of sources) if (existsSync(path.join(root, file))) utimesSync(path.join(root, file), then, then);
      const built = new Date(Date.now() - (seconds / 2) * 1000);
      utimesSync(path.join(root, 'local', 'dist', 'build.json'), built, built);
    };
    age(60);
    expect(dist.staleReason(root)).toBeUndefined();
    // Act + Assess: an edited source.
    const now = new Date();
    utimesSync(path.join(root, 'lib', 'src', 'index.ts'), now, now);
    expect(dist.staleReason(root)).toBe(`local/dist is older than ${path.join('lib', 'src', 'index.ts')}`);
    // A deleted file: only its directory changes.
    age(60);
    rmSync(path.join(root, 'local', 'src', 'cli', 'child.mjs'));
    expect(dist.staleReason(root)).toBe(`local/dist is older than ${path.join('local', 'src', 'cli')}`);
    // A rebuild makes it current again.
    await dist.build(root);
    expect(dist.staleReason(root)).toBeUndefined();
  });
});

describe('a stack run by the compiled CLI', () => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-built-up-'));
  let up: ChildProcess;
  let out = '';

  afterAll(() => {
    try {
      if (up?.pid) process.kill(-up.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('starts (handlers and emulator processes from local/dist), takes claims and verifies them, and stops on SIGTERM', async () => {
    // Prepare: `up` with plain node on the compiled entry point, in its own process group.
    up = spawn(process.execPath, [dist.DIST_ENTRY, 'up', '--state-dir', stateDir], { cwd: dist.REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let err = '';
    up.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    up.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
    await waitUntil(() => /^Ctrl-C stops the stack\.$/m.test(out) || /exited/.test(String(up.exitCode ?? '')), 'the stack to start', 45_000).catch((error: Error) => {
      throw new Error(`${error.message}\n--- stdout\n${out}\n--- stderr\n${err}`);
    });
    const at = ['--state-dir', stateDir];
    // Act
    const generated = node([dist.DIST_ENTRY, 'generate', '4', '--seed', '5', ...at]);
    const verified = node([dist.DIST_ENTRY, 'verify', '--settle', '30', ...at]);
    up.kill('SIGTERM');
    // Assess
    expect(generated.stderr.split('\n').filter((l) => l && !l.startsWith('generating'))).toEqual([]);
    expect(generated.status).toBe(0);
    expect(verified.stdout).toMatch(/^✓ DynamoDB and the destination match row by row \(4 items in DynamoDB, 4 rows in the destination/m);
    expect(verified.status).toBe(0);
    expect(await exited).toBe(0);
  }, 90_000);
});
