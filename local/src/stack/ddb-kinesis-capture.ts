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
 *
 * With a journal file, what is between DynamoDB and Kinesis survives a kill -9 (see capture-journal.ts): the items a
 * write touches are journaled with their images before it is forwarded, its records before its client is answered,
 * and a start replays what was open before it serves.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
// The module, not the package index: the capture's process loads no more of the core than the record format.
import { buildWireChangeRecord } from '@claims-cdc/shared/domain/change-record';
import { listenOnLoopback } from './listen';
import { DynamoWire, itemSizeBytes, keyOf, postRaw, sameItem, type WireItem } from './dynamodb-wire';
import { CaptureJournal, type JournaledRecord } from './capture-journal';
import { KeyLock } from './key-lock';
import { KinesisOutbox, type OutboxStats } from './kinesis-outbox';
import { type BackoffPolicy, retrying } from './backoff';
import { itemIdentity, partitionKeyOfIdentity } from './partition-key';

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
  /** The write-ahead journal (created 0600); what it holds from an earlier run is replayed at start. Default: none. */
  journalFile?: string;
}

/** Counters of the capture. */
export interface CaptureStats {
  /** Requests forwarded (all operations). */
  requests: number;
  /** Write requests on captured tables that the emulator accepted. */
  acceptedWrites: number;
  /** Records queued for Kinesis (one per changed item). */
  recordsCaptured: number;
  /**
   * Accepted writes whose new image could not be read (should stay 0). Their client got an InternalServerError, and
   * their change is emitted once the item can be read again: none is dropped.
   */
  captureErrors: number;
  /** Items whose change awaits that read now. */
  pendingChanges: number;
  /** Replayed from the journal at start: records not acknowledged by Kinesis, and writes whose change was not known. */
  recovered: { records: number; changes: number };
  outbox: OutboxStats;
}

/** A running capture proxy. */
export interface DdbKinesisCapture {
  /** `http://127.0.0.1:PORT`: set `AWS_ENDPOINT_URL_DYNAMODB` to this. */
  readonly endpoint: string;
  stats(): CaptureStats;
  /** Resolves when every change accepted so far is on the stream; rejects when a pending one still cannot be read. */
  flush(): Promise<void>;
  /**
   * Stops accepting connections, finishes in-flight writes, emits pending changes, delivers queued records, then
   * closes; rejects (after closing) when a pending change could not be emitted.
   */
  stop(): Promise<void>;
  /**
   * Dies as a killed process would: connections are cut, nothing is flushed, emitted or acknowledged any more, and
   * the journal is closed as it is (a restart on it replays what was open). Resolves once the requests that were in
   * progress have given up (they fail: the emulator behind them is being killed too), so none reaches a later stack.
   */
  kill(): Promise<void>;
}

const WRITE_OPERATIONS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);
const SCHEMA_OPERATIONS = new Set(['CreateTable', 'DeleteTable', 'UpdateTable']);
const MAX_BODY_BYTES = 32 * 1024 * 1024;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']);

/** A record bound for Kinesis, before the journal numbers it. */
type JournaledRecordInput = Omit<JournaledRecord, 'id'>;

/** One item's change: its images before and after, and the journal intent it closes. */
interface Change {
  target: Target;
  oldImage: WireItem | undefined;
  newImage: WireItem | undefined;
  intentId: number | undefined;
}

/** One item a write may change. */
interface Target {
  table: string;
  key: WireItem;
  lockKey: string;
}

/** Reads of a new image per write before the write is failed, and the waits between them. */
const READ_ATTEMPTS = 5;
const READ_BACKOFF: BackoffPolicy = { baseMs: 20, maxMs: 160 };

/** A read of new images, retried by the local backoff policy. */
const withRetries = <T>(fn: () => Promise<T>): Promise<T> => retrying(fn, READ_ATTEMPTS, READ_BACKOFF);
/** First and longest wait between background attempts at the pending changes. */
const PENDING_RETRY_MS = { first: 100, max: 5_000 };

/** What every part of one running capture shares. */
interface Capture {
  readonly options: DdbKinesisCaptureOptions;
  readonly upstream: URL;
  readonly wire: DynamoWire;
  readonly forwardAgent: http.Agent;
  readonly journal: CaptureJournal | undefined;
  readonly outbox: KinesisOutbox;
  readonly locks: KeyLock;
  readonly clock: MonotonicMicros;
  readonly pending: PendingChanges;
  readonly counters: { requests: number; acceptedWrites: number; recordsCaptured: number; captureErrors: number };
  /** Requests being served, and who waits for the last of them to finish. */
  inFlight: number;
  idle: (() => void) | undefined;
  /** Set by `kill`: every later step of a request in progress fails, as in a crashed process. */
  killed: boolean;
}

