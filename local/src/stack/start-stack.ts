/**
 * The embedded stack: emulators, the DynamoDB → Kinesis capture, the resources, the pollers that play Lambda's event
 * source mappings, and the local HTTP API — composed, started in order and stopped in reverse.
 *
 * Handlers create their SDK clients and read their settings when their module loads, so the environment
 * (AWS_ENDPOINT_URL_*, region, dummy credentials, queue URLs, table name) is set first and handler modules are
 * imported afterwards. Handlers passed in as functions are used as they are (tests use fakes).
 *
 * The embedded stack keeps its state in the state directory and resumes it at the next start (see persistence.ts):
 * the emulators' data, the SQS messages (in flight and dead-lettered too), the capture's changes not yet on the
 * stream, and the transform's shard checkpoints. `fresh` starts empty instead.
 */
import path from 'node:path';
import { GetQueueAttributesCommand, type QueueAttributeName } from '@aws-sdk/client-sqs';
import { startApiServer, type ApiServer, type ApiServerCounters, type ControlHandler, type HttpApiHandler } from './api-server';
import { applyEnvironment, awsEnvironment, createStackClients, LOCAL_CREDENTIALS, type AwsEndpoints, type StackClients } from './aws-env';
import { startAwsProcess, type AwsProcess } from './aws-process-client';
import type { CaptureStats } from './ddb-kinesis-capture';
import { startHandlerProcess, type HandlerProcess } from './handler-process-client';
import { startSqsEmulator } from './emulators';
import { jsonGetRecords, sdkGetRecords, type GetRecords } from './kinesis-get-records';
import { startKinesisPoller, type KinesisHandler, type KinesisPoller, type KinesisPollerCounters } from './kinesis-poller';
import { describeError } from './lambda-runtime';
import { arns, loadStackConfig, type HandlerRef, type QueueKey, type StackConfig, type StackConfigOverrides } from './local-config';
import { clearPipelineState, fileCheckpointStore, PERSISTED } from './persistence';
import { createResources, type StackResources } from './resources';
import { startSchedulePoller, type ScheduledHandler, type SchedulePoller, type SchedulePollerCounters } from './schedule-poller';
import { startSqsPoller, type SqsHandler, type SqsPoller, type SqsPollerCounters } from './sqs-poller';
import { claimStateDir, removeStackInfo, StateDirError, StateDirLockedError, writeStackInfo, type StateDirLock } from './stack-client';

/** A wrapper per stage around the real handler (see `StartStackOptions.around`). */
export type HandlerWrappers = { [S in StackStage]?: (real: StackHandlers[S]) => StackHandlers[S] };

/** The four handlers the stack invokes. */
export interface StackHandlers {
  transform: KinesisHandler;
  load: SqsHandler;
  merge: ScheduledHandler;
  api: HttpApiHandler;
}

/** A pipeline stage the stack can run without. */
export type StackStage = keyof StackHandlers;

