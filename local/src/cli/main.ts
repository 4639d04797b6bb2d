#!/usr/bin/env node
import { WarehouseError } from '@claims-cdc/shared/warehouse/port';
import { ConfigurationError } from '@claims-cdc/shared/domain/errors';
import { CommandError, UsageError } from '../console/errors';
import { type Io, processIo } from '../console/io';
import { COMMANDS, HELP } from './commands';

/** The umask of the CLI's process: files 0600 and directories 0700. */
export const PRIVATE_UMASK = 0o077;

/** Runs one command line; returns the exit code. Errors are one clear line, never a stack trace. */
export const run = async (argv: readonly string[], io: Io = processIo): Promise<number> => {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(HELP);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  try {
    if (!command) throw new UsageError(`unknown command '${name}'\n${HELP}`);
    return await command(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      // One line: the problem, and where the usage is (the help text itself would bury the problem).
      const first = error.message.split('\n')[0] as string;
      const hint = /--help/.test(first) ? '' : command ? ` (see claims-cdc ${name} --help)` : ' (see claims-cdc --help)';
      io.err(`claims-cdc ${name}: ${first}${hint}`);
      return 2;
    }
    if (error instanceof CommandError || error instanceof WarehouseError || error instanceof ConfigurationError) {
      io.err(`claims-cdc ${name}: ${error.message.split('\n')[0]}`);
      return 1;
    }
    io.err(`claims-cdc ${name}: ${error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error)}`);
    return 1;
  }
};

/**
 * Runs the process's command line: private umask, then {@link run}; the exit code is set, not forced, so output is
 * flushed and a stack stops cleanly. The bin (local/bin/claims-cdc.js) calls it on the compiled copy in local/dist.
 */
export const main = (argv: readonly string[] = process.argv.slice(2)): Promise<void> => {
  // Everything this process creates holds or may hold PHI, including the files DuckDB and the emulators create on
  // their own (the warehouse, its WAL), whose modes no option sets: owner-only, whatever the user's umask.
  process.umask(PRIVATE_UMASK);
  return run(argv).then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = 1;
    },
  );
};

if (require.main === module) void main();
