/**
 * The local stand-in for DynamoDB's Kinesis streaming destination.
 *
 * No emulator implements the feature, so this HTTP proxy sits in front of the DynamoDB emulator and is what
 * `AWS_ENDPOINT_URL_DYNAMODB` points at. Every request is forwarded unchanged. For each write the emulator accepts
 * (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems) on a table with a destination, it reads the
 * touched items strongly consistently before and after, under a per-item lock, and emits one record per item that
 * changed — in the exact JSON the real feature writes — to the destination stream. A write that changes nothing
 * (identical put, failed condition, delete of a missing item) emits nothing, as on AWS.
 *
 * Because it is a network proxy it captures writes from anyone who uses the endpoint: handlers, the CLI, scripts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { buildWireChangeRecord, partitionKeyFor } from '@claims-cdc/shared';
import { DynamoWire, canonicalKey, itemSizeBytes, keyOf, postRaw, sameItem, type WireItem } from './dynamodb-wire';
import { KeyLock } from './key-lock';
import { KinesisOutbox, type OutboxStats } from './kinesis-outbox';

/** The record format lives in the shared core (one place); re-exported for the stack's users. */
export type { DynamoDBKinesisRecord } from '@claims-cdc/shared';

export interface DdbKinesisCaptureOptions {
  /** The DynamoDB emulator the proxy forwards to. */
  dynamodbEndpoint: string;
  /** Client for the Kinesis emulator (the outbox retries on its own; give it maxAttempts 1 or leave defaults). */
  kinesis: KinesisClient;
  region: string;
  /** Table name → destination stream name. Writes to other tables are forwarded without capture. */
  destinations: Record<string, string>;
  /** Listen port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
}

/** Counters of the capture. */
export interface CaptureStats {
  /** Requests forwarded (all operations). */
  requests: number;
  /** Write requests on captured tables that the emulator accepted. */
  acceptedWrites: number;
  /** Records queued for Kinesis (one per changed item). */
  recordsCaptured: number;
  /** Accepted writes whose after-image could not be read (should stay 0; a record may be missing). */
  captureErrors: number;
  outbox: OutboxStats;
}

/** A running capture proxy. */
export interface DdbKinesisCapture {
  /** `http://127.0.0.1:PORT`: set `AWS_ENDPOINT_URL_DYNAMODB` to this. */
  readonly endpoint: string;
  stats(): CaptureStats;
  /** Resolves when every record captured so far is on the stream. */
  flush(): Promise<void>;
  /** Stops accepting connections, finishes in-flight writes, delivers queued records, then closes. */
  stop(): Promise<void>;
}

const WRITE_OPERATIONS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);
const SCHEMA_OPERATIONS = new Set(['CreateTable', 'DeleteTable', 'UpdateTable']);
const MAX_BODY_BYTES = 32 * 1024 * 1024;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']);

/** One item a write may change. */
interface Target {
  table: string;
  key: WireItem;
  lockKey: string;
}

