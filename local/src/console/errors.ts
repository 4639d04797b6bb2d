/** The command line was wrong: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The command could not do its work: printed as one line, exit code 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}
