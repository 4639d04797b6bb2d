/**
 * DynamoDB's JSON wire protocol, spoken directly. The capture needs item images exactly as they travel on the wire
 * (`{"S": "..."}`, binary as base64) because that is the shape a stream record carries; the SDK would unmarshal them.
 */
import http from 'node:http';

/** One attribute value in wire form, e.g. `{ "S": "x" }` or `{ "M": { ... } }`. */
export type WireAttributeValue = Record<string, unknown>;
/** An item (or key) in wire form. */
export type WireItem = Record<string, WireAttributeValue>;

/** A DynamoDB error reply, with its `__type` short name and HTTP status. */
export class DynamoWireError extends Error {
  override readonly name = 'DynamoWireError';
  constructor(
    readonly type: string,
    readonly statusCode: number,
    message: string,
  ) {
    super(`${type} (${statusCode}): ${message}`);
  }
}

/** Keys per BatchGetItem (DynamoDB's limit), and how often keys left unprocessed are asked for again. */
const BATCH_GET_LIMIT = 100;
const BATCH_GET_ATTEMPTS = 5;

/** Minimal raw DynamoDB client against one endpoint (the real emulator, never the capture proxy). */
export class DynamoWire {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  private readonly url: URL;
  private readonly keySchemas = new Map<string, Promise<string[]>>();

  constructor(
    endpoint: string,
    private readonly region: string,
  ) {
    this.url = new URL(endpoint);
  }

  /** POSTs one operation and returns the parsed reply; throws DynamoWireError on a non-2xx reply. */
  async call(operation: string, body: unknown): Promise<Record<string, unknown>> {
    const payload = Buffer.from(JSON.stringify(body));
    const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
    const { statusCode, body: raw } = await postRaw(this.url, this.agent, payload, {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `DynamoDB_20120810.${operation}`,
      // The emulator checks that a well-formed SigV4 header and a date are present, not that the signature verifies.
      'x-amz-date': amzDate,
      authorization: `AWS4-HMAC-SHA256 Credential=local/${amzDate.slice(0, 8)}/${this.region}/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0`,
    });
    const parsed = raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
    if (statusCode < 200 || statusCode >= 300) {
      const type = String(parsed.__type ?? 'UnknownError').split('#').pop() ?? 'UnknownError';
      throw new DynamoWireError(type, statusCode, String(parsed.message ?? parsed.Message ?? ''));
    }
    return parsed;
  }

  /** Strongly consistent read of one item, or undefined when absent. */
  async getItem(table: string, key: WireItem): Promise<WireItem | undefined> {
    const reply = await this.call('GetItem', { TableName: table, Key: key, ConsistentRead: true });
    return reply.Item as WireItem | undefined;
  }

  /**
   * Strongly consistent reads of several items (each `undefined` when absent), in the order asked: one BatchGetItem per
   * 100 keys instead of one GetItem each. The keys must be distinct.
   */
  async getItems(items: readonly { table: string; key: WireItem }[]): Promise<(WireItem | undefined)[]> {
    if (items.length === 1) return [await this.getItem(items[0]!.table, items[0]!.key)];
    const out: (WireItem | undefined)[] = new Array<WireItem | undefined>(items.length).fill(undefined);
    const position = new Map<string, number>();
    items.forEach(({ table, key }, i) => position.set(`${table}\u0000${canonicalKey(key)}`, i));
    for (let start = 0; start < items.length; start += BATCH_GET_LIMIT) {
      let request: Record<string, { Keys: WireItem[]; ConsistentRead: true }> = {};
      for (const { table, key } of items.slice(start, start + BATCH_GET_LIMIT)) {
        (request[table] ??= { Keys: [], ConsistentRead: true }).Keys.push(key);
      }
      for (let attempt = 1; Object.keys(request).length > 0; attempt++) {
        if (attempt > BATCH_GET_ATTEMPTS) throw new DynamoWireError('UnprocessedKeys', 200, `BatchGetItem left keys unprocessed ${BATCH_GET_ATTEMPTS} times`);
        const reply = await this.call('BatchGetItem', { RequestItems: request });
        for (const [table, found] of Object.entries((reply.Responses ?? {}) as Record<string, WireItem[]>)) {
          const keyAttributes = await this.keyAttributes(table);
          for (const item of found) {
            const i = position.get(`${table}\u0000${canonicalKey(keyOf(item, keyAttributes))}`);
            if (i !== undefined) out[i] = item;
          }
        }
        request = (reply.UnprocessedKeys ?? {}) as typeof request;
      }
    }
    return out;
  }

