import { Console } from 'node:console';
import { createWriteStream, openSync } from 'node:fs';
import path from 'node:path';
import { CommandError } from './errors';
import { displayPath } from './state-dir';

/** Environment and log destination for the handlers of a stack running in this process. */
export interface HandlerLogging {
  /** Passed to `startStack` (handlers read it once, when imported). */
  env: Record<string, string>;
  /** Where the logs go, for the banner. */
  description: string;
  /** Restores the console and closes the log file. */
  close(): Promise<void>;
}

/** The default log file of a state directory. */
export const HANDLER_LOG = 'handlers.log';

const COMMON = {
  // Local runs show counts, not CloudWatch EMF documents, and have no X-Ray daemon.
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_TRACE_ENABLED: 'false',
};

/**
 * Keeps handler logs off the terminal the CLI writes to. By default warnings and errors (a quarantined record, a
 * failed batch) go to `<stateDir>/handlers.log`; `logFile` takes INFO logs to another file; `verbose` shows INFO
 * logs on this terminal instead.
 *
 * For a file, Powertools' documented POWERTOOLS_DEV switch makes its Logger and Metrics write through the global
 * console (pretty-printed), which is pointed at the file. Powertools' own notices (such as Metrics' "No application
 * metrics to publish", which it prints even with metrics disabled) land there too. The CLI writes to the process
 * streams, never through console, so its own output is unaffected.
 */
export function handlerLogging(options: { stateDir: string; verbose?: boolean; logFile?: string }): HandlerLogging {
  if (options.verbose) {
    return { env: { ...COMMON, POWERTOOLS_LOG_LEVEL: 'INFO' }, description: 'handler logs (INFO) on this terminal', close: async () => undefined };
  }
  const file = options.logFile ?? path.join(options.stateDir, HANDLER_LOG);
  const level = options.logFile ? 'INFO' : 'WARN';
  let fd: number;
  try {
    // Owner-only when created: handler warnings name claim ids and the file sits with the warehouse.
    fd = openSync(file, 'a', 0o600);
  } catch (error) {
    throw new CommandError(`cannot open the log file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const stream = createWriteStream('', { fd });
  const previous = globalThis.console;
  globalThis.console = new Console({ stdout: stream, stderr: stream });
  return {
    env: { ...COMMON, POWERTOOLS_LOG_LEVEL: level, POWERTOOLS_DEV: 'true' },
    description: `handler logs (${level === 'WARN' ? 'warnings and errors' : 'INFO'}) in ${displayPath(file)}${options.logFile ? '' : '; --verbose shows them here'}`,
    close: () =>
      new Promise<void>((resolve) => {
        globalThis.console = previous;
        stream.end(() => resolve());
      }),
  };
}
