/**
 * The one place where the embedded stack's resource names and event source mapping settings are decided.
 *
 * They are read from the services' serverless.yml files (serverless-config.ts), so cloud and local cannot drift;
 * the few knowing local differences are listed, with their reasons, in LOCAL_DEVIATIONS.
 */
import path from 'node:path';
import { rateToMs, readDeployedSettings, serverlessFiles } from './serverless-config';

/** Region and account the emulators report in ARNs and events. */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT_ID = '000000000000';
/** The stage name used to resolve `${sls:stage}` in resource names. */
export const LOCAL_STAGE = 'local';

/** An SQS queue the stack creates. */
export interface QueueConfig {
  /** Queue name (not URL: URLs depend on the emulator's port). */
  name: string;
  visibilityTimeoutSeconds: number;
  messageRetentionSeconds: number;
  /** When set, the queue's RedrivePolicy points at `deadLetterQueue` after `maxReceiveCount` receives. */
  redrive?: { deadLetterQueue: QueueKey; maxReceiveCount: number };
}

/** Logical queue names used everywhere in the stack. */
export type QueueKey = 'load' | 'loadDlq' | 'quarantine' | 'transformFailure';

/** Where a function's handler lives: module path (absolute, no extension) and export name. */
export interface HandlerRef {
  functionName: string;
  handlerModule: string;
  handlerExport: string;
  /** The function timeout (reported by context.getRemainingTimeInMillis; not enforced locally). */
  timeoutMs: number;
}

/** Lambda's Kinesis event source mapping settings that the local poller honours. */
export interface KinesisMappingConfig extends HandlerRef {
  batchSize: number;
  /** Lambda's MaximumBatchingWindowInSeconds, in ms. */
  batchingWindowMs: number;
  startingPosition: 'TRIM_HORIZON' | 'LATEST';
  /** Lambda's MaximumRetryAttempts; then the on-failure destination. */
  maxRetryAttempts: number;
  bisectBatchOnFunctionError: boolean;
  /** Queue that receives the metadata of batches whose retries are exhausted. */
  onFailureQueue: QueueKey;
  /** How long an idle shard waits before polling again (Lambda polls each shard about once a second). */
  idlePollMs: number;
}

/** Lambda's SQS event source mapping settings that the local poller honours. */
export interface SqsMappingConfig extends HandlerRef {
  queue: QueueKey;
  batchSize: number;
  batchingWindowMs: number;
  /** Parallel poll loops (Lambda's maximumConcurrency). */
  concurrency: number;
}

/** The scheduled (EventBridge rate) invocation of the merge function. */
export interface ScheduleConfig extends HandlerRef {
  intervalMs: number;
  ruleName: string;
}

/** The HTTP API in front of the ingest function. */
export interface ApiConfig extends HandlerRef {
  /** Route keys, e.g. `PATCH /claims/{claimId}`. */
  routes: string[];
}

/** Everything the stack creates and how it wires handlers to it. */
export interface StackConfig {
  region: string;
  accountId: string;
  stage: string;
  table: { name: string; partitionKey: string };
  stream: { name: string; shardCount: number };
  queues: Record<QueueKey, QueueConfig>;
  transform: KinesisMappingConfig;
  load: SqsMappingConfig;
  merge: ScheduleConfig;
  api: ApiConfig;
}

/**
 * Where the local stack knowingly differs from the deployed settings, and why. The drift test checks that every
 * other setting equals serverless.yml and that each of these still differs (else it should be deleted).
 */
export const LOCAL_DEVIATIONS = [
  {
    path: 'stream.name',
    local: 'InsuranceClaimsStream',
    reason: 'the quickstart\'s stream name; the cloud name carries the stage (claims-cdc-<stage>-claim-changes)',
  },
  {
    path: 'queues.load.visibilityTimeoutSeconds',
    local: 10,
    reason: 'a failed or crashed local load is retried within seconds, not after the cloud\'s 390 s; a local batch takes well under 10 s',
  },
  {
    path: 'load.batchingWindowMs',
    local: 250,
    reason: 'the demo waits on every stage: a quarter of a second fills local batches without the cloud\'s 5 s wait; every local delay holds it (npm run bench, freshness)',
  },
  {
    path: 'load.concurrency',
    local: 1,
    reason: 'one DuckDB writer and one event loop: parallel local loads would only queue on the warehouse lock',
  },
  {
    path: 'merge.intervalMs',
    local: 1_000,
    reason: 'issue 4: the merge runs every second locally (rate(1 minute) in the cloud)',
  },
] as const;

