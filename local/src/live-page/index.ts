/**
 * The live pipeline page of a stack running in this process: a sampler that takes the pipeline's status every second,
 * a `live` control route on the stack's API (what `claims-cdc status` reads for freshness and sparklines), and the
 * page's own server on 127.0.0.1, guarded by the stack's API token.
 */
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import { collectPipelineStatus, type StatusSources } from '../inspect/collect-status';
import type { QuarantineEntry } from '../quarantine';
import type { RunningStack } from '../stack/start-stack';
import { destinationByStatus, liveData, type StatusCounts } from './live-data';
import { PipelineSampler, type RatePoint, type WindowFreshness } from './sampler';
import { startLivePageServer } from './server';

export { destinationByStatus, liveData, quarantineByReason, stagesOf, type LiveData, type StageView, type StatusCounts } from './live-data';
export { PipelineSampler, ratesBetween, windowFreshness, type MergeRun, type RatePoint, type WindowFreshness } from './sampler';
export { presentedToken, startLivePageServer, tokenMatches, type LivePageServer } from './server';

/** The control route the page's sampler adds to the stack's API. */
export const LIVE_CONTROL = 'live';

/** What the `live` control route answers: the recent rates and the freshness of the last minute. */
export interface LiveReply {
  rates: RatePoint[];
  freshness: WindowFreshness | null;
}

/** What the live page counts and shows besides the stack itself. */
export interface LivePageOptions {
  sources?: StatusSources;
  /** The quarantine store's entries (ids and reasons are shown, never payloads). */
  quarantine?: () => readonly QuarantineEntry[];
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** Sampling period (default 1 s). */
  everyMs?: number;
}

/** A running live page. */
export interface LivePage {
  /** The page's address, without the token. */
  readonly url: string;
  /** The address to open: the url with `?token=`. */
  readonly urlWithToken: string;
  readonly sampler: PipelineSampler;
  stop(): Promise<void>;
}

/** Starts sampling the stack and serves the live page. */
export async function startLivePage(stack: RunningStack, warehouse: Warehouse, options: LivePageOptions = {}): Promise<LivePage> {
  let byStatus: StatusCounts = [];
  // The destination by claim status is counted with each status, so the page's numbers are of one moment.
  const collect = async () => {
    const [status, counts] = await Promise.all([collectPipelineStatus(stack, warehouse, options.sources), destinationByStatus(warehouse)]);
    byStatus = counts;
    return status;
  };
  const sampler = new PipelineSampler(collect, {
    mergeProbe: () => stack.counters().merge,
    ...(options.everyMs === undefined ? {} : { everyMs: options.everyMs }),
  });
  sampler.start();
  stack.registerControl(LIVE_CONTROL, async (): Promise<LiveReply> => ({ rates: sampler.rates().slice(-120), freshness: sampler.freshness() }));
  const server = await startLivePageServer({
    token: stack.token,
    data: async () => liveData({ sampler, byStatus: () => byStatus, ...(options.quarantine ? { quarantine: options.quarantine } : {}) }),
    ...(options.port === undefined ? {} : { port: options.port }),
  }).catch(async (error: unknown) => {
    await sampler.stop();
    throw error;
  });
  return {
    url: server.url,
    urlWithToken: `${server.url}?token=${encodeURIComponent(stack.token)}`,
    sampler,
    stop: async () => {
      await server.stop();
      await sampler.stop();
    },
  };
}

