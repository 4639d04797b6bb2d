#!/usr/bin/env node
import { WarehouseError } from '@claims-cdc/shared/warehouse/port';
import { ConfigurationError } from '@claims-cdc/shared';
import { CommandError, UsageError } from './errors';
import { type Io, processIo } from './io';
import { COMMANDS, HELP } from './commands';

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

if (require.main === module) {
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = 1;
    },
  );
}
