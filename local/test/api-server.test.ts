/**
 * The local ingest API: authentication and size limits are enforced before the handler runs; requests become
 * HTTP API payload-2.0 events and results become responses; control routes are pluggable and behind the same token.
 */
import http from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { APIGatewayProxyEventV2Schema } from '@aws-lambda-powertools/parser/schemas/api-gatewayv2';
import { startApiServer, ControlError, type ApiServer } from '../src/stack/api-server';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw request with node:http, so oversize bodies and odd headers go out exactly as written. */
function request(url: string, options: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const target = new URL(options.path, url);
    const req = http.request(target, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    // The server may answer (and close) before an oversize body is fully written; the reply is what counts.
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    req.end(options.body);
  });
}

describe('local API server', () => {
  let server: ApiServer;
  const events: APIGatewayProxyEventV2[] = [];
  let statusCalls = 0;

  beforeAll(async () => {
    server = await startApiServer({
      accountId: '000000000000',
      function: { functionName: 'ingest', functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:ingest' },
      routes: ['POST /claims', 'DELETE /claims/{claimId}'],
      bodyLimitBytes: 1024,
      handler: async (event) => {
        events.push(event);
        if (event.routeKey === 'DELETE /claims/{claimId}') return { statusCode: 204, headers: { 'X-Claim': event.pathParameters?.claimId ?? '' } };
        return { accepted: JSON.parse(event.body ?? 'null') };
      },
    });
    server.registerControl('status', (req) => ({
      calls: ++statusCalls, method: req.method, subpath: req.subpath, query: req.query, body: req.body }));
    server.registerControl('sql', () => {
      throw new ControlError(400, 'only SELECT is allowed');
    });
  });

  afterAll(async () => {
    await server.stop();
  });

  beforeEach(() => {
    events.length = 0;
    statusCalls = 0;
  });

  it('binds to loopback and hands out a long random token', () => {
    // Assess
    expect(new URL(server.url).hostname).toBe('127.0.0.1');
    expect(server.token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
  });

  describe.each([
    ['no Authorization header', {}, 401],
    ['a non-Bearer scheme', { authorization: 'Basic dXNlcjpwYXNz' }, 401],
    ['a wrong token', { authorization: 'Bearer not-the-token' }, 403],
  ])('with %s', (_label, headers: Record<string, string>, status) => {
    it.each(['/claims', '/_stack/status'])(`answers ${status} on %s and never runs the handler`, async (path) => {
      // Act
      const reply = await request(server.url, { method: 'POST', path, headers: { ...headers, 'content-type': 'application/json' }, body: '{"count":1}' });
      // Assess
      expect(reply.status).toBe(status);
      expect(JSON.parse(reply.body).message).toMatch(status === 401 ? /Unauthorized/ : /Forbidden/);
      expect(events).toHaveLength(0);
      expect(statusCalls).toBe(0);
    });
  });

  it.each([
    ['declared by Content-Length', true],
    ['sent chunked without a length', false],
  ])('rejects a body over the limit (%s) with 413 before the handler', async (_label, declared) => {
    // Prepare
    const body = Buffer.alloc(4096, 'x');
    const headers: Record<string, string> = { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' };
    if (!declared) headers['transfer-encoding'] = 'chunked';
    // Act
    const reply = await request(server.url, { method: 'POST', path: '/claims', headers, body });
    // Assess
    expect(reply.status).toBe(413);
    expect(events).toHaveLength(0);
  });

  it('turns an authorized request into a payload-2.0 event without the token, and the result into JSON', async () => {
    // Act
    const reply = await request(server.url, {
      method: 'POST',
      path: '/claims?dry=1&tag=a&tag=b',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json', 'user-agent': 'test' },
      body: '{"count":2}',
    });
    // Assess
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(JSON.parse(reply.body)).toEqual({ accepted: { count: 2 } });
    const [event] = events;
    expect(APIGatewayProxyEventV2Schema.safeParse(event).success).toBe(true);
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /claims',
      rawPath: '/claims',
      rawQueryString: 'dry=1&tag=a&tag=b',
      queryStringParameters: { dry: '1', tag: 'a,b' },
      body: '{"count":2}',
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST', path: '/claims', sourceIp: '127.0.0.1', userAgent: 'test' }, stage: '$default', routeKey: 'POST /claims' },
    });
    expect(event!.headers.authorization).toBeUndefined();
  });

  it('fills path parameters and passes a structured result through', async () => {
    // Act
    const reply = await request(server.url, { method: 'DELETE', path: '/claims/CLM-7', headers: { authorization: `Bearer ${server.token}` } });
    // Assess
    expect(reply.status).toBe(204);
    expect(reply.headers['x-claim']).toBe('CLM-7');
    expect(events[0]!.pathParameters).toEqual({ claimId: 'CLM-7' });
  });

  it('answers 404 for a route the API does not have', async () => {
    // Act
    const reply = await request(server.url, { method: 'GET', path: '/nope', headers: { authorization: `Bearer ${server.token}` } });
    // Assess
    expect(reply.status).toBe(404);
    expect(events).toHaveLength(0);
  });

  it('routes /_stack/<name> to the registered control handler with method, subpath, query and JSON body', async () => {
    // Act
    const reply = await request(server.url, {
      method: 'POST',
      path: '/_stack/status/deep?verbose=1',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    // Assess
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ calls: 1, method: 'POST', subpath: '/deep', query: { verbose: '1' }, body: { a: 1 } });
  });

  it.each([
    ['/_stack/sql', 400, /only SELECT/],
    ['/_stack/unknown', 404, /unknown control route 'unknown'; known: sql, status/],
  ])('maps control errors on %s to %i', async (path, status, message) => {
    // Act
    const reply = await request(server.url, { method: 'POST', path, headers: { authorization: `Bearer ${server.token}` } });
    // Assess
    expect(reply.status).toBe(status);
    expect(JSON.parse(reply.body).error).toMatch(message);
  });
});