/** Starts the capture proxy on 127.0.0.1. */
export async function startDdbKinesisCapture(options: DdbKinesisCaptureOptions): Promise<DdbKinesisCapture> {
  const wire = new DynamoWire(options.dynamodbEndpoint, options.region);
  const journal = options.journalFile ? new CaptureJournal(options.journalFile) : undefined;
  const locks = new KeyLock();
  const c: Capture = {
    options,
    upstream: new URL(options.dynamodbEndpoint),
    wire,
    forwardAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }),
    journal,
    outbox: new KinesisOutbox(options.kinesis, {
      ...(journal ? { onDelivered: (records) => journal.acknowledge(records.flatMap((r) => (r.journalId === undefined ? [] : [r.journalId]))) } : {}),
    }),
    locks,
    clock: new MonotonicMicros(),
    pending: new PendingChanges(
      locks,
      (target) => withRetries(() => wire.getItem(target.table, target.key)),
      (target, oldImage, newImage, intentId) => emitAll(c, [{ target, oldImage, newImage, intentId }]),
    ),
    counters: { requests: 0, acceptedWrites: 0, recordsCaptured: 0, captureErrors: 0 },
    inFlight: 0,
    idle: undefined,
    killed: false,
  };
  const recovered = await recover(c);
  const server = http.createServer((req, res) => serve(c, req, res));
  server.keepAliveTimeout = 5_000;
  const port = await listenOnLoopback(server, options.port ?? 0);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats: () => ({ ...c.counters, pendingChanges: c.pending.size, recovered, outbox: c.outbox.stats }),
    async flush() {
      await c.pending.settleAll();
      await c.outbox.flush();
    },
    stop: () => stopCapture(c, server),
    kill: () => killCapture(c, server),
  };
}

/**
 * Puts back what an earlier run left between DynamoDB and Kinesis, before anyone can write: its records first, in
 * their order, then the writes whose change was not known (nothing else writes their items until the proxy listens).
 */
async function recover(c: Capture): Promise<CaptureStats['recovered']> {
  const { journal } = c;
  const recovered = { records: journal?.recovered.records.length ?? 0, changes: journal?.recovered.intents.length ?? 0 };
  for (const r of journal?.recovered.records ?? []) {
    c.outbox.enqueue({ streamName: r.streamName, partitionKey: r.partitionKey, data: Buffer.from(r.data), journalId: r.id });
  }
  for (const intent of journal?.recovered.intents ?? []) c.pending.add(intent.target, intent.oldImage, intent.id);
  // One that cannot be read yet stays pending: retried in the background, settled at the latest by flush or stop.
  if (recovered.changes > 0) await c.pending.settleAll().catch(() => undefined);
  return recovered;
}

/** Serves one request: a write to a captured table under its items' locks, anything else forwarded as it is. */
function serve(c: Capture, req: http.IncomingMessage, res: http.ServerResponse): void {
  c.inFlight += 1;
  const done = () => {
    c.inFlight -= 1;
    if (c.inFlight === 0) c.idle?.();
  };
  readBody(req, MAX_BODY_BYTES)
    .then(async (body) => {
      c.counters.requests += 1;
      const operation = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
      const targets = WRITE_OPERATIONS.has(operation) ? await targetsOf(c, operation, body) : undefined;
      const reply = targets ? await handleWrite(c, req, body, targets) : await forward(c, req, body);
      if (SCHEMA_OPERATIONS.has(operation)) {
        const table = tableNameOf(body);
        if (table) c.wire.forgetTable(table);
      }
      const headers: http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(reply.headers)) if (!HOP_BY_HOP.has(name)) headers[name] = value;
      headers['content-length'] = reply.body.length;
      res.writeHead(reply.statusCode, headers);
      res.end(reply.body);
    })
    .catch((error: Error) => {
      if (res.headersSent) return res.destroy();
      const reply = internalServerError(error.message);
      res.writeHead(reply.statusCode, reply.headers);
      res.end(reply.body);
    })
    .finally(done);
}

/** Sends a request on to the emulator as it came (hop-by-hop headers dropped). */
function forward(c: Capture, req: http.IncomingMessage, body: Buffer): Promise<RawReply> {
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name)) headers[name] = value;
  return postRaw(c.upstream, c.forwardAgent, body, headers, req.url ?? '/');
}

/** The tables and keys or items a write request names (before they are filtered to captured tables). */
function requestedWrites(operation: string, request: Record<string, unknown>): { table: string; key?: WireItem; item?: WireItem }[] {
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
  return raw;
}

