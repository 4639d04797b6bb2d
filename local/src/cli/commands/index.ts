import type { Io } from '../io';

/** A subcommand: arguments in, exit code out. */
export type Command = (args: readonly string[], io: Io) => Promise<number>;

export const HELP = `Usage: claims-cdc COMMAND [options]   (claims-cdc COMMAND --help for details)

Commands:
  demo                      play the quickstart on a stack of its own and check every result (npm start)
  up                        run the embedded stack in the foreground, with a live status line
  generate N [--seed S]     write N generated claims through the running stack's HTTP API
  modify CLAIM_ID --status S [--payment S]
                            change a claim's status through the API
  delete CLAIM_ID           delete a claim through the API
  status [--json]           where every change is: DynamoDB, stream, queue, staged, history, destination, quarantine
  sql "QUERY" [--json]      run a query on the running stack's warehouse (or on a DuckDB file with --db PATH)
  verify [--json]           compare DynamoDB with the destination row by row
  quarantine list|show ID|redrive ID --file F
                            the records the pipeline set aside, with their reasons; re-drive a fixed one
  replay FILE --db PATH     replay a JSONL file of DynamoDB→Kinesis or Lambda Kinesis records into a DuckDB file`;

/**
 * A command whose module is loaded when it runs: `claims-cdc status` should not pay for loading DuckDB and the
 * emulators.
 */
const lazy =
  (load: () => Promise<Command>): Command =>
  async (args, io) =>
    (await load())(args, io);

/** Every subcommand by name. */
export const COMMANDS: Record<string, Command> = {
  demo: lazy(async () => (await import('./demo')).demoCommand),
  up: lazy(async () => (await import('./up')).upCommand),
  generate: lazy(async () => (await import('./generate')).generateCommand),
  modify: lazy(async () => (await import('./modify')).modifyCommand),
  delete: lazy(async () => (await import('./delete')).deleteCommand),
  status: lazy(async () => (await import('./status')).statusCommand),
  sql: lazy(async () => (await import('./sql')).sqlCommand),
  verify: lazy(async () => (await import('./verify')).verifyCommand),
  replay: lazy(async () => (await import('./replay')).replayCommand),
  quarantine: lazy(async () => (await import('../../quarantine/command')).quarantineCommand),
};
