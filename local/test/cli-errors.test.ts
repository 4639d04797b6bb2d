/**
 * The CLI's contract for mistakes: bad arguments exit 2 and a missing or stopped stack exits 1, each with one line
 * that says what to do; every command answers --help.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../src/cli/main';

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
};

const COMMANDS = ['demo', 'up', 'generate', 'modify', 'delete', 'status', 'sql', 'verify', 'quarantine', 'replay'];

/** A process id that is not running (the highest pid Linux hands out is below 2^22). */
const DEAD_PID = 2 ** 22 + 17;

describe('claims-cdc errors and help', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-errors-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it.each(COMMANDS)('%s --help prints its usage and exits 0', async (command) => {
    // Act
    const io = capture();
    const code = await run([command, '--help'], io.io);
    // Assess
    expect(code).toBe(0);
    expect(io.out.join('\n')).toMatch(new RegExp(`^Usage: claims-cdc ${command}\\b`));
    expect(io.err).toEqual([]);
  });

  it('the command list names every command', async () => {
    // Act
    const io = capture();
    const code = await run(['--help'], io.io);
    // Assess
    expect(code).toBe(0);
    for (const command of COMMANDS) expect(io.out.join('\n')).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
  });

  describe.each([
    ['a state directory that does not exist', () => path.join(root, 'never-created')],
    ['an empty state directory', () => mkdtempSync(path.join(root, 'empty-'))],
    [
      'a state directory whose stack has died',
      () => {
        const dir = mkdtempSync(path.join(root, 'dead-'));
        writeFileSync(path.join(dir, 'stack.json'), JSON.stringify({ pid: DEAD_PID, apiUrl: 'http://127.0.0.1:9', token: 't', stateDir: dir, endpoints: {} }));
        return dir;
      },
    ],
  ])('with %s', (_, makeDir) => {
    it.each([
      [['status']],
      [['status', '--json']],
      [['generate', '5']],
      [['modify', 'CLM-0000ABCD', '--status', 'Rejected']],
      [['delete', 'CLM-0000ABCD']],
      [['sql', 'select 1']],
      [['verify']],
    ])('%j says no stack runs there and how to start one (exit 1)', async (argv) => {
      // Prepare
      const dir = makeDir();
      const io = capture();
      // Act
      const code = await run([...argv, '--state-dir', dir], io.io);
      // Assess
      expect(code).toBe(1);
      expect(io.err).toEqual([`claims-cdc ${argv[0]}: no stack running in ${dir}; start one with \`claims-cdc up --state-dir ${dir}\``]);
      expect(io.out).toEqual([]);
    });
  });

  it.each([
    [['generate'], "claims-cdc generate: generate needs N, the number of claims (see claims-cdc generate --help)"],
    [['generate', '0'], "claims-cdc generate: N must be a positive integer, got '0' (see claims-cdc generate --help)"],
    [['generate', 'ten'], "claims-cdc generate: N must be a positive integer, got 'ten' (see claims-cdc generate --help)"],
    [['generate', '5', '--seed=-1'], "claims-cdc generate: --seed must be an integer from 0 to 4294967295, got '-1' (see claims-cdc generate --help)"],
    [['generate', '5', '--seed', '4294967296'], "claims-cdc generate: --seed must be an integer from 0 to 4294967295, got '4294967296' (see claims-cdc generate --help)"],
    [['generate', '5', '6'], "claims-cdc generate: unexpected argument '6' (see claims-cdc generate --help)"],
    [['modify', '--status', 'Rejected'], 'claims-cdc modify: modify needs a CLAIM_ID (see claims-cdc modify --help)'],
    [['modify', 'clm-1', '--status', 'Rejected'], "claims-cdc modify: CLAIM_ID must be CLM- followed by 8 upper-case hex digits, got 'clm-1' (see claims-cdc modify --help)"],
    [['modify', 'CLM-0000ABCD'], 'claims-cdc modify: modify needs --status STATUS and/or --payment STATUS (see claims-cdc modify --help)'],
    [['modify', 'CLM-0000ABCD', '--status', 'Lost'], "claims-cdc modify: --status must be one of 'Submitted', 'In Review', 'Approved', 'Rejected', 'Paid', got 'Lost' (see claims-cdc modify --help)"],
    [['modify', 'CLM-0000ABCD', '--payment', 'Free'], "claims-cdc modify: --payment must be one of 'Pending', 'Processing', 'Paid', 'Denied', got 'Free' (see claims-cdc modify --help)"],
    [['modify', 'CLM-0000ABCD', '--status', 'In', 'Review'], "claims-cdc modify: unexpected argument 'Review' (quote a status with a space: --status \"In Review\") (see claims-cdc modify --help)"],
    [['delete'], 'claims-cdc delete: delete needs a CLAIM_ID (see claims-cdc delete --help)'],
    [['delete', 'CLM-0000ABCD', '--force'], expect.stringMatching(/^claims-cdc delete: Unknown option '--force'/)],
    [['status', 'now'], "claims-cdc status: unexpected argument 'now' (see claims-cdc status --help)"],
    [['verify', '--settle', 'soon'], "claims-cdc verify: --settle must be a number of seconds from 0 to 120, got 'soon' (see claims-cdc verify --help)"],
    [['sql', 'select 1', '--db', 'x.duckdb', '--state-dir', 'y'], 'claims-cdc sql: give --db PATH or --state-dir DIR, not both (see claims-cdc sql --help)'],
    [['up', '--verbose', '--log-file', 'x.log'], 'claims-cdc up: give --verbose or --log-file FILE, not both (see claims-cdc up --help)'],
    [['up', 'now'], "claims-cdc up: unexpected argument 'now' (see claims-cdc up --help)"],
    [['demo', '--seed', 'x'], "claims-cdc demo: --seed must be an integer from 0 to 4294967295, got 'x' (see claims-cdc demo --help)"],
    [['demo', '--timeout', '0'], "claims-cdc demo: --timeout must be a number of seconds from 0 to 600, got '0' (see claims-cdc demo --help)"],
    [['frobnicate'], "claims-cdc frobnicate: unknown command 'frobnicate' (see claims-cdc --help)"],
  ])('%j exits 2 with one line', async (argv, message) => {
    // Act
    const io = capture();
    const code = await run(argv, io.io);
    // Assess
    expect(code).toBe(2);
    expect(io.err).toEqual([message]);
    expect(io.out).toEqual([]);
  });

  it('up refuses a state directory in which a stack is running, before starting anything', async () => {
    // Prepare: the state file of a live process (this test's own).
    const dir = mkdtempSync(path.join(root, 'busy-'));
    writeFileSync(path.join(dir, 'stack.json'), JSON.stringify({ pid: process.pid, apiUrl: 'http://127.0.0.1:9', token: 't', stateDir: dir, endpoints: {} }));
    const io = capture();
    // Act
    const code = await run(['up', '--state-dir', dir], io.io);
    // Assess
    expect(code).toBe(1);
    expect(io.err).toEqual([`claims-cdc up: a stack is already running in ${dir} (pid ${process.pid}, API http://127.0.0.1:9); use it, or stop it first`]);
    expect(process.env.AWS_ENDPOINT_URL_DYNAMODB).toBeUndefined();
  });

  it('a stack that does not answer is reported in one line (exit 1)', async () => {
    // Prepare: a live pid but nothing listening on the published port.
    const dir = mkdtempSync(path.join(root, 'mute-'));
    writeFileSync(path.join(dir, 'stack.json'), JSON.stringify({ pid: process.pid, apiUrl: 'http://127.0.0.1:9', token: 't', stateDir: dir, endpoints: {} }));
    const io = capture();
    // Act
    const code = await run(['status', '--state-dir', dir], io.io);
    // Assess
    expect(code).toBe(1);
    expect(io.err).toEqual([expect.stringMatching(/^claims-cdc status: cannot reach the stack at http:\/\/127\.0\.0\.1:9: /)]);
  });
});
