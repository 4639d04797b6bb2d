/**
 * When a forked child of the stack (an AWS process, a handler process, the SQS emulator) has ended. Normally that is
 * its 'exit'; a child that could not be started at all (EAGAIN, EMFILE, ENFILE…) emits 'error' and never 'exit', and
 * an 'error' nothing listens for would take the stack down.
 */
import type { ChildProcess } from 'node:child_process';

/** Resolves when `child` has ended: with undefined after its exit, with the error's message when it never started. */
export const childEnded = (child: ChildProcess): Promise<string | undefined> =>
  new Promise((resolve) => {
    child.once('exit', () => resolve(undefined));
    child.once('error', (error) => resolve(error.message));
  });