export interface StartStackOptions {
  /** Where the stack keeps its files (state file, warehouse); default `.claims-cdc` under the current directory. */
  stateDir?: string;
  /** Any setting of the stack config (names, mapping settings); see local-config.ts. */
  config?: StackConfigOverrides;
  /** Shortcuts for common config overrides. */
  shardCount?: number;
  mergeIntervalMs?: number;
  transformBatchSize?: number;
  loadBatchSize?: number;
  /**
   * Use these endpoints (LocalStack, or AWS when a service's endpoint is omitted) instead of starting emulators.
   * No capture is started: DynamoDB's own Kinesis streaming destination is enabled on the table instead (an endpoint
   * that does not implement it is reported in `resources.streamingDestination`, not fatal). The table, stream and
   * queues are created or reused. Credentials then come from the usual AWS environment. What the stack still owns
   * (the warehouse, the transform's checkpoints, the quarantine) stays in the state directory as before.
   */
  external?: {
    endpoints: Partial<AwsEndpoints>;
    /** Turn on the table's Kinesis streaming destination (default true; false when it is already on). */
    enableStreamingDestination?: boolean;
  };
  /** Handler functions to use; the others are imported from the modules named in the config after env is set. */
  handlers?: Partial<StackHandlers>;
  /**
   * Wrappers around the real handlers (a stage given in `handlers` is not wrapped): the benchmark times them, a test
   * holds them at a gate. The real transform still runs in its own process; its wrapper runs here.
   */
  around?: HandlerWrappers;
  /** Stages not to run at all (no poller, no import). */
  disable?: StackStage[];
  /** Extra environment for handlers (e.g. warehouse settings), set before any handler module is imported. */
  env?: Record<string, string>;
  /** API port on 127.0.0.1 (default: a free one) and token (default: random). */
  apiPort?: number;
  apiToken?: string;
  /** Control routes served under `/_stack/<name>` (the stack adds `status`). */
  controls?: Record<string, ControlHandler>;
  /** Write `<stateDir>/stack.json` so other processes can find this stack (default true). */
  writeStateFile?: boolean;
  /**
   * Keep the embedded stack's state in the state directory and resume what an earlier run left there (default true);
   * false keeps the emulators, queues, capture and checkpoints in memory.
   */
  persist?: boolean;
  /** Remove what an earlier run left (emulator data, journals, checkpoints, warehouse, quarantine) before starting. */
  fresh?: boolean;
  /**
   * Port of the SQS emulator (default: a free one). Handlers keep the queue URLs they were imported with, and those
   * carry the port: a stack restarted in the same process with the same handlers passes the port of the one before.
   */
  sqsPort?: number;
  /**
   * Called when the stack's AWS process (DynamoDB, Kinesis and the capture) died and could not be restarted; the
   * stack has been killed by then (as a kill -9 would: a start on the same state directory resumes it). Default:
   * the error is thrown uncaught, so the process goes down with its stack instead of running on without a capture.
   */
  onFailure?: (error: Error) => void;
}

/** Counters of every part of a running stack. */
export interface StackCounters {
  capture?: CaptureStats;
  transform?: KinesisPollerCounters;
  load?: SqsPollerCounters;
  merge?: SchedulePollerCounters<unknown>;
  api: ApiServerCounters;
}

/** A running stack. */
export interface RunningStack {
  readonly config: StackConfig;
  readonly stateDir: string;
  /**
   * The endpoints handlers and SDK scripts use (the capture proxy for DynamoDB), and the API; `dynamodbUncaptured` is
   * the DynamoDB emulator itself (writes there reach no stream; absent with external endpoints).
   */
  readonly endpoints: Partial<AwsEndpoints> & { api: string; dynamodbUncaptured?: string };
  readonly token: string;
  readonly resources: StackResources;
  /** The variables set on process.env while the stack runs. */
  readonly env: Readonly<Record<string, string>>;
  /** The stack's own SDK clients (DynamoDB through the capture, so its writes are captured too). */
  readonly clients: StackClients;
  counters(): StackCounters;
  /** Messages waiting or in flight per queue. */
  queueDepths(): Promise<Record<QueueKey, number>>;
  /**
   * Process ids of the stack's child processes now: DynamoDB, Kinesis + the capture (`stream`), SQS (none of these
   * with external endpoints) and the transform handler's. A restarted process has a new one.
   */
  childPids(): { dynamodb?: number; stream?: number; sqs?: number; transform?: number };
  /** Resolves when every change captured so far is on the stream (no-op with an external endpoint). */
  flushCapture(): Promise<void>;
  /** GetRecords on the stack's stream, the way its poller reads it (JSON to its own kinesalite, else the SDK). */
  readonly getRecords: GetRecords;
  /** Runs the merge now (after a run in progress, never alongside it) and returns its result. */
  triggerMerge(): Promise<unknown>;
  registerControl(name: string, handler: ControlHandler): void;
  /** Stops everything in reverse order, letting in-flight invocations finish; restores process.env. */
  stop(): Promise<void>;
  /**
   * Stops everything at once, as `kill -9` of the process would, as far as one process can (see docs/chaos.md,
   * `stack-kill`): the SQS emulator's process and the AWS process (DynamoDB, Kinesis, the capture) are SIGKILLed; the pollers checkpoint, delete and forward nothing more, and the outcome of every invocation in flight is
   * thrown away; the capture flushes nothing (its journal keeps what a restart replays). The warehouse is the
   * process's, not the stack's: the caller decides how it goes. Resolves once nothing of this stack can act any more
   * (the invocations in flight have returned), so a stack started next on the same state directory resumes it.
   */
  kill(): Promise<void>;
}