  /** The table's key attribute names (hash, then range), cached until `forgetTable`. */
  keyAttributes(table: string): Promise<string[]> {
    let cached = this.keySchemas.get(table);
    if (!cached) {
      cached = this.call('DescribeTable', { TableName: table }).then((reply) => {
        const description = reply.Table as { KeySchema: { AttributeName: string; KeyType: string }[] };
        return [...description.KeySchema]
          .sort((a, b) => (a.KeyType === b.KeyType ? 0 : a.KeyType === 'HASH' ? -1 : 1))
          .map((k) => k.AttributeName);
      });
      cached.catch(() => this.keySchemas.delete(table));
      this.keySchemas.set(table, cached);
    }
    return cached;
  }

  /** Drops a cached key schema (the table was created, deleted or updated). */
  forgetTable(table: string): void {
    this.keySchemas.delete(table);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** POSTs a body to `url` and collects the whole reply. */
export function postRaw(
  url: URL,
  agent: http.Agent,
  body: Buffer,
  headers: http.OutgoingHttpHeaders,
  path = '/',
): Promise<{ statusCode: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path,
        agent,
        headers: { ...headers, 'content-length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Projects the key attributes out of a full item. */
export function keyOf(item: WireItem, keyAttributes: string[]): WireItem {
  const key: WireItem = {};
  for (const name of keyAttributes) {
    const value = item[name];
    if (value !== undefined) key[name] = value;
  }
  return key;
}

/** A stable string for a key: attribute names sorted so `{a,b}` and `{b,a}` agree. */
export function canonicalKey(key: WireItem): string {
  return JSON.stringify(canonical(key));
}

/** Deep structural equality of two wire items, independent of attribute order. */
export function sameItem(a: WireItem | undefined, b: WireItem | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = canonical((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

/**
 * Item size by DynamoDB's published rules (names + values; numbers ~1 byte per 2 significant digits + 1;
 * 3 bytes overhead per list/map plus 1 per element). Used for the stream record's SizeBytes.
 */
export function itemSizeBytes(item: WireItem | undefined): number {
  if (!item) return 0;
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name) + valueSize(value);
  return size;
}

function valueSize(value: WireAttributeValue): number {
  const [type, v] = Object.entries(value)[0] ?? ['NULL', true];
  switch (type) {
    case 'S':
      return Buffer.byteLength(String(v));
    case 'N':
      return numberSize(String(v));
    case 'B':
      return Buffer.from(String(v), 'base64').length;
    case 'BOOL':
    case 'NULL':
      return 1;
    case 'SS':
      return (v as string[]).reduce((n, s) => n + Buffer.byteLength(s), 0);
    case 'NS':
      return (v as string[]).reduce((n, s) => n + numberSize(s), 0);
    case 'BS':
      return (v as string[]).reduce((n, s) => n + Buffer.from(s, 'base64').length, 0);
    case 'L':
      return 3 + (v as WireAttributeValue[]).reduce((n, e) => n + 1 + valueSize(e), 0);
    case 'M':
      return 3 + Object.entries(v as WireItem).reduce((n, [k, e]) => n + 1 + Buffer.byteLength(k) + valueSize(e), 0);
    default:
      return Buffer.byteLength(JSON.stringify(v));
  }
}

function numberSize(n: string): number {
  const digits = n.replace(/^[-+]/, '').replace(/[eE].*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}
