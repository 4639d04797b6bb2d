/**
 * Reads the deployed settings out of the services' serverless.yml files, so the embedded stack creates the same
 * resources with the same event source mapping settings instead of a second copy of them.
 *
 * Understands what those files use: CloudFormation short-form tags (`!Ref`, `!GetAtt`, `!Sub`, ...) and the Serverless
 * variables `${sls:stage}`, `${self:service}`, `${param:name}` (params.default), `${opt:x, 'fallback'}` and
 * `${file(path):dotted.key}`. Anything else is left as written.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CORE_SCHEMA, defineMappingTag, defineScalarTag, defineSequenceTag, load, mergeTag, type Schema } from 'js-yaml';

const INTRINSICS = ['Ref', 'GetAtt', 'Sub', 'ImportValue', 'Join', 'Select', 'Split', 'FindInMap', 'If', 'Equals', 'Not', 'And', 'Or', 'Base64', 'Cidr', 'GetAZs', 'Condition', 'Transform'];
const longForm = (name: string) => (name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`);

/**
 * js-yaml schema that turns `!Ref x` into `{ Ref: x }`, `!GetAtt a.b` into `{ 'Fn::GetAtt': [a, b] }`, and so on,
 * and applies `<<` merge keys (serverless.common.yml uses them).
 */
export const CLOUDFORMATION_SCHEMA: Schema = CORE_SCHEMA.withTags(
  mergeTag,
  INTRINSICS.flatMap((name) => [
    defineScalarTag(`!${name}`, {
      resolve: (source) => ({ [longForm(name)]: name === 'GetAtt' ? source.split('.') : source }),
      identify: () => false,
    }),
    defineSequenceTag<unknown[], unknown>(`!${name}`, {
      create: () => [],
      addItem: (carrier, item) => void carrier.push(item),
      finalize: (carrier) => ({ [longForm(name)]: carrier }),
      identify: () => false,
    }),
    defineMappingTag<Map<unknown, unknown>, unknown>(`!${name}`, {
      create: () => new Map(),
      addPair: (carrier, key, value) => (carrier.set(key, value), ''),
      has: (carrier, key) => carrier.has(key),
      keys: (result) => Object.keys(result as object),
      get: (result, key) => (result as Record<string, unknown>)[String(key)],
      finalize: (carrier) => ({ [longForm(name)]: Object.fromEntries(carrier) }),
      identify: () => false,
    }),
  ]),
);

/** Raised when a serverless.yml lacks a setting the stack needs. */
export class ServerlessConfigError extends Error {
  override readonly name = 'ServerlessConfigError';
}

/** Parses one YAML file with the CloudFormation schema. */
export function loadServerlessYaml(file: string): Record<string, unknown> {
  return load(readFileSync(file, 'utf8'), { schema: CLOUDFORMATION_SCHEMA }) as Record<string, unknown>;
}

/** One service's serverless.yml with its variables resolvable. */
export class ServerlessService {
  readonly doc: Record<string, unknown>;
  private readonly dir: string;
  private readonly files = new Map<string, Record<string, unknown>>();

  constructor(
    readonly file: string,
    readonly stage: string,
  ) {
    this.doc = loadServerlessYaml(file);
    this.dir = path.dirname(file);
  }

  /** The value at a dotted path (`functions.load.events`), variables resolved. */
  get(dotted: string): unknown {
    return this.resolve(dig(this.doc, dotted));
  }

  /** Like `get`, but a missing value is an error naming the file and path. */
  require(dotted: string): unknown {
    const value = this.get(dotted);
    if (value === undefined) throw new ServerlessConfigError(`${path.basename(path.dirname(this.file))}/serverless.yml has no ${dotted}`);
    return value;
  }