/** Raised when the stack cannot start; everything it had started is stopped again. */
export class StackStartError extends Error {
  override readonly name = 'StackStartError';
}

let running = false;
/**
 * Handler modules read env once, at import: a module imported for one stack keeps that stack's endpoints, so a later
 * stack in the same process must not reuse it (Node caches modules). Module path → env it was imported under.
 */
const importedHandlerEnv = new Map<string, string>();

/** Starts the embedded stack. One per process at a time. */
export async function startStack(options: StartStackOptions = {}): Promise<RunningStack> {
  if (running) throw new StackStartError('a stack is already running in this process');
  const stateDir = path.resolve(options.stateDir ?? '.claims-cdc');
  const lock = claimStateDirForStack(stateDir);
  running = true;
  // The SDK's notice that future releases need Node 22 would otherwise greet every local run (Node 20 is supported).
  const restoreNotice = applyEnvironment({
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ?? 'true',
  });
  // The lock is released last, when everything that writes to the state directory has stopped.
  const teardown: Teardown = { stops: [() => lock.release(), restoreNotice], kills: [] };
  try {
    if (options.fresh) clearPipelineState(stateDir);
    const parts = await startParts(options, stateDir, teardown);
    const running_ = runningStack(parts, teardown, lock, restoreNotice);
    parts.failed.set((error) => {
      void running_.kill().finally(() => {
        if (options.onFailure) options.onFailure(error);
        else throw error;
      });
    });
    return running_;
  } catch (error) {
    await stopAll(teardown).catch(() => undefined);
    if (error instanceof StackStartError) throw error;
    throw new StackStartError(`the stack did not start: ${describeError(error)}`, { cause: error });
  }
}

/** What a starting stack must undo: `stops` in reverse order on stop, `kills` all at once on kill. */
interface Teardown {
  readonly stops: (() => Promise<void> | void)[];
  readonly kills: (() => Promise<void>)[];
}

/** Runs every stop, newest first, and frees the process for the next stack; the first error is thrown at the end. */
async function stopAll(teardown: Teardown): Promise<void> {
  const errors: unknown[] = [];
  for (const stop of teardown.stops.splice(0).reverse()) {
    try {
      await stop();
    } catch (error) {
      errors.push(error);
    }
  }
  running = false;
  if (errors.length > 0) throw errors[0];
}

/**
 * Where a failure of the AWS process goes: remembered until the stack can be killed (it then fails the start), then
 * to the stack's own handler.
 */
class FailureRoute {
  #handler: ((error: Error) => void) | undefined;
  #early: Error | undefined;