/** Options for `loadStackConfig`. */
export interface LoadStackConfigOptions {
  /** The repository root holding services/*\/serverless.yml (default: three levels above this file). */
  repoRoot?: string;
  /** Ignore the serverless.yml files and use built-in defaults. */
  useDefaults?: boolean;
  overrides?: StackConfigOverrides;
}

/** The repository root as seen from this file (local/src/stack → repo). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/**
 * The stack config: settings read from the services' serverless.yml files with LOCAL_DEVIATIONS applied, then the
 * caller's overrides. Falls back to `defaultStackConfig()` when the files are absent.
 */
export function loadStackConfig(options: LoadStackConfigOptions = {}): StackConfig {
  const repoRoot = options.repoRoot ?? REPO_ROOT;
  const base = options.useDefaults || !serverlessFiles(repoRoot) ? defaultStackConfig(repoRoot) : withDeviations(fromServerless(repoRoot));
  return mergeStackConfig(base, options.overrides);
}

/** The settings as serverless.yml deploys them, mapped onto StackConfig (no local deviations). */
export function fromServerless(repoRoot: string, stage = LOCAL_STAGE): StackConfig {
  const d = readDeployedSettings(repoRoot, stage);
  const ref = (service: keyof typeof d.serviceDirs, functionName: string, handler: string, timeoutSeconds: number): HandlerRef => {
    const dot = handler.lastIndexOf('.');
    return {
      functionName: `claims-cdc-${service}-${stage}-${functionName}`,
      handlerModule: path.join(d.serviceDirs[service], handler.slice(0, dot)),
      handlerExport: handler.slice(dot + 1),
      timeoutMs: timeoutSeconds * 1000,
    };
  };
  return {
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    stage,
    table: d.table,
    stream: d.stream,
    queues: {
      load: {
        name: d.queues.load.name,
        visibilityTimeoutSeconds: d.queues.load.visibilityTimeoutSeconds,
        messageRetentionSeconds: d.queues.load.messageRetentionSeconds,
        redrive: { deadLetterQueue: 'loadDlq', maxReceiveCount: d.queues.load.maxReceiveCount },
      },
      loadDlq: { name: d.queues.loadDlq.name, visibilityTimeoutSeconds: 30, messageRetentionSeconds: d.queues.loadDlq.messageRetentionSeconds },
      quarantine: { name: d.queues.quarantine.name, visibilityTimeoutSeconds: 30, messageRetentionSeconds: d.queues.quarantine.messageRetentionSeconds },
      transformFailure: {
        name: d.queues.transformFailure.name,
        visibilityTimeoutSeconds: 30,
        messageRetentionSeconds: d.queues.transformFailure.messageRetentionSeconds,
      },
    },
    transform: {
      ...ref('transform', 'transform', d.transform.handler, d.transform.timeoutSeconds),
      batchSize: d.transform.batchSize,
      batchingWindowMs: d.transform.batchingWindowSeconds * 1000,
      startingPosition: d.transform.startingPosition,
      maxRetryAttempts: d.transform.maximumRetryAttempts,
      bisectBatchOnFunctionError: d.transform.bisectBatchOnFunctionError,
      onFailureQueue: 'transformFailure',
      idlePollMs: 100,
    },
    load: {
      ...ref('load', 'load', d.load.handler, d.load.timeoutSeconds),
      queue: 'load',
      batchSize: d.load.batchSize,
      batchingWindowMs: d.load.batchingWindowSeconds * 1000,
      concurrency: d.load.maximumConcurrency,
    },
    merge: {
      ...ref('merge', 'merge', d.merge.handler, d.merge.timeoutSeconds),
      intervalMs: rateToMs(d.merge.scheduleRate),
      ruleName: `claims-cdc-merge-${stage}-merge-schedule`,
    },
    api: { ...ref('ingest', 'api', d.api.handler, d.api.timeoutSeconds), routes: d.api.routes },
  };
}

/** Applies LOCAL_DEVIATIONS to a config (a copy). */
export function withDeviations(config: StackConfig): StackConfig {
  const copy = structuredClone(config);
  for (const deviation of LOCAL_DEVIATIONS) setPath(copy, deviation.path, deviation.local);
  return copy;
}

/** Reads a dotted path of a config (for the drift test and status output). */
export function getPath(config: StackConfig, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], config);
}

function setPath(config: StackConfig, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  const last = keys.pop()!;
  const parent = keys.reduce<Record<string, unknown>>((node, key) => node[key] as Record<string, unknown>, config as unknown as Record<string, unknown>);
  parent[last] = value;
}

