/**
 * The control routes `claims-cdc up` (and the demo) add to a stack, so commands in other processes can query it:
 * DuckDB allows one writer process, so no other process may open the warehouse file while the stack runs.
 */
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import { collectPipelineStatus, type StatusSources } from './collect-status';
import type { PipelineStatus } from './pipeline-status';
import { verifyStack } from './verify';
import { repairStack } from './verify-repair';
import { ControlError } from '../stack/api-server';
import type { RunningStack } from '../stack/start-stack';

/** What the `status` route answers: the stack's own `status` (which it replaces) plus the pipeline's counts. */
export interface StatusReply {
  pid: number;
  stateDir: string;
  external: boolean;
  resources: RunningStack['resources'];
  startedAt: string;
  tableName: string;
  warehouse: string;
  pipeline: PipelineStatus;
  counters: ReturnType<RunningStack['counters']>;
  queueDepths: Awaited<ReturnType<RunningStack['queueDepths']>>;
}

const MAX_SETTLE_MS = 120_000;

/** Registers `status`, `sql` and `verify` on a stack running in this process. */
export function registerCliControls(stack: RunningStack, warehouse: Warehouse, startedAt: Date, sources: StatusSources = {}): void {
  stack.registerControl(
    'status',
    async (): Promise<StatusReply> => ({
      pid: process.pid,
      stateDir: stack.stateDir,
      external: stack.counters().capture === undefined,
      resources: stack.resources,
      startedAt: startedAt.toISOString(),
      tableName: stack.resources.table.name,
      warehouse: stack.env.WAREHOUSE === 'duckdb' ? (stack.env.DUCKDB_PATH ?? 'duckdb') : (stack.env.WAREHOUSE ?? 'unknown'),
      pipeline: await collectPipelineStatus(stack, warehouse, sources),
      counters: stack.counters(),
      queueDepths: await stack.queueDepths(),
    }),
  );

  stack.registerControl('sql', async ({ method, body }) => {
    if (method !== 'POST') throw new ControlError(405, 'POST {"sql": "..."}');
    const sql = (body as { sql?: unknown } | undefined)?.sql;
    if (typeof sql !== 'string' || sql.trim() === '') throw new ControlError(400, 'the body needs "sql": a query');
    try {
      return { rows: await warehouse.query(sql) };
    } catch (error) {
      throw new ControlError(400, `query failed: ${(error as Error).message.split('\n')[0]}`);
    }
  });

  stack.registerControl('verify', async ({ body }) => {
    const settleMs = (body as { settleMs?: unknown } | undefined)?.settleMs;
    if (settleMs !== undefined && (typeof settleMs !== 'number' || !Number.isInteger(settleMs) || settleMs < 0 || settleMs > MAX_SETTLE_MS)) {
      throw new ControlError(400, `settleMs must be an integer from 0 to ${MAX_SETTLE_MS}`);
    }
    return (body as { repair?: unknown } | undefined)?.repair === true ? repairStack(stack, warehouse, settleMs ?? 15_000) : verifyStack(stack, warehouse, settleMs);
  });
}