  readonly report = (error: Error): void => {
    if (this.#handler) this.#handler(error);
    else this.#early ??= error;
  };

  set(handler: (error: Error) => void): void {
    this.#handler = handler;
    if (this.#early) handler(this.#early);
  }
}

/** The started parts of a stack, before they are put together as a RunningStack. */
interface StackParts {
  options: StartStackOptions;
  stateDir: string;
  config: StackConfig;
  aws: AwsProcess | undefined;
  sqsPid: number | undefined;
  handlerProcesses: ReadonlyMap<StackStage, HandlerProcess<unknown, unknown>>;
  ownStream: GetRecords | undefined;
  endpoints: Partial<AwsEndpoints>;
  clients: StackClients;
  resources: StackResources;
  env: Record<string, string>;
  restoreEnv: () => void;
  api: ApiServer;
  pipeline: Pipeline;
  failed: FailureRoute;
}

/** Starts, in order, the stand-ins (or takes the external endpoints), resources, env, handlers, API and pollers. */
async function startParts(options: StartStackOptions, stateDir: string, teardown: Teardown): Promise<StackParts> {
  // With external endpoints the stack owns no emulator data, but still its checkpoints (when it persists at all).
  const persist = options.persist !== false && !options.external;
  const keepCheckpoints = options.persist !== false;
  const config = loadStackConfig({ overrides: shortcutOverrides(options) });
  const failed = new FailureRoute();
  let aws: AwsProcess | undefined;
  let sqsPid: number | undefined;
  let endpoints: Partial<AwsEndpoints>;
  let ownKinesisEndpoint: string | undefined;
  if (options.external) {
    endpoints = options.external.endpoints;
    ownKinesisEndpoint = endpoints.kinesis;
  } else {
    const started = await startEmbeddedAws(config, stateDir, persist, options, failed.report);
    ({ aws, sqsPid, endpoints } = started);
    teardown.stops.push(started.stop);
    teardown.kills.push(started.kill);
    ownKinesisEndpoint = started.aws.endpoints.kinesisHttp1;
  }
  // The stack's own clients go through the capture like everyone else's, so their writes are captured too.
  const clients = createStackClients({ ...endpoints, kinesis: ownKinesisEndpoint }, config.region, options.external ? undefined : LOCAL_CREDENTIALS);
  teardown.stops.push(() => clients.destroy());
  const resources = await createResources(clients, config, {
    enableStreamingDestination: options.external ? options.external.enableStreamingDestination !== false : false,
  });
  const env = handlerEnvironment(options, stateDir, config, endpoints, resources);
  const restoreEnv = applyEnvironment(env);
  teardown.stops.push(restoreEnv);
  const handlerProcesses = new Map<StackStage, HandlerProcess<unknown, unknown>>();
  const handlers = await loadHandlers(config, options.handlers ?? {}, new Set(options.disable ?? []), env, { teardown, processes: handlerProcesses, around: options.around ?? {} });
  const api = await startApi(options, config, handlers.api, teardown);
  // The stack's own kinesalite is read as JSON, without the SDK (kinesis-get-records.ts); LocalStack or AWS through it.
  const ownStream = aws ? jsonGetRecords(aws.endpoints.kinesisHttp1, config.region) : undefined;
  const pipeline = startPipeline(config, handlers, { clients, resources, ownStream }, keepCheckpoints ? stateDir : undefined, teardown);
  // Stopped first: no new requests while the pipeline drains.
  teardown.stops.push(() => api.stop());
  return { options, stateDir, config, aws, sqsPid, handlerProcesses, ownStream, endpoints, clients, resources, env, restoreEnv, api, pipeline, failed };
}

/** The environment handler modules read at import: the stack's endpoints and resources, then the caller's. */
function handlerEnvironment(
  options: StartStackOptions,
  stateDir: string,
  config: StackConfig,
  endpoints: Partial<AwsEndpoints>,
  resources: StackResources,
): Record<string, string> {
  return {
    ...awsEnvironment(endpoints, config.region, !options.external),
    CLAIMS_TABLE_NAME: resources.table.name,
    LOAD_QUEUE_URL: resources.queues.load.url,
    QUARANTINE_QUEUE_URL: resources.queues.quarantine.url,
    POWERTOOLS_LOGGER_LOG_EVENT: 'false',
    POWERTOOLS_METRICS_NAMESPACE: 'claims-cdc',
    // The warehouse of the embedded stack lives in its state directory (one DuckDB file, this process writes it).
    WAREHOUSE: 'duckdb',
    DUCKDB_PATH: path.join(stateDir, 'warehouse.duckdb'),
    // One DuckDB worker: the stack's other threads and processes use the cores (see DUCKDB_THREADS in from-env.ts).
    DUCKDB_THREADS: '1',
    ...options.env,
  };
}

/** The HTTP API in front of the ingest handler; stopping it twice stops it once. */
async function startApi(options: StartStackOptions, config: StackConfig, handler: HttpApiHandler | undefined, teardown: Teardown): Promise<ApiServer> {
  const apiServer: ApiServer = await startApiServer({
    handler,
    function: identity(config, config.api),
    accountId: config.accountId,
    routes: config.api.routes,
    ...(options.apiToken ? { token: options.apiToken } : {}),
    ...(options.apiPort !== undefined ? { port: options.apiPort } : {}),
  });
  let apiStopped: Promise<void> | undefined;
  const api = { ...apiServer, url: apiServer.url, token: apiServer.token, stop: () => (apiStopped ??= apiServer.stop()) };
  teardown.stops.push(() => api.stop());
  teardown.kills.push(() => api.stop());
  return api;
}

/** The pollers of the enabled stages, as Lambda's event source mappings and schedule would run the handlers. */
interface Pipeline {
  transform?: KinesisPoller;
  load?: SqsPoller;
  merge?: SchedulePoller<unknown>;
}

/** Starts a poller per enabled stage; `checkpointDir` (persisted stacks) keeps the stream's checkpoints across runs. */
function startPipeline(
  config: StackConfig,
  handlers: Awaited<ReturnType<typeof loadHandlers>>,
  { clients, resources, ownStream }: { clients: StackClients; resources: StackResources; ownStream: GetRecords | undefined },
  checkpointDir: string | undefined,
  teardown: Teardown,
): Pipeline {
  const pipeline: Pipeline = {};
  if (handlers.transform) {
    const mapping = config.transform;
    pipeline.transform = startKinesisPoller({
      kinesis: clients.kinesis,
      sqs: clients.sqs,
      streamName: resources.stream.name,
      streamArn: resources.stream.arn,
      shardIds: resources.stream.shardIds,
      region: config.region,
      handler: handlers.transform,
      function: identity(config, mapping),
      roleArn: arns.role(config, mapping.functionName),
      mapping,
      onFailureQueueUrl: resources.queues[mapping.onFailureQueue].url,
      ...(ownStream ? { getRecords: ownStream } : {}),
      ...(checkpointDir ? { checkpoints: fileCheckpointStore(path.join(checkpointDir, PERSISTED.checkpoints), resources.stream.name, { coalesceMs: CHECKPOINT_COALESCE_MS }) } : {}),
    });
  }
  if (handlers.load) {
    const mapping = config.load;
    const queue = resources.queues[mapping.queue];
    pipeline.load = startSqsPoller({ sqs: clients.sqs, queueUrl: queue.url, queueArn: queue.arn, region: config.region, handler: handlers.load, function: identity(config, mapping), mapping });
  }
  if (handlers.merge) {
    pipeline.merge = startSchedulePoller({
      handler: handlers.merge,
      function: identity(config, config.merge),
      intervalMs: config.merge.intervalMs,
      region: config.region,
      accountId: config.accountId,
      ruleArn: arns.rule(config),
    });
  }
  for (const poller of [pipeline.transform, pipeline.load, pipeline.merge]) {
    if (!poller) continue;
    teardown.stops.push(() => poller.stop());
    teardown.kills.push(() => poller.kill());
  }
  return pipeline;
}

/** The depth (visible, in flight and delayed messages) of each of the stack's queues. */
async function queueDepthsOf(clients: StackClients, resources: StackResources): Promise<Record<QueueKey, number>> {
  const entries = await Promise.all(
    (Object.keys(resources.queues) as QueueKey[]).map(async (key) => {
      const { Attributes } = await clients.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: resources.queues[key].url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
        }),
      );
      const n = (name: QueueAttributeName) => Number(Attributes?.[name] ?? 0);
      return [key, n('ApproximateNumberOfMessages') + n('ApproximateNumberOfMessagesNotVisible') + n('ApproximateNumberOfMessagesDelayed')] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<QueueKey, number>;
}

/** Puts the parts together: counters, the `status` control, the state file, stop and kill. */
function runningStack(parts: StackParts, teardown: Teardown, lock: StateDirLock, restoreNotice: () => void): RunningStack {
  const { options, stateDir, aws, sqsPid, handlerProcesses, endpoints, clients, resources, api, pipeline } = parts;
  const counters = (): StackCounters => ({
    ...(aws ? { capture: aws.stats() } : {}),
    ...(pipeline.transform ? { transform: pipeline.transform.counters() } : {}),
    ...(pipeline.load ? { load: pipeline.load.counters() } : {}),
    ...(pipeline.merge ? { merge: pipeline.merge.counters() } : {}),
    api: api.counters(),
  });
  const queueDepths = () => queueDepthsOf(clients, resources);
  api.registerControl('status', async () => ({
    pid: process.pid,
    stateDir,
    external: Boolean(options.external),
    resources,
    counters: counters(),
    queueDepths: await queueDepths(),
  }));
  for (const [name, handler] of Object.entries(options.controls ?? {})) api.registerControl(name, handler);
  if (options.writeStateFile !== false) {
    writeStackInfo({ pid: process.pid, apiUrl: api.url, token: api.token, startedAt: new Date().toISOString(), stateDir, endpoints, ...(aws ? { dynamodbUncaptured: aws.endpoints.dynamodbUncaptured } : {}) });
    teardown.stops.push(() => removeStackInfo(stateDir));
  }
  let stopped: Promise<void> | undefined;
  return {
    config: parts.config,
    stateDir,
    endpoints: { ...endpoints, api: api.url, ...(aws ? { dynamodbUncaptured: aws.endpoints.dynamodbUncaptured } : {}) },
    token: api.token,
    resources,
    env: parts.env,
    clients,
    counters,
    queueDepths,
    childPids: () => ({
      ...(aws ? aws.pids() : {}),
      ...(sqsPid !== undefined ? { sqs: sqsPid } : {}),
      ...(handlerProcesses.get('transform')?.pid() !== undefined ? { transform: handlerProcesses.get('transform')?.pid() } : {}),
    }),
    flushCapture: () => aws?.flush() ?? Promise.resolve(),
    getRecords: parts.ownStream ?? sdkGetRecords(clients.kinesis),
    triggerMerge: () => (pipeline.merge ? pipeline.merge.trigger() : Promise.reject(new Error('the merge stage is disabled in this stack'))),
    registerControl: (name, handler) => api.registerControl(name, handler),
    stop: () => (stopped ??= stopAll(teardown)),
    kill: () => (stopped ??= killAll(parts, teardown, lock, restoreNotice)),
  };
}

/** Dies as a crashed process would: everything is cut at once, then what was in progress is let fail. */
async function killAll(parts: StackParts, teardown: Teardown, lock: StateDirLock, restoreNotice: () => void): Promise<void> {
  const cut = teardown.kills.splice(0).map((kill) => kill());
  const results = await Promise.allSettled(cut);
  // What a dead process leaves no trace of: its clients, its environment, its lock and state file (this process
  // lives on and starts the next stack; a real kill leaves the lock to be taken over as stale).
  parts.clients.destroy();
  parts.restoreEnv();
  removeStackInfo(parts.stateDir);
  teardown.stops.splice(0);
  lock.release();
  restoreNotice();
  running = false;
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * The embedded AWS stand-ins: fauxqs in its process, and DynamoDB, Kinesis and the capture in the stack's AWS process
 * (aws-process.ts), each on the state directory when the stack persists.
 */
async function startEmbeddedAws(
  config: StackConfig,
  stateDir: string,
  persist: boolean,
  options: StartStackOptions,
  onFailure: (error: Error) => void,
): Promise<{ aws: AwsProcess; sqsPid: number; endpoints: Partial<AwsEndpoints>; stop: () => Promise<void>; kill: () => Promise<void> }> {
  const dataDir = persist ? { dataDir: stateDir } : {};
  const sqs = await startSqsEmulator({ region: config.region, ...dataDir, ...(options.sqsPort !== undefined ? { sqsPort: options.sqsPort } : {}) });
  let aws: AwsProcess;
  try {
    aws = await startAwsProcess({ region: config.region, destinations: { [config.table.name]: config.stream.name }, ...dataDir, onFailure });
  } catch (error) {
    await sqs.stop().catch(() => undefined);
    throw error;
  }
  return {
    aws,
    sqsPid: sqs.pid,
    endpoints: { dynamodb: aws.endpoints.dynamodb, kinesis: aws.endpoints.kinesis, sqs: sqs.endpoint },
    // The capture delivers what it holds to Kinesis before the SQS emulator goes (nothing of the capture needs SQS).
    stop: async () => {
      const results = await Promise.allSettled([aws.stop(), sqs.stop()]);
      const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure) throw failure.reason;
    },
    kill: async () => {
      await Promise.allSettled([sqs.kill(), aws.kill()]);
    },
  };
}

/** Claims the state directory (private, locked: two stacks never share one); a failure is a StackStartError. */
function claimStateDirForStack(stateDir: string): StateDirLock {
  try {
    return claimStateDir(stateDir);
  } catch (error) {
    if (error instanceof StateDirLockedError) {
      const api = error.apiUrl ? `, API ${error.apiUrl}` : '';
      throw new StackStartError(`a stack is already running for ${stateDir} (pid ${error.pid}${api}); use it or stop it first`);
    }
    throw error instanceof StateDirError ? new StackStartError(error.message) : error;
  }
}

function shortcutOverrides(options: StartStackOptions): StackConfigOverrides {
  const o = options.config ?? {};
  return {
    ...o,
    stream: { ...o.stream, ...(options.shardCount !== undefined ? { shardCount: options.shardCount } : {}) },
    merge: { ...o.merge, ...(options.mergeIntervalMs !== undefined ? { intervalMs: options.mergeIntervalMs } : {}) },
    transform: { ...o.transform, ...(options.transformBatchSize !== undefined ? { batchSize: options.transformBatchSize } : {}) },
    load: { ...o.load, ...(options.loadBatchSize !== undefined ? { batchSize: options.loadBatchSize } : {}) },
  };
}

function identity(config: StackConfig, ref: HandlerRef) {
  return { functionName: ref.functionName, functionArn: arns.function(config, ref.functionName), timeoutMs: ref.timeoutMs };
}

/** Given handlers win; the others are imported now that the environment is set. */
async function loadHandlers(
  config: StackConfig,
  given: Partial<StackHandlers>,
  disabled: Set<StackStage>,
  env: Record<string, string>,
  children: { teardown: Teardown; processes: Map<StackStage, HandlerProcess<unknown, unknown>>; around: HandlerWrappers },
): Promise<Partial<StackHandlers>> {
  const refs: Record<StackStage, HandlerRef> = { transform: config.transform, load: config.load, merge: config.merge, api: config.api };
  const out: Partial<StackHandlers> = {};
  const envKey = JSON.stringify(env);
  for (const stage of Object.keys(refs) as StackStage[]) {
    if (disabled.has(stage) || given[stage] || IN_CHILD.has(stage)) continue;
    const previous = importedHandlerEnv.get(refs[stage].handlerModule);
    if (previous !== undefined && previous !== envKey) {
      throw new StackStartError(
        `the ${stage} handler (${refs[stage].handlerModule}) was imported for an earlier stack in this process and keeps its endpoints; start this stack in a new process`,
      );
    }
  }
  for (const stage of Object.keys(refs) as StackStage[]) {
    if (disabled.has(stage)) continue;
    const provided = given[stage];
    if (provided) {
      (out as Record<StackStage, unknown>)[stage] = provided;
      continue;
    }
    const real = IN_CHILD.has(stage) ? await handlerInChild(stage, refs[stage], children) : await importHandler(stage, refs[stage]);
    if (!IN_CHILD.has(stage)) importedHandlerEnv.set(refs[stage].handlerModule, envKey);
    const wrap = children.around[stage] as ((handler: unknown) => unknown) | undefined;
    (out as Record<StackStage, unknown>)[stage] = wrap ? wrap(real) : real;
  }
  return out;
}

/** How long the transform's shard checkpoints may wait to be written together (see `CheckpointStoreOptions`). */
const CHECKPOINT_COALESCE_MS = 100;

/**
 * Stages whose handler runs in a child process (handler-process-client.ts): the transform, the heaviest JavaScript of
 * the pipeline, on the second core. The load and the merge stay here: they share this process's DuckDB file, which
 * allows one writing process.
 */
const IN_CHILD: ReadonlySet<StackStage> = new Set(['transform']);

/** The handler of `stage` in its own process, forked now (it inherits the handler environment just applied). */
async function handlerInChild(
  stage: StackStage,
  ref: HandlerRef,
  { teardown, processes }: { teardown: Teardown; processes: Map<StackStage, HandlerProcess<unknown, unknown>> },
): Promise<unknown> {
  const child = await startHandlerProcess<unknown, unknown>(ref, stage).catch((error: unknown) => {
    throw new StackStartError(`cannot load the ${stage} handler from ${ref.handlerModule} in its own process: ${describeError(error)}`, { cause: error });
  });
  processes.set(stage, child);
  teardown.stops.push(() => child.stop());
  teardown.kills.push(() => child.kill());
  return child.handler;
}

async function importHandler(stage: StackStage, ref: HandlerRef): Promise<unknown> {
  let module: Record<string, unknown>;
  try {
    module = (await import(ref.handlerModule)) as Record<string, unknown>;
  } catch (error) {
    throw new StackStartError(`cannot load the ${stage} handler from ${ref.handlerModule}: ${describeError(error)}`, { cause: error });
  }
  const handler = module[ref.handlerExport] ?? (module.default as Record<string, unknown> | undefined)?.[ref.handlerExport];
  if (typeof handler !== 'function') {
    throw new StackStartError(`${ref.handlerModule} does not export a function named ${ref.handlerExport} (the ${stage} handler)`);
  }
  return handler;
}
