/**
 * childEnded: a child that exits, and one that never starts. The second emits 'error' and no 'exit' (here: a program
 * that does not exist, ENOENT, as EAGAIN or EMFILE would under load), so waiting for 'exit' alone would never return.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import os from 'node:os';
import { childEnded } from '../src/stack/child-ended';

describe('childEnded', () => {
  it('resolves with no error once a child has exited', async () => {
    // Prepare
    const child = spawn(process.execPath, ['-e', 'process.exit(3)']);
    // Act
    const ended = await childEnded(child);
    // Assess
    expect(ended).toBeUndefined();
    expect(child.exitCode).toBe(3);
  });

  it('resolves with the reason when the child could not be started (an error event, no exit event)', async () => {
    // Prepare
    const child = spawn(path.join(os.tmpdir(), 'claims-cdc-no-such-program'));
    // Act
    const ended = await childEnded(child);
    // Assess
    expect(ended).toMatch(/ENOENT/);
  });
});
