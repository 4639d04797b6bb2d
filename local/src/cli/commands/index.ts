import type { Io } from '../io';
import { replayCommand } from './replay';
import { sqlCommand } from './sql';

/** A subcommand: arguments in, exit code out. */
export type Command = (args: readonly string[], io: Io) => Promise<number>;

export const HELP = `Usage: claims-cdc COMMAND [options]   (claims-cdc COMMAND --help for details)

Commands:
  replay FILE --db PATH     replay a JSONL file of DynamoDB→Kinesis records into a DuckDB file
  sql "QUERY" [--json]      run a query on the warehouse`;

/** Every subcommand by name. */
export const COMMANDS: Record<string, Command> = {
  replay: replayCommand,
  sql: (args, io) => sqlCommand(args, io),
};
