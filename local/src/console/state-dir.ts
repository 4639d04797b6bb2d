import { existsSync } from 'node:fs';
import path from 'node:path';
import { readStackInfo, type StackInfo } from '../stack/stack-client';
import { CommandError } from './errors';

/** The state directory of `claims-cdc up` when none is given. */
export const DEFAULT_STATE_DIR = '.claims-cdc';

/**
 * Resolves a state directory against the directory the user ran the command from: npm and npx run scripts and
 * binaries from the package directory and pass the user's own directory as INIT_CWD.
 */
export const resolveStateDir = (given: string | undefined, fallback = DEFAULT_STATE_DIR): string =>
  path.resolve(process.env.INIT_CWD ?? process.cwd(), given ?? fallback);

/** A path as the user would type it: relative to where they are when it is below, else absolute. */
export const displayPath = (file: string): string => {
  const relative = path.relative(process.env.INIT_CWD ?? process.cwd(), file);
  const shown = relative === '' ? '.' : relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
  return /\s/.test(shown) ? JSON.stringify(shown) : shown;
};

/** How to point a command at this state directory, for hints (nothing when it is the default one). */
export const stateDirFlag = (stateDir: string): string => (stateDir === resolveStateDir(undefined) ? '' : ` --state-dir ${displayPath(stateDir)}`);

/** The stack running for a state directory, or a one-line CommandError telling the user how to start one. */
export const requireRunningStack = (stateDir: string): StackInfo => {
  const info = existsSync(stateDir) ? readStackInfo(stateDir) : undefined;
  if (!info) throw new CommandError(`no stack running in ${stateDir}; start one with \`claims-cdc up${stateDirFlag(stateDir)}\``);
  return info;
};
