/**
 * Event factories for the HTTP API handlers: API Gateway HTTP API (payload 2.0) events as API Gateway delivers them
 * for a route key of serverless.yml, and a Lambda context. Beside shared/test-support/factories.ts (the record and
 * batch events), which stays free of HTTP.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

/** What a test says about a request; the rest of the event is filled in as API Gateway would. */
export interface HttpApiRequest {
  /** Values for the route key's `{name}` segments; they also appear, URL-encoded, in the path. */
  readonly pathParameters?: Record<string, string>;
  /** A string is sent as written (malformed or oversize bodies); anything else as JSON. */
  readonly body?: unknown;
  /** Extra headers (lower-case names). */
  readonly headers?: Record<string, string>;
  /** The body's content type; `null` sends none. Default `application/json`. */
  readonly contentType?: string | null;
  /** Send the body base64-encoded, as API Gateway does for a binary content type. */
  readonly base64?: boolean;
}

/** The payload-2.0 event for `routeKey` (e.g. `PATCH /claims/{claimId}`) and `request`. */
export const httpApiEvent = (routeKey: string, request: HttpApiRequest = {}): APIGatewayProxyEventV2 => {
  const [method = 'GET', routePath = '/'] = routeKey.split(' ');
  const rawPath = routePath.replace(/\{([^}+]+)\}/g, (_match, name: string) => encodeURIComponent(request.pathParameters?.[name] ?? ''));
  const text = request.body === undefined || typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
  const headers: Record<string, string> = {
    host: 'api.example.test',
    'user-agent': 'jest',
    ...(text === undefined ? {} : { 'content-length': String(Buffer.byteLength(text)) }),
    ...(text === undefined || request.contentType === null ? {} : { 'content-type': request.contentType ?? 'application/json' }),
    ...request.headers,
  };
  const now = new Date();
  return {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString: '',
    headers,
    ...(request.pathParameters ? { pathParameters: request.pathParameters } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: headers.host ?? 'api.example.test',
      domainPrefix: 'api',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'jest' },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(text === undefined ? {} : { body: request.base64 ? Buffer.from(text).toString('base64') : text }),
    isBase64Encoded: text !== undefined && request.base64 === true,
  };
};

/** A Lambda context for a function named `functionName`. */
export const lambdaContext = (functionName = 'api'): Context => ({
  callbackWaitsForEmptyEventLoop: true,
  functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
  memoryLimitInMB: '512',
  awsRequestId: randomUUID(),
  logGroupName: `/aws/lambda/${functionName}`,
  logStreamName: 'stream',
  getRemainingTimeInMillis: () => 29_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
});