/** Resolves what a write touches on captured tables; undefined when it touches none or cannot be parsed. */
async function targetsOf(c: Capture, operation: string, body: Buffer): Promise<Target[] | undefined> {
  let request: Record<string, unknown>;
  try {
    request = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined; // The emulator will reject it; nothing to capture.
  }
  const captured = requestedWrites(operation, request).filter((r) => r.table in c.options.destinations && (r.key || r.item));
  if (captured.length === 0) return undefined;
  const targets = new Map<string, Target>();
  for (const r of captured) {
    let key = r.key;
    if (!key) {
      try {
        key = keyOf(r.item!, await c.wire.keyAttributes(r.table));
      } catch {
        return undefined; // Unknown table: the emulator answers ResourceNotFoundException.
      }
    }
    const lockKey = itemIdentity(r.table, key);
    targets.set(lockKey, { table: r.table, key, lockKey });
  }
  return [...targets.values()];
}

/** The record of one item's change, or none when the item did not change. */
function recordOf(c: Capture, change: Change): JournaledRecordInput | undefined {
  const { target, oldImage, newImage } = change;
  if (sameItem(oldImage, newImage)) return undefined;
  const keys = target.key;
  const record = buildWireChangeRecord({
    awsRegion: c.options.region,
    eventName: !oldImage ? 'INSERT' : newImage ? 'MODIFY' : 'REMOVE',
    tableName: target.table,
    keys,
    ...(newImage ? { newImage } : {}),
    ...(oldImage ? { oldImage } : {}),
    micros: c.clock.next(),
    sizeBytes: itemSizeBytes(keys) + itemSizeBytes(newImage) + itemSizeBytes(oldImage),
  });
  return {
    streamName: c.options.destinations[target.table]!,
    // A hash of the key, never the key itself: keys may be meaningful to a reader of the stream's metadata.
    partitionKey: partitionKeyOfIdentity(target.lockKey),
    data: JSON.stringify(record),
  };
}

/** Fails the current step of a request once the capture was killed. */
function assertAlive(c: Capture): void {
  if (c.killed) throw new Error('the capture was killed');
}

/**
 * Emits the changes of one write (none for an item that did not change) and closes their intents in the journal:
 * one journal entry for the whole write, written before the outbox has its records and before its client is
 * answered.
 */
function emitAll(c: Capture, changes: readonly Change[]): void {
  assertAlive(c);
  const intents = changes.flatMap((change) => (change.intentId === undefined ? [] : [change.intentId]));
  const records = changes.flatMap((change) => recordOf(c, change) ?? []);
  c.counters.recordsCaptured += records.length;
  const journaled = c.journal && (intents.length > 0 || records.length > 0) ? c.journal.commit(intents, records) : undefined;
  records.forEach((out, i) => c.outbox.enqueue({ ...out, data: Buffer.from(out.data), ...(journaled ? { journalId: journaled[i]!.id } : {}) }));
}

/**
 * A write under the locks of the items it touches: their images before and after, and one record per changed item.
 *
 * When the new images cannot be read, the write has already happened in the emulator and cannot be undone. It is
 * failed to its client with InternalServerError (which DynamoDB documents as "may have succeeded"; SDKs retry it),
 * never acknowledged: an acknowledged write must have its change captured. The change itself is kept as pending,
 * with the image before it, and emitted from the next successful read of the item: the client's retry (even when
 * that retry changes nothing, e.g. an identical PutItem, or fails its condition because the first attempt applied),
 * any later write of the item, the background retry, flush or stop — whichever comes first. So a retried write
 * yields exactly one record for the change, and no change is dropped.
 */
function handleWrite(c: Capture, req: http.IncomingMessage, body: Buffer, targets: Target[]): Promise<RawReply> {
  return c.locks.withKeys(
    targets.map((t) => t.lockKey),
    async (): Promise<RawReply> => {
      assertAlive(c);
      const before = await c.wire.getItems(targets);
      assertAlive(c);
      targets.forEach((t, i) => c.pending.settle(t, before[i]));
      const intents = c.journal?.begin(targets.map((target, i) => ({ target, oldImage: before[i] })));
      let reply: RawReply;
      try {
        assertAlive(c);
        reply = await forward(c, req, body);
      } catch (error) {
        // No answer from the emulator: the write may have been applied. Its change is settled by a later read.
        targets.forEach((t, i) => c.pending.add(t, before[i], intents?.[i]));
        throw error;
      }
      assertAlive(c);
      if (reply.statusCode !== 200) {
        if (intents) c.journal!.commit(intents, []);
        return reply;
      }
      c.counters.acceptedWrites += 1;
      let after: (WireItem | undefined)[];
      try {
        after = await withRetries(() => c.wire.getItems(targets));
      } catch (error) {
        c.counters.captureErrors += 1;
        targets.forEach((t, i) => c.pending.add(t, before[i], intents?.[i]));
        return internalServerError(`the write was applied but its change could not be captured yet (${(error as Error).message}); retry it`);
      }
      emitAll(c, targets.map((target, i) => ({ target, oldImage: before[i], newImage: after[i], intentId: intents?.[i] })));
      return reply;
    },
  );
}

