import { setTimeout as sleep } from 'node:timers/promises';
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import type { Io } from '../console/io';
import { LiveLine } from '../console/live-line';
import { collectPipelineStatus } from '../inspect/collect-status';
import { formatStatusLine, type PipelineStatus } from '../inspect/pipeline-status';
import type { RunningStack } from '../stack/start-stack';

/** A wait that did not end in time. */
export class DemoTimeoutError extends Error {
  override readonly name = 'DemoTimeoutError';
}

/** Milliseconds as seconds with one decimal. */
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Polls the pipeline with a live progress line until `done` holds; DemoTimeoutError after `timeoutMs`. */
export async function waitFor(
  stack: RunningStack,
  warehouse: Warehouse,
  io: Io,
  timeoutMs: number,
  what: string,
  done: (status: PipelineStatus) => boolean | Promise<boolean>,
): Promise<void> {
  const started = Date.now();
  const line = new LiveLine(io, 1_000);
  io.out(`waiting for ${what} …`);
  for (;;) {
    const status = await collectPipelineStatus(stack, warehouse);
    const elapsed = Date.now() - started;
    if (await done(status)) {
      line.clear();
      io.out(`  after ${seconds(elapsed)}: ${formatStatusLine(status)}`);
      return;
    }
    const counts = formatStatusLine(status);
    line.update(`  ${seconds(elapsed).padStart(6)}  ${counts}`, counts);
    if (elapsed > timeoutMs) {
      line.clear();
      throw new DemoTimeoutError(`timed out after ${seconds(timeoutMs)} waiting for ${what} (${formatStatusLine(status)})`);
    }
    await sleep(200);
  }
}
