import { randomInt } from 'node:crypto';
import { generateClaims } from '@claims-cdc/shared';
import { logger } from '@claims-cdc/shared/observability/logger';
import { MetricUnit, metrics } from '@claims-cdc/shared/observability/metrics';
import { wrap } from '@claims-cdc/shared/observability/wrap';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ZodError, type z } from 'zod';
import { ClaimIdSchema, MAX_BODY_BYTES, PatchRequestSchema, SamplesRequestSchema } from '../api-schemas';
import { ClaimNotFoundError, ClaimsTable } from '../claims-table';
import { dynamodb } from '../clients';
import { config } from '../config';

/** A request the API refuses, with its status code and a message that names the problem. */
export class BadRequestError extends Error {
  override readonly name = 'BadRequestError';
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

const json = (statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 => ({ statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const issues = (error: ZodError): string => error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');

const parseBody = <S extends z.ZodType>(event: APIGatewayProxyEventV2, schema: S): z.infer<S> => {
  const raw = event.body === undefined ? '' : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(raw) > MAX_BODY_BYTES) throw new BadRequestError(413, `request body larger than ${MAX_BODY_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new BadRequestError(400, 'request body is not valid JSON');
  }
  const result = schema.safeParse(parsed);
  if (!result.success) throw new BadRequestError(400, issues(result.error));
  return result.data;
};

const claimIdOf = (event: APIGatewayProxyEventV2): string => {
  const result = ClaimIdSchema.safeParse(event.pathParameters?.claimId ?? '');
  if (!result.success) throw new BadRequestError(400, issues(result.error));
  return result.data;
};

/** The API's routes against a claims table (the plain, testable core of the handler). */
export const routes = (table: ClaimsTable) => ({
  'POST /claims/samples': async (event: APIGatewayProxyEventV2) => {
    const { count, seed } = parseBody(event, SamplesRequestSchema);
    const claims = seed === undefined ? generateClaims(count, randomInt(0, 2 ** 32 - 1), Date.now()) : generateClaims(count, seed);
    await table.putClaims(claims);
    metrics.addMetric('ClaimsGenerated', MetricUnit.Count, claims.length);
    logger.info('claims generated', { count: claims.length });
    return json(201, { claimIds: claims.map((c) => c.claim_id) });
  },
  'PATCH /claims/{claimId}': async (event: APIGatewayProxyEventV2) => {
    const claimId = claimIdOf(event);
    const change = parseBody(event, PatchRequestSchema);
    await table.updateStatus(claimId, change);
    metrics.addMetric('ClaimsUpdated', MetricUnit.Count, 1);
    logger.info('claim updated', { claimId });
    return json(200, { claimId, ...change });
  },
  'DELETE /claims/{claimId}': async (event: APIGatewayProxyEventV2) => {
    const claimId = claimIdOf(event);
    await table.deleteClaim(claimId);
    metrics.addMetric('ClaimsDeleted', MetricUnit.Count, 1);
    logger.info('claim deleted', { claimId });
    return json(200, { claimId, deleted: true });
  },
});

const table = new ClaimsTable(dynamodb, config.CLAIMS_TABLE_NAME);
const router = routes(table);

/** HTTP API (payload v2) → the route for `routeKey`, errors turned into 4xx with a message. */
export const api = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  const route = router[event.routeKey as keyof typeof router];
  if (!route) return json(404, { message: `no route ${event.routeKey}` });
  try {
    return await route(event);
  } catch (error) {
    if (error instanceof BadRequestError) return json(error.statusCode, { message: error.message });
    if (error instanceof ClaimNotFoundError) return json(404, { message: error.message });
    if (error instanceof ZodError) return json(400, { message: issues(error) });
    throw error;
  }
};

/** The Lambda entry point. */
export const handler = wrap(api);