/** Starts the capture proxy on 127.0.0.1. */
export async function startDdbKinesisCapture(options: DdbKinesisCaptureOptions): Promise<DdbKinesisCapture> {
  const upstream = new URL(options.dynamodbEndpoint);
  const wire = new DynamoWire(options.dynamodbEndpoint, options.region);
  const forwardAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const outbox = new KinesisOutbox(options.kinesis);
  const locks = new KeyLock();
  const clock = new MonotonicMicros();
  const counters = { requests: 0, acceptedWrites: 0, recordsCaptured: 0, captureErrors: 0 };
  let inFlight = 0;
  let idle: (() => void) | undefined;

  const forward = (req: http.IncomingMessage, body: Buffer) => {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name)) headers[name] = value;
    return postRaw(upstream, forwardAgent, body, headers, req.url ?? '/');
  };

  /** Resolves what a write touches on captured tables; undefined when it touches none or cannot be parsed. */
  const targetsOf = async (operation: string, body: Buffer): Promise<Target[] | undefined> => {
    let request: Record<string, unknown>;
    try {
      request = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return undefined; // The emulator will reject it; nothing to capture.
    }
    const raw: { table: string; key?: WireItem; item?: WireItem }[] = [];
    if (operation === 'PutItem') raw.push({ table: String(request.TableName), item: request.Item as WireItem });
    if (operation === 'UpdateItem' || operation === 'DeleteItem') raw.push({ table: String(request.TableName), key: request.Key as WireItem });
    if (operation === 'BatchWriteItem') {
      for (const [table, requests] of Object.entries((request.RequestItems ?? {}) as Record<string, unknown[]>)) {
        for (const r of requests as { PutRequest?: { Item: WireItem }; DeleteRequest?: { Key: WireItem } }[]) {
          if (r.PutRequest) raw.push({ table, item: r.PutRequest.Item });
          if (r.DeleteRequest) raw.push({ table, key: r.DeleteRequest.Key });
        }
      }
    }
    if (operation === 'TransactWriteItems') {
      type Entry = { TableName: string; Item?: WireItem; Key?: WireItem };
      for (const t of (request.TransactItems ?? []) as { Put?: Entry; Update?: Entry; Delete?: Entry }[]) {
        const entry = t.Put ?? t.Update ?? t.Delete; // ConditionCheck writes nothing.
        if (entry) raw.push({ table: entry.TableName, key: entry.Key, item: entry.Item });
      }
    }
    const captured = raw.filter((r) => r.table in options.destinations && (r.key || r.item));
    if (captured.length === 0) return undefined;
    const targets = new Map<string, Target>();
    for (const r of captured) {
      let key = r.key;
      if (!key) {
        try {
          key = keyOf(r.item!, await wire.keyAttributes(r.table));
        } catch {
          return undefined; // Unknown table: the emulator answers ResourceNotFoundException.
        }
      }
      const lockKey = `${r.table}\u0000${canonicalKey(key)}`;
      targets.set(lockKey, { table: r.table, key, lockKey });
    }
    return [...targets.values()];
  };

  const emit = (target: Target, oldImage: WireItem | undefined, newImage: WireItem | undefined) => {
    if (sameItem(oldImage, newImage)) return;
    const eventName = !oldImage ? 'INSERT' : newImage ? 'MODIFY' : 'REMOVE';
    const keys = target.key;
    const record = buildWireChangeRecord({
      awsRegion: options.region,
      eventName,
      tableName: target.table,
      keys,
      ...(newImage ? { newImage } : {}),
      ...(oldImage ? { oldImage } : {}),
      micros: clock.next(),
      sizeBytes: itemSizeBytes(keys) + itemSizeBytes(newImage) + itemSizeBytes(oldImage),
    });
    counters.recordsCaptured += 1;
    outbox.enqueue({
      streamName: options.destinations[target.table]!,
      // A hash of the key, never the key itself: keys may be meaningful to a reader of the stream's metadata.
      partitionKey: partitionKeyFor(target.lockKey),
      data: Buffer.from(JSON.stringify(record)),
    });
  };

  const handleWrite = async (req: http.IncomingMessage, body: Buffer, targets: Target[]) =>
    locks.withKeys(
      targets.map((t) => t.lockKey),
      async () => {
        const before = await Promise.all(targets.map((t) => wire.getItem(t.table, t.key)));
        const reply = await forward(req, body);
        if (reply.statusCode !== 200) return reply;
        counters.acceptedWrites += 1;
        let after: (WireItem | undefined)[];
        try {
          after = await withRetries(() => Promise.all(targets.map((t) => wire.getItem(t.table, t.key))));
        } catch {
          counters.captureErrors += 1;
          return reply;
        }
        targets.forEach((t, i) => emit(t, before[i], after[i]));
        return reply;
      },
    );

  const server = http.createServer((req, res) => {
    inFlight += 1;
    const done = () => {
      inFlight -= 1;
      if (inFlight === 0) idle?.();
    };
    readBody(req, MAX_BODY_BYTES)
      .then(async (body) => {
        counters.requests += 1;
        const operation = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
        const targets = WRITE_OPERATIONS.has(operation) ? await targetsOf(operation, body) : undefined;
        const reply = targets ? await handleWrite(req, body, targets) : await forward(req, body);
        if (SCHEMA_OPERATIONS.has(operation)) {
          const table = tableNameOf(body);
          if (table) wire.forgetTable(table);
        }
        const headers: http.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(reply.headers)) if (!HOP_BY_HOP.has(name)) headers[name] = value;
        headers['content-length'] = reply.body.length;
        res.writeHead(reply.statusCode, headers);
        res.end(reply.body);
      })
      .catch((error: Error) => {
        if (res.headersSent) return res.destroy();
        const payload = JSON.stringify({
          __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
          message: `capture proxy: ${error.message}`,
        });
        res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(payload) });
        res.end(payload);
      })
      .finally(done);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats: () => ({ ...counters, outbox: outbox.stats }),
    flush: () => outbox.flush(),
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
      server.closeAllConnections();
      await closed;
      try {
        await outbox.close();
      } finally {
        forwardAgent.destroy();
        wire.close();
      }
    },
  };
}

/** Microseconds since the epoch, strictly increasing across calls even within one microsecond. */
export class MonotonicMicros {
  private last = 0;
  next(): number {
    const now = Math.floor((performance.timeOrigin + performance.now()) * 1000);
    this.last = Math.max(now, this.last + 1);
    return this.last;
  }
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function tableNameOf(body: Buffer): string | undefined {
  try {
    return (JSON.parse(body.toString('utf8')) as { TableName?: string }).TableName;
  } catch {
    return undefined;
  }
}

async function withRetries<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (error) {
      if (i >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * i));
    }
  }
}