/** Built-in defaults, used only when the serverless.yml files are missing (kept equal to them with deviations applied). */
export function defaultStackConfig(repoRoot: string = REPO_ROOT): StackConfig {
  const handler = (service: string, file: string, functionName: string, timeoutSeconds: number): HandlerRef => ({
    functionName: `claims-cdc-${service}-${LOCAL_STAGE}-${functionName}`,
    handlerModule: path.join(repoRoot, 'services', service, 'src', 'handlers', file),
    handlerExport: 'handler',
    timeoutMs: timeoutSeconds * 1000,
  });
  return {
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    stage: LOCAL_STAGE,
    table: { name: 'InsuranceClaims', partitionKey: 'claim_id' },
    stream: { name: 'InsuranceClaimsStream', shardCount: 1 },
    queues: {
      load: {
        name: `claims-cdc-${LOCAL_STAGE}-load`,
        visibilityTimeoutSeconds: 10,
        messageRetentionSeconds: 345_600,
        redrive: { deadLetterQueue: 'loadDlq', maxReceiveCount: 5 },
      },
      loadDlq: { name: `claims-cdc-${LOCAL_STAGE}-load-dlq`, visibilityTimeoutSeconds: 30, messageRetentionSeconds: 1_209_600 },
      quarantine: { name: `claims-cdc-${LOCAL_STAGE}-quarantine`, visibilityTimeoutSeconds: 30, messageRetentionSeconds: 1_209_600 },
      transformFailure: { name: `claims-cdc-${LOCAL_STAGE}-transform-failed-batches`, visibilityTimeoutSeconds: 30, messageRetentionSeconds: 1_209_600 },
    },
    transform: {
      ...handler('transform', 'transform', 'transform', 60),
      batchSize: 100,
      batchingWindowMs: 0,
      startingPosition: 'TRIM_HORIZON',
      maxRetryAttempts: 10,
      bisectBatchOnFunctionError: true,
      onFailureQueue: 'transformFailure',
      idlePollMs: 100,
    },
    load: { ...handler('load', 'load', 'load', 60), queue: 'load', batchSize: 1000, batchingWindowMs: 250, concurrency: 1 },
    merge: { ...handler('merge', 'merge', 'merge', 300), intervalMs: 1_000, ruleName: `claims-cdc-merge-${LOCAL_STAGE}-merge-schedule` },
    api: { ...handler('ingest', 'api', 'api', 29), routes: ['POST /claims/samples', 'PATCH /claims/{claimId}', 'DELETE /claims/{claimId}'] },
  };
}

/** A partial override of a StackConfig: every nested object may be given in part. */
export type StackConfigOverrides = {
  [K in keyof StackConfig]?: StackConfig[K] extends Record<QueueKey, QueueConfig>
    ? { [Q in QueueKey]?: Partial<QueueConfig> }
    : StackConfig[K] extends object
      ? Partial<StackConfig[K]>
      : StackConfig[K];
};

/** Applies overrides onto a config without mutating it. */
export function mergeStackConfig(base: StackConfig, overrides: StackConfigOverrides = {}): StackConfig {
  const queues = { ...base.queues };
  for (const key of Object.keys(overrides.queues ?? {}) as QueueKey[]) {
    queues[key] = { ...queues[key], ...overrides.queues?.[key] };
  }
  return {
    region: overrides.region ?? base.region,
    accountId: overrides.accountId ?? base.accountId,
    stage: overrides.stage ?? base.stage,
    table: { ...base.table, ...overrides.table },
    stream: { ...base.stream, ...overrides.stream },
    queues,
    transform: { ...base.transform, ...overrides.transform },
    load: { ...base.load, ...overrides.load },
    merge: { ...base.merge, ...overrides.merge },
    api: { ...base.api, ...overrides.api },
  };
}

/** ARN helpers, so every event carries the same identifiers. */
export const arns = {
  table: (c: StackConfig) => `arn:aws:dynamodb:${c.region}:${c.accountId}:table/${c.table.name}`,
  stream: (c: StackConfig) => `arn:aws:kinesis:${c.region}:${c.accountId}:stream/${c.stream.name}`,
  queue: (c: StackConfig, key: QueueKey) => `arn:aws:sqs:${c.region}:${c.accountId}:${c.queues[key].name}`,
  function: (c: StackConfig, name: string) => `arn:aws:lambda:${c.region}:${c.accountId}:function:${name}`,
  role: (c: StackConfig, name: string) => `arn:aws:iam::${c.accountId}:role/${name}-role`,
  rule: (c: StackConfig) => `arn:aws:events:${c.region}:${c.accountId}:rule/${c.merge.ruleName}`,
};