  /** Resolves Serverless variables inside any value (strings, arrays, objects). */
  resolve(value: unknown, depth = 0): unknown {
    if (depth > 10) throw new ServerlessConfigError(`${this.file}: variables nest too deep`);
    if (typeof value === 'string') return this.resolveString(value, depth);
    if (Array.isArray(value)) return value.map((v) => this.resolve(v, depth));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.resolve(v, depth)]));
    }
    return value;
  }

  private resolveString(text: string, depth: number): unknown {
    const whole = /^\$\{([^{}]+)\}$/.exec(text);
    if (whole) {
      const value = this.variable(whole[1]!.trim(), depth);
      return value === undefined ? text : value;
    }
    // Innermost first, so `${param:x, 'a-${sls:stage}'}` works.
    let out = text;
    for (let guard = 0; guard < 20; guard++) {
      const next = out.replace(/\$\{([^{}]+)\}/g, (match, expression: string) => {
        const value = this.variable(expression.trim(), depth);
        return value === undefined || typeof value === 'object' ? match : String(value);
      });
      if (next === out) break;
      out = next;
    }
    return out;
  }

  private variable(expression: string, depth: number): unknown {
    const [reference = '', ...fallbackParts] = splitTopLevel(expression);
    const fallback = fallbackParts.length > 0 ? parseFallback(fallbackParts.join(',').trim()) : undefined;
    let value: unknown;
    if (reference === 'sls:stage') value = this.stage;
    else if (reference === 'self:service') value = this.doc.service;
    else if (reference.startsWith('param:')) value = dig(this.doc, `params.default.${reference.slice(6)}`);
    else if (reference.startsWith('opt:')) value = undefined;
    else if (reference.startsWith('self:')) value = dig(this.doc, reference.slice(5));
    else {
      const file = /^file\((.+)\):(.+)$/.exec(reference);
      if (file) value = dig(this.fileDoc(file[1]!.trim()), file[2]!.trim());
      else return undefined;
    }
    if (value === undefined) value = fallback;
    return value === undefined ? undefined : this.resolve(value, depth + 1);
  }

  private fileDoc(relative: string): Record<string, unknown> {
    const absolute = path.resolve(this.dir, relative);
    let doc = this.files.get(absolute);
    if (!doc) {
      doc = loadServerlessYaml(absolute);
      this.files.set(absolute, doc);
    }
    return doc;
  }
}

/** The deployed settings the embedded stack mirrors. */
export interface DeployedSettings {
  table: { name: string; partitionKey: string };
  stream: { name: string; shardCount: number };
  queues: {
    load: { name: string; visibilityTimeoutSeconds: number; messageRetentionSeconds: number; maxReceiveCount: number };
    loadDlq: { name: string; messageRetentionSeconds: number };
    quarantine: { name: string; messageRetentionSeconds: number };
    transformFailure: { name: string; messageRetentionSeconds: number };
  };
  transform: {
    handler: string;
    batchSize: number;
    batchingWindowSeconds: number;
    startingPosition: 'TRIM_HORIZON' | 'LATEST';
    maximumRetryAttempts: number;
    bisectBatchOnFunctionError: boolean;
    timeoutSeconds: number;
  };
  load: { handler: string; batchSize: number; batchingWindowSeconds: number; maximumConcurrency: number; timeoutSeconds: number };
  merge: { handler: string; scheduleRate: string; timeoutSeconds: number };
  api: { handler: string; routes: string[]; timeoutSeconds: number };
  /** Where each service's handler paths are relative to. */
  serviceDirs: Record<'ingest' | 'transform' | 'load' | 'merge', string>;
}

/** The services directory's serverless.yml files, if all four exist. */
export function serverlessFiles(repoRoot: string): Record<'ingest' | 'transform' | 'load' | 'merge', string> | undefined {
  const names = ['ingest', 'transform', 'load', 'merge'] as const;
  const files = Object.fromEntries(names.map((n) => [n, path.join(repoRoot, 'services', n, 'serverless.yml')])) as Record<(typeof names)[number], string>;
  return names.every((n) => existsSync(files[n])) ? files : undefined;
}

