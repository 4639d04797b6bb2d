import type { Io } from '../../console/io';

/** A subcommand: arguments in, exit code out. */
export type Command = (args: readonly string[], io: Io) => Promise<number>;

/** One line of the top-level help, and how to load the command. */
interface CommandEntry {
  /** The command and its main arguments, as the help shows them. */
  readonly usage: string;
  readonly summary: string;
  /**
   * Loads the command's module when it runs: `claims-cdc --help` and `status` should not pay for loading DuckDB, the
   * AWS SDK and the emulators.
   */
  readonly load: () => Promise<Command>;
}

/**
 * Every subcommand, in help order: the single source of both the dispatch table and the top-level help, so a
 * command cannot be runnable and missing from `claims-cdc --help`.
 */
const ENTRIES: Record<string, CommandEntry> = {
  demo: { usage: 'demo', summary: 'play the quickstart on a stack of its own and check every result (npm start)', load: async () => (await import('./demo')).demoCommand },
  up: {
    usage: 'up [--generate-every S]',
    summary: 'run the embedded stack in the foreground, with a live status line (and the scheduled generator)',
    load: async () => (await import('./up')).upCommand,
  },
  generate: { usage: 'generate N [--seed S]', summary: "write N generated claims through the running stack's HTTP API", load: async () => (await import('./generate')).generateCommand },
  modify: { usage: 'modify CLAIM_ID --status S [--payment S]', summary: "change a claim's status through the API", load: async () => (await import('./modify')).modifyCommand },
  delete: { usage: 'delete CLAIM_ID', summary: 'delete a claim through the API', load: async () => (await import('./delete')).deleteCommand },
  status: {
    usage: 'status [--json]',
    summary: 'where every change is: DynamoDB, stream, queue, staged, history, destination, quarantine',
    load: async () => (await import('./status')).statusCommand,
  },
  sql: {
    usage: 'sql "QUERY" [--json]',
    summary: "run a query on the running stack's warehouse (or on a DuckDB file with --db PATH)",
    load: async () => (await import('./sql')).sqlCommand,
  },
  verify: { usage: 'verify [--json]', summary: 'compare DynamoDB with the destination row by row', load: async () => (await import('./verify')).verifyCommand },
  backfill: {
    usage: 'backfill [--segments N]',
    summary: 'send every item of the table through the pipeline as a snapshot (resumable)',
    load: async () => (await import('./backfill')).backfillCommand,
  },
  quarantine: {
    usage: 'quarantine list|show ID|redrive ID --file F [--force]',
    summary: 'the records the pipeline set aside, with their reasons; re-drive a fixed one',
    load: async () => (await import('../../quarantine/command')).quarantineCommand,
  },
  replay: {
    usage: 'replay FILE --db PATH',
    summary: 'replay a JSONL file of DynamoDB→Kinesis or Lambda Kinesis records into a DuckDB file',
    load: async () => (await import('./replay')).replayCommand,
  },
};

const USAGE_WIDTH = 26;

/** The top-level help: one line per command of {@link ENTRIES} (a long usage gets its summary on the next line). */
export const HELP = [
  'Usage: claims-cdc COMMAND [options]   (claims-cdc COMMAND --help for details)',
  '',
  'Commands:',
  ...Object.values(ENTRIES).map(({ usage, summary }) =>
    usage.length < USAGE_WIDTH - 1 ? `  ${usage.padEnd(USAGE_WIDTH)}${summary}` : `  ${usage}\n  ${' '.repeat(USAGE_WIDTH)}${summary}`,
  ),
].join('\n');

/** Every subcommand by name, each loaded when it runs. */
export const COMMANDS: Record<string, Command> = Object.fromEntries(
  Object.entries(ENTRIES).map(([name, entry]) => [name, async (args: readonly string[], io: Io) => (await entry.load())(args, io)] as const),
);