/** Waits until no request is being served. */
async function requestsDone(c: Capture): Promise<void> {
  if (c.inFlight > 0) await new Promise<void>((resolve) => (c.idle = resolve));
}

/** Stops cleanly: requests in progress finish, pending changes get a last read, the outbox delivers what it holds. */
async function stopCapture(c: Capture, server: http.Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await requestsDone(c);
  server.closeAllConnections();
  await closed;
  await c.pending.stopRetrying();
  // The last chance for a pending change: if its item still cannot be read, stopping says so instead of hiding it.
  const unsettled = await c.pending.settleAll().then(
    () => undefined,
    (error: Error) => new Error(`the capture stopped with ${c.pending.size} change(s) it could not read from DynamoDB: ${error.message}`),
  );
  try {
    await c.outbox.close();
  } finally {
    // Records the outbox could not deliver stay in the journal: the next start puts them.
    c.journal?.close();
    c.forwardAgent.destroy();
    c.wire.close();
  }
  if (unsettled) throw unsettled;
}

/** Dies as a crashed process would: nothing more is delivered or journaled; the journal keeps what it had. */
async function killCapture(c: Capture, server: http.Server): Promise<void> {
  c.killed = true;
  c.outbox.abandon();
  c.journal?.close();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  c.forwardAgent.destroy();
  c.wire.close();
  void c.pending.stopRetrying();
  // The handlers of requests in progress fail at their next step (killed, or the emulator is gone).
  await requestsDone(c);
  await closed;
}

/**
 * Changes the emulator applied whose new image could not be read yet, each with the item's image before it. A
 * pending change is emitted from the next successful read of its item under the item's lock: everything written
 * between went through the proxy, whose writes wait for the same lock and settle the pending change first, so that
 * read returns the image the failed read should have returned. Until then it is retried in the background.
 */
class PendingChanges {
  private readonly changes = new Map<string, { target: Target; oldImage: WireItem | undefined; intentId: number | undefined }>();
  private readonly retrying = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly locks: KeyLock,
    private readonly read: (target: Target) => Promise<WireItem | undefined>,
    private readonly emit: (target: Target, oldImage: WireItem | undefined, newImage: WireItem | undefined, intentId: number | undefined) => void,
  ) {}

  get size(): number {
    return this.changes.size;
  }

  /** Records a change whose new image is unknown; call under the item's lock. */
  add(target: Target, oldImage: WireItem | undefined, intentId?: number): void {
    this.changes.set(target.lockKey, { target, oldImage, intentId });
    this.retryInBackground();
  }

  /** Emits the item's pending change, if any, now that `current` was read under the item's lock. */
  settle(target: Target, current: WireItem | undefined): void {
    const change = this.changes.get(target.lockKey);
    if (!change) return;
    this.changes.delete(target.lockKey);
    this.emit(target, change.oldImage, current, change.intentId);
  }

  /** Re-reads every pending item under its lock and emits its change; throws when one still cannot be read. */
  async settleAll(): Promise<void> {
    for (const [lockKey, { target }] of [...this.changes]) {
      await this.locks.withKeys([lockKey], async () => {
        if (this.changes.has(lockKey)) this.settle(target, await this.read(target));
      });
    }
  }

  /** Ends the background retries (pending changes stay, for a last settleAll). */
  async stopRetrying(): Promise<void> {
    this.retrying.abort();
    await this.loop;
  }

  /** A change is emitted even if no client writes its item again: retried with growing waits while any is pending. */
  private retryInBackground(): void {
    const { signal } = this.retrying;
    this.loop ??= (async () => {
      for (let wait = PENDING_RETRY_MS.first; this.changes.size > 0 && !signal.aborted; wait = Math.min(2 * wait, PENDING_RETRY_MS.max)) {
        await sleep(wait, undefined, { signal }).catch(() => undefined);
        if (!signal.aborted) await this.settleAll().catch(() => undefined);
      }
    })().finally(() => {
      this.loop = undefined;
      // A change added after the loop's last check and before this line would otherwise wait for flush or stop.
      if (this.changes.size > 0 && !signal.aborted) this.retryInBackground();
    });
  }
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

type RawReply = Awaited<ReturnType<typeof postRaw>>;

/** A DynamoDB-shaped InternalServerError: SDK clients retry it, as they do DynamoDB's own. */
function internalServerError(message: string): RawReply {
  const body = Buffer.from(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: `capture proxy: ${message}` }));
  return { statusCode: 500, headers: { 'content-type': 'application/x-amz-json-1.0', 'content-length': String(body.length) }, body };
}
