import { setTimeout as sleep } from 'node:timers/promises';
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import type { RunningStack } from '../stack/start-stack';
import { collectPipelineStatus } from './collect-status';
import { isQuiet, type PipelineStatus } from './pipeline-status';

/** How long a pipeline must look quiet before it counts as settled: longer than the transform's idle poll, so a
 * record put on the stream just before a look is fetched (and counted) by the next one. */
const QUIET_FOR_MS = 400;
const POLL_MS = 100;

/**
 * Waits until nothing is on its way through the pipeline (bounded). Resolves with whether it settled and the last
 * status seen; `onStatus` sees every status taken (live progress).
 */
export async function waitUntilSettled(
  stack: RunningStack,
  warehouse: Warehouse,
  timeoutMs: number,
  onStatus?: (status: PipelineStatus) => void,
): Promise<{ settled: boolean; status: PipelineStatus }> {
  await stack.flushCapture();
  const deadline = Date.now() + timeoutMs;
  let quietSince: number | undefined;
  for (;;) {
    const status = await collectPipelineStatus(stack, warehouse);
    onStatus?.(status);
    quietSince = isQuiet(status) ? (quietSince ?? status.takenAt) : undefined;
    if (quietSince !== undefined && status.takenAt - quietSince >= QUIET_FOR_MS) return { settled: true, status };
    if (Date.now() >= deadline) return { settled: false, status };
    await sleep(POLL_MS);
  }
}
