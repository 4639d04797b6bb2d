/**
 * The ingest service's HTTP API, served locally on 127.0.0.1 by the same handler that runs behind API Gateway,
 * plus the stack's control routes under `/_stack/<name>` for a CLI in another process (DuckDB allows one writer
 * process, so the CLI asks the running stack instead of opening the warehouse itself).
 *
 * Every request needs `Authorization: Bearer <token>` (a random token made at start): missing → 401, wrong → 403,
 * both before the body is read or the handler runs. Bodies over the limit get 413 without reaching the handler.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { listenOnLoopback } from './listen';
import { fromHttpApiResult, matchRoute, toHttpApiEvent, type RawHttpResponse } from './http-api-event';
import { createLambdaContext, describeError, type FunctionIdentity, type LambdaHandler } from './lambda-runtime';

/** The ingest handler's contract. */
export type HttpApiHandler = LambdaHandler<APIGatewayProxyEventV2, APIGatewayProxyResultV2>;

/** What a control handler receives. */
export interface ControlRequest {
  method: string;
  /** The path after `/_stack/<name>`, e.g. `/extra` (empty string when none). */
  subpath: string;
  query: Record<string, string>;
  /** Parsed JSON body, or undefined when there is none. */
  body: unknown;
}

/** A control route: returns a JSON-serialisable value, or throws (ControlError for a chosen status). */
export type ControlHandler = (request: ControlRequest) => unknown;

/** Thrown by a control handler to answer with a specific status and message. */
export class ControlError extends Error {
  override readonly name = 'ControlError';
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiServerOptions {
  /** The ingest handler; without it only control routes answer (API paths get 503). */
  handler?: HttpApiHandler;
  function: FunctionIdentity;
  accountId: string;
  /** Route keys as in serverless.yml's httpApi events (`POST /claims`, `GET /claims/{id}`); default `$default`. */
  routes?: string[];
  /** Defaults to a fresh random token. */
  token?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 1 MiB, API Gateway's own limit is 10 MB; ours is smaller on purpose. */
  bodyLimitBytes?: number;
}

/** Counters of the API server (no request contents). */
export interface ApiServerCounters {
  requests: number;
  unauthorized: number;
  tooLarge: number;
  invocations: number;
  handlerErrors: number;
  controlCalls: number;
  lastError?: string;
}

/** A running API server. */
export interface ApiServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly token: string;
  /** Adds (or replaces) the control route `/_stack/<name>`. */
  registerControl(name: string, handler: ControlHandler): void;
  counters(): ApiServerCounters;
  /** Stops accepting, lets in-flight requests finish, closes. */
  stop(): Promise<void>;
}

const CONTROL_PREFIX = '/_stack/';
const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** What the parts of one server share. */
interface Api {
  readonly options: ApiServerOptions;
  readonly tokenDigest: Buffer;
  readonly limit: number;
  readonly routes: string[];
  readonly controls: Map<string, ControlHandler>;
  readonly counters: ApiServerCounters;
}

/** Starts the server on 127.0.0.1. */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const token = options.token ?? randomBytes(32).toString('base64url');
  const api: Api = {
    options,
    tokenDigest: sha256(token),
    limit: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT,
    routes: options.routes ?? ['$default'],
    controls: new Map<string, ControlHandler>(),
    counters: { requests: 0, unauthorized: 0, tooLarge: 0, invocations: 0, handlerErrors: 0, controlCalls: 0 },
  };
  let inFlight = 0;
  let idle: (() => void) | undefined;
  const server = http.createServer((req, res) => {
    inFlight += 1;
    res.on('close', () => {
      inFlight -= 1;
      if (inFlight === 0) idle?.();
    });
    handle(api, req, res).catch((error: unknown) => {
      api.counters.lastError = describeError(error);
      if (!res.headersSent) send(res, json(500, { message: 'Internal Server Error' }), true);
      else res.destroy();
    });
  });
  const port = await listenOnLoopback(server, options.port ?? 0);

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    registerControl(name, handler) {
      if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`control route name '${name}' must be lower-case letters, digits and dashes`);
      api.controls.set(name, handler);
    },
    counters: () => ({ ...api.counters }),
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Writes a response (`close`: and closes the connection, after a refused request whose body was not read). */
function send(res: http.ServerResponse, response: RawHttpResponse, close = false): void {
  const headers: http.OutgoingHttpHeaders = { ...response.headers, 'content-length': response.body.length };
  if (response.cookies.length > 0) headers['set-cookie'] = response.cookies;
  if (close) headers.connection = 'close';
  res.writeHead(response.statusCode, headers);
  res.end(response.body);
}