/** Reads the settings from the four serverless.yml files (stage names resolved with `stage`). */
export function readDeployedSettings(repoRoot: string, stage: string): DeployedSettings {
  const files = serverlessFiles(repoRoot);
  if (!files) throw new ServerlessConfigError(`services/*/serverless.yml not found under ${repoRoot}`);
  const ingest = new ServerlessService(files.ingest, stage);
  const transform = new ServerlessService(files.transform, stage);
  const load = new ServerlessService(files.load, stage);
  const merge = new ServerlessService(files.merge, stage);

  const table = ingest.require('resources.Resources.ClaimsTable.Properties') as {
    TableName: string;
    KeySchema: { AttributeName: string; KeyType: string }[];
  };
  const stream = ingest.require('resources.Resources.ClaimsStream.Properties') as { Name: string; ShardCount: number };
  const loadQueue = load.require('resources.Resources.LoadQueue.Properties') as {
    QueueName: string;
    VisibilityTimeout: number;
    MessageRetentionPeriod: number;
    RedrivePolicy: { maxReceiveCount: number };
  };
  const loadDlq = load.require('resources.Resources.LoadDeadLetterQueue.Properties') as { QueueName: string; MessageRetentionPeriod: number };
  const quarantine = transform.require('resources.Resources.QuarantineQueue.Properties') as { QueueName: string; MessageRetentionPeriod: number };
  const failed = transform.require('resources.Resources.TransformFailedBatchesQueue.Properties') as { QueueName: string; MessageRetentionPeriod: number };
  const kinesisEvent = eventOf(transform, 'transform', 'stream') as {
    batchSize: number;
    maximumBatchingWindow?: number;
    startingPosition: 'TRIM_HORIZON' | 'LATEST';
    maximumRetryAttempts: number;
    bisectBatchOnFunctionError?: boolean;
  };
  const sqsEvent = eventOf(load, 'load', 'sqs') as { batchSize: number; maximumBatchingWindow?: number; maximumConcurrency?: number };
  const scheduleEvent = eventOf(merge, 'merge', 'schedule') as { rate: string } | string;
  const apiEvents = (ingest.require('functions.api.events') as { httpApi?: { method: string; path: string } }[])
    .filter((e) => e.httpApi)
    .map((e) => `${e.httpApi!.method.toUpperCase()} ${e.httpApi!.path}`);

  return {
    table: { name: table.TableName, partitionKey: table.KeySchema.find((k) => k.KeyType === 'HASH')!.AttributeName },
    stream: { name: stream.Name, shardCount: Number(stream.ShardCount) },
    queues: {
      load: {
        name: loadQueue.QueueName,
        visibilityTimeoutSeconds: Number(loadQueue.VisibilityTimeout),
        messageRetentionSeconds: Number(loadQueue.MessageRetentionPeriod),
        maxReceiveCount: Number(loadQueue.RedrivePolicy.maxReceiveCount),
      },
      loadDlq: { name: loadDlq.QueueName, messageRetentionSeconds: Number(loadDlq.MessageRetentionPeriod) },
      quarantine: { name: quarantine.QueueName, messageRetentionSeconds: Number(quarantine.MessageRetentionPeriod) },
      transformFailure: { name: failed.QueueName, messageRetentionSeconds: Number(failed.MessageRetentionPeriod) },
    },
    transform: {
      handler: String(transform.require('functions.transform.handler')),
      batchSize: Number(kinesisEvent.batchSize),
      batchingWindowSeconds: Number(kinesisEvent.maximumBatchingWindow ?? 0),
      startingPosition: kinesisEvent.startingPosition,
      maximumRetryAttempts: Number(kinesisEvent.maximumRetryAttempts),
      bisectBatchOnFunctionError: kinesisEvent.bisectBatchOnFunctionError === true,
      timeoutSeconds: Number(transform.require('functions.transform.timeout')),
    },
    load: {
      handler: String(load.require('functions.load.handler')),
      batchSize: Number(sqsEvent.batchSize),
      batchingWindowSeconds: Number(sqsEvent.maximumBatchingWindow ?? 0),
      maximumConcurrency: Number(sqsEvent.maximumConcurrency ?? 1000),
      timeoutSeconds: Number(load.require('functions.load.timeout')),
    },
    merge: {
      handler: String(merge.require('functions.merge.handler')),
      scheduleRate: typeof scheduleEvent === 'string' ? scheduleEvent : scheduleEvent.rate,
      timeoutSeconds: Number(merge.require('functions.merge.timeout')),
    },
    api: { handler: String(ingest.require('functions.api.handler')), routes: apiEvents, timeoutSeconds: Number(ingest.require('functions.api.timeout')) },
    serviceDirs: {
      ingest: path.dirname(files.ingest),
      transform: path.dirname(files.transform),
      load: path.dirname(files.load),
      merge: path.dirname(files.merge),
    },
  };
}

/** `rate(5 minutes)` → 300000. */
export function rateToMs(rate: string): number {
  const match = /^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$/.exec(rate.trim());
  if (!match) throw new ServerlessConfigError(`unsupported schedule expression: ${rate}`);
  const unit = { minute: 60_000, hour: 3_600_000, day: 86_400_000 }[match[2]!.replace(/s$/, '') as 'minute' | 'hour' | 'day'];
  return Number(match[1]) * unit;
}

function eventOf(service: ServerlessService, fn: string, type: string): unknown {
  const events = service.require(`functions.${fn}.events`) as Record<string, unknown>[];
  const event = events.find((e) => type in e);
  if (!event) throw new ServerlessConfigError(`${fn} has no ${type} event`);
  return event[type];
}

function dig(root: unknown, dotted: string): unknown {
  let current = root;
  for (const part of dotted.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** Splits `a, 'b, c'` at top-level commas (not inside quotes or nested parentheses). */
function splitTopLevel(expression: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const ch = expression[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(expression.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(expression.slice(start).trim());
  return parts;
}

function parseFallback(raw: string): unknown {
  const quoted = /^(['"])(.*)\1$/.exec(raw);
  if (quoted) return quoted[2];
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (raw === 'true' || raw === 'false') return raw === 'true';
  return raw;
}
