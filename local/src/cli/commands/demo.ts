import path from 'node:path';
import { DEMO_SEED, runDemo } from '../../demo/run-demo';
import { parse } from '../../console/args';
import { ensurePrivateDir, StateDirError } from '../../stack/stack-client';
import { CommandError, UsageError } from '../../console/errors';
import type { Io } from '../../console/io';
import { DEFAULT_STATE_DIR, resolveStateDir } from '../../console/state-dir';

export const DEMO_HELP = `Usage: claims-cdc demo [--seed S] [--timeout SECONDS] [--state-dir DIR] [--verbose | --log-file FILE]

Plays the quickstart "Streamlining Healthcare Claims CDC using DynamoDB and Openflow" on a stack of its own
(\`npm start\` runs this): 20 claims through the HTTP API, one In Review claim moved to Rejected, then deleted.
After each step it waits for the change to reach the destination, runs the quickstart's verification queries,
prints their results and checks them (✓/✗); at the end it compares DynamoDB with the destination row by row.
Exit status 0 only when every check holds. The state directory is emptied first; the stack stops at the end.
  --seed S            generator seed (default ${DEMO_SEED})
  --timeout SECONDS   bound of every wait (default 20)
  --state-dir DIR     default ${DEFAULT_STATE_DIR}/demo
  --verbose           handler logs at INFO on this terminal
  --log-file FILE     handler logs at INFO appended to FILE
                      (default: warnings and errors in DIR/handlers.log)`;

/** `claims-cdc demo` */
export const demoCommand = async (args: readonly string[], io: Io): Promise<number> => {
  const { values, positionals } = parse(
    args,
    { seed: { type: 'string' }, timeout: { type: 'string' }, 'state-dir': { type: 'string' }, verbose: { type: 'boolean' }, 'log-file': { type: 'string' } },
    DEMO_HELP,
  );
  if (values.help) {
    io.out(DEMO_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (values.verbose && values['log-file'] !== undefined) throw new UsageError('give --verbose or --log-file FILE, not both');
  const seed = values.seed === undefined ? DEMO_SEED : Number(values.seed);
  if (!/^\d+$/.test(String(values.seed ?? DEMO_SEED)) || seed > 0xffffffff) throw new UsageError(`--seed must be an integer from 0 to 4294967295, got '${String(values.seed)}'`);
  const timeout = values.timeout === undefined ? 20 : Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 600) throw new UsageError(`--timeout must be a number of seconds from 0 to 600, got '${String(values.timeout)}'`);
  const stateDir = resolveStateDir(values['state-dir'], path.join(DEFAULT_STATE_DIR, 'demo'));
  try {
    // Private before the demo writes PHI into it, and a path that cannot be a directory fails here, in one line.
    ensurePrivateDir(stateDir);
  } catch (error) {
    throw error instanceof StateDirError ? new CommandError(error.message) : error;
  }
  return runDemo(
    {
      stateDir,
      seed,
      timeoutMs: Math.round(timeout * 1000),
      width: process.stdout.isTTY ? Math.max(60, process.stdout.columns ?? 120) : 120,
      ...(values.verbose ? { verbose: true } : {}),
      ...(values['log-file'] === undefined ? {} : { logFile: path.resolve(process.env.INIT_CWD ?? process.cwd(), values['log-file']) }),
    },
    io,
  );
};
