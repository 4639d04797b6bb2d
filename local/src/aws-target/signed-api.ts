/**
 * Calls to the deployed ingest API, which is IAM-authorized (`authorizer: aws_iam` in services/ingest/serverless.yml):
 * every request is signed with Signature Version 4 for the service `execute-api`, with the caller's credentials from
 * the default provider chain (the same ones the SDK clients use).
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { readApiReply, type ApiReply } from '../console/api-reply';
import { AwsTargetError } from './errors';

/** What signs a request: credentials (or their provider) and the region of the API. */
export interface SigningIdentity {
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  readonly region: string;
}

/** A request about to be sent: method, URL, headers (`host` included) and body. */
export interface SignedRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

/** The region of an API Gateway URL (`https://ID.execute-api.REGION.amazonaws.com`), or undefined for another host. */
export const regionOfApiUrl = (url: URL): string | undefined => /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(url.hostname)?.[1];

/**
 * Signs a request to the API at `apiUrl` (a base URL; `pathname` is appended to its path, as the stage path of a
 * REST API or a custom domain's base path may be part of it). `signingDate` fixes the clock (tests).
 */
export async function signApiRequest(
  identity: SigningIdentity,
  apiUrl: string,
  method: string,
  pathname: string,
  body?: unknown,
  signingDate?: Date,
): Promise<SignedRequest> {
  const base = new URL(apiUrl);
  const url = new URL(`${base.pathname.replace(/\/$/, '')}${pathname}`, base);
  const text = body === undefined ? undefined : JSON.stringify(body);
  // No x-amz-content-sha256 header (an S3 convention): the payload's hash is part of the canonical request regardless.
  const signer = new SignatureV4({ service: 'execute-api', region: regionOfApiUrl(url) ?? identity.region, credentials: identity.credentials, sha256: Sha256, applyChecksum: false });
  const signed = await signer.sign(
    {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { host: url.host, ...(text === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(text === undefined ? {} : { body: text }),
    },
    signingDate ? { signingDate } : {},
  );
  return { method, url, headers: signed.headers, body: text };
}

/**
 * Signs and sends a request; a non-2xx reply throws one line with the API's message (its replies name claim ids and
 * field paths, never values).
 */
export async function callSignedApi<T>(identity: SigningIdentity, apiUrl: string, method: string, pathname: string, body?: unknown): Promise<ApiReply<T>> {
  const request = await signApiRequest(identity, apiUrl, method, pathname, body);
  // fetch sets Host from the URL itself, to the same value that was signed.
  const { host: _host, ...headers } = request.headers;
  let response: Response;
  try {
    response = await fetch(request.url, { method, headers, ...(request.body === undefined ? {} : { body: request.body }), signal: AbortSignal.timeout(60_000) });
  } catch (error) {
    throw new AwsTargetError(`cannot reach the API at ${apiUrl}: ${(error as Error).message}`);
  }
  const hint = response.status === 403 ? ' (IAM: the caller needs execute-api:Invoke on this API)' : '';
  return readApiReply<T>(response, (message) => new AwsTargetError(`${method} ${pathname} failed (${response.status}): ${message}${hint}`));
}
