/**
 * API Gateway HTTP API (payload format 2.0): an HTTP request becomes the event the ingest handler gets in the cloud,
 * and its result becomes the HTTP response, following API Gateway's rules for results without a statusCode.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';

/** The request as the server saw it. */
export interface RawHttpRequest {
  method: string;
  /** Path and query, e.g. `/claims?count=2`. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  sourceIp: string;
}

/** A matched route: its key (e.g. `POST /claims/{claimId}`) and path parameters. */
export interface RouteMatch {
  routeKey: string;
  pathParameters?: Record<string, string>;
}

/** The HTTP response to send. */
export interface RawHttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  cookies: string[];
  body: Buffer;
}

const TEXT_TYPES = /^(text\/|application\/(json|.*\+json|xml|.*\+xml|javascript|x-www-form-urlencoded))/i;

/** Matches `method path` against route keys like `GET /claims/{claimId}`, `ANY /{proxy+}` or `$default`. */
export function matchRoute(routes: string[], method: string, path: string): RouteMatch | undefined {
  const segments = path.split('/').filter(Boolean);
  for (const routeKey of routes) {
    if (routeKey === '$default') continue;
    const [routeMethod, routePath = '/'] = routeKey.split(' ');
    if (routeMethod !== 'ANY' && routeMethod !== method.toUpperCase()) continue;
    const params = matchPath(routePath.split('/').filter(Boolean), segments);
    if (params) return { routeKey, ...(Object.keys(params).length > 0 ? { pathParameters: params } : {}) };
  }
  return routes.includes('$default') ? { routeKey: '$default' } : undefined;
}

function matchPath(pattern: string[], segments: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const part = pattern[i]!;
    const greedy = /^\{(.+)\+\}$/.exec(part);
    if (greedy) {
      if (i !== pattern.length - 1 || segments.length <= i) return undefined;
      params[greedy[1]!] = segments.slice(i).map(decodeURIComponent).join('/');
      return params;
    }
    const segment = segments[i];
    if (segment === undefined) return undefined;
    const param = /^\{(.+)\}$/.exec(part);
    if (param) params[param[1]!] = decodeURIComponent(segment);
    else if (part !== segment) return undefined;
  }
  return segments.length === pattern.length ? params : undefined;
}

/** Builds the payload-2.0 event. `omitHeaders` keeps stack secrets (the local bearer token) out of the event. */
export function toHttpApiEvent(
  request: RawHttpRequest,
  route: RouteMatch,
  context: { accountId: string; apiId: string; stage?: string },
  omitHeaders: string[] = ['authorization'],
): APIGatewayProxyEventV2 {
  const url = new URL(request.url, 'http://local');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || omitHeaders.includes(name)) continue;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = name in query ? `${query[name]},${value}` : value;
  const cookies = request.headers.cookie?.split(';').map((c) => c.trim()).filter(Boolean);
  const now = new Date();
  const domainName = request.headers.host ?? '127.0.0.1';
  const contentType = String(request.headers['content-type'] ?? '');
  const isText = contentType === '' || TEXT_TYPES.test(contentType);
  const hasBody = request.body.length > 0;
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    ...(cookies?.length ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    ...(route.pathParameters ? { pathParameters: route.pathParameters } : {}),
    requestContext: {
      accountId: context.accountId,
      apiId: context.apiId,
      domainName,
      domainPrefix: domainName.split('.')[0]!.split(':')[0]!,
      http: {
        method: request.method.toUpperCase(),
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: request.sourceIp,
        userAgent: String(request.headers['user-agent'] ?? ''),
      },
      requestId: randomUUID(),
      routeKey: route.routeKey,
      stage: context.stage ?? '$default',
      time: apiGatewayTime(now),
      timeEpoch: now.getTime(),
    },
    ...(hasBody ? { body: isText ? request.body.toString('utf8') : request.body.toString('base64') } : {}),
    isBase64Encoded: hasBody && !isText,
  };
}

/** Turns a handler result into a response, inferring the format as API Gateway does for payload 2.0. */
export function fromHttpApiResult(result: APIGatewayProxyResultV2 | undefined): RawHttpResponse {
  if (result === undefined || result === null) {
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, cookies: [], body: Buffer.from('') };
  }
  if (typeof result === 'string') {
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, cookies: [], body: Buffer.from(result) };
  }
  if (typeof result !== 'object' || !('statusCode' in result)) {
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, cookies: [], body: Buffer.from(JSON.stringify(result)) };
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name.toLowerCase()] = String(value);
  const body = result.body === undefined ? Buffer.alloc(0) : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
  return { statusCode: result.statusCode ?? 200, headers, cookies: result.cookies ?? [], body };
}

/** `12/Mar/2020:19:03:58 +0000`, the format of requestContext.time. */
function apiGatewayTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(
    date.getUTCMinutes(),
  )}:${pad(date.getUTCSeconds())} +0000`;
}