/** A JSON response. */
function json(statusCode: number, value: unknown, extra: Record<string, string> = {}): RawHttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json', ...extra }, cookies: [], body: Buffer.from(JSON.stringify(value)) };
}

/** The refusal of a request without the right bearer token, or undefined when it may pass. */
function authorize(api: Api, req: http.IncomingMessage): RawHttpResponse | undefined {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) return json(401, { message: 'Unauthorized: send Authorization: Bearer <token>' }, { 'www-authenticate': 'Bearer' });
  if (!timingSafeEqual(sha256(match[1]!), api.tokenDigest)) return json(403, { message: 'Forbidden: wrong token' });
  return undefined;
}

/** Serves one request: authorized, within the body limit, then a control route or the API handler on a route. */
async function handle(api: Api, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const { options, counters, limit } = api;
  counters.requests += 1;
  const denied = authorize(api, req);
  if (denied) {
    counters.unauthorized += 1;
    return send(res, denied, true);
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  const body = declared > limit ? undefined : await readLimited(req, limit);
  if (!body) {
    counters.tooLarge += 1;
    return send(res, json(413, { message: `Request body larger than ${limit} bytes` }), true);
  }
  const url = new URL(req.url ?? '/', 'http://local');
  if (url.pathname.startsWith(CONTROL_PREFIX)) return send(res, await control(api, req.method ?? 'GET', url, body));
  if (!options.handler) return send(res, json(503, { message: 'No API handler is loaded in this stack' }));
  const route = matchRoute(api.routes, req.method ?? 'GET', url.pathname);
  if (!route) return send(res, json(404, { message: 'Not Found' }));
  const event = toHttpApiEvent(
    { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body, sourceIp: req.socket.remoteAddress ?? '127.0.0.1' },
    route,
    { accountId: options.accountId, apiId: 'local' },
  );
  counters.invocations += 1;
  try {
    return send(res, fromHttpApiResult(await options.handler(event, createLambdaContext(options.function))));
  } catch (error) {
    counters.handlerErrors += 1;
    counters.lastError = describeError(error);
    return send(res, json(500, { message: 'Internal Server Error' }));
  }
}

/** Calls a control route registered with `registerControl`; its JSON reply, or the error as JSON. */
async function control(api: Api, method: string, url: URL, body: Buffer): Promise<RawHttpResponse> {
  const [name = '', ...rest] = url.pathname.slice(CONTROL_PREFIX.length).split('/');
  const handler = api.controls.get(name);
  if (!handler) return json(404, { error: `unknown control route '${name}'; known: ${[...api.controls.keys()].sort().join(', ')}` });
  api.counters.controlCalls += 1;
  let parsed: unknown;
  if (body.length > 0) {
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return json(400, { error: 'control request body is not JSON' });
    }
  }
  try {
    const result = await handler({
      method: method.toUpperCase(),
      subpath: rest.length > 0 ? `/${rest.join('/')}` : '',
      query: Object.fromEntries(url.searchParams),
      body: parsed,
    });
    return json(200, result ?? null);
  } catch (error) {
    if (error instanceof ControlError) return json(error.statusCode, { error: error.message });
    return json(500, { error: describeError(error) });
  }
}

/** Reads the body; resolves undefined (and stops reading) once it exceeds `limit`. */
function readLimited(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume(); // Drain without keeping; the reply closes the connection.
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
