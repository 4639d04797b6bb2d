/**
 * The ingest HTTP API (API Gateway HTTP API, payload 2.0; IAM authorization is API Gateway's, before this runs).
 * Routing, path parameters and error-to-status mapping are Powertools' event-handler Router; each route parses its
 * inputs at the boundary (api-request.ts), calls the claims table and shapes the reply.
 */
import { randomInt } from 'node:crypto';
import { HttpError, ParameterValidationError, Router } from '@aws-lambda-powertools/event-handler/http';
import { generateClaims } from '@claims-cdc/shared';
import { logger } from '@claims-cdc/shared/observability/logger';
import { MetricUnit, metrics } from '@claims-cdc/shared/observability/metrics';
import { wrap } from '@claims-cdc/shared/observability/wrap';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { jsonBody, refusal, validated } from '../api-request';
import { ClaimPathSchema, PatchRequestSchema, SamplesRequestSchema } from '../api-schemas';
import { ClaimNotFoundError, ClaimsTable } from '../claims-table';
import { dynamodb } from '../clients';
import { config } from '../config';

/**
 * What the API answers for an error: an HttpError (thrown by the boundary or the router) with its status, a blank
 * path parameter 400, an unknown claim 404, anything else 500. One function rather than one registration per class:
 * `HttpError` is abstract (the registry takes only concrete classes), and a catch-all registered beside specific
 * ones would depend on registration order. Every reply is `{ message }`; an unexpected error's text is never sent.
 */
const errorReply = (error: Error): Response => {
  if (error instanceof HttpError) return refusal(error.statusCode, error.message);
  if (error instanceof ParameterValidationError) return refusal(400, error.message);
  if (error instanceof ClaimNotFoundError) return refusal(404, error.message);
  // Only the name: an unexpected error's message may quote a request's values (PHI).
  logger.error('request failed', { errorName: error.name });
  return refusal(500, 'Internal Server Error');
};

/** The API's router against a claims table: its three routes and how errors become replies. */
export const createApi = (table: ClaimsTable): Router => {
  // The router logs every error at debug level with its message, which may quote a request's values (PHI): not kept.
  const app = new Router({ logger: { debug: () => undefined, info: logger.info.bind(logger), warn: logger.warn.bind(logger), error: logger.error.bind(logger) } });

  app.post('/claims/samples', async ({ req }) => {
    const { count, seed } = await jsonBody(req, SamplesRequestSchema);
    const claims = seed === undefined ? generateClaims(count, randomInt(0, 2 ** 32 - 1), Date.now()) : generateClaims(count, seed);
    await table.putClaims(claims);
    metrics.addMetric('ClaimsGenerated', MetricUnit.Count, claims.length);
    logger.info('claims generated', { count: claims.length });
    return Response.json({ claimIds: claims.map((c) => c.claim_id) }, { status: 201 });
  });

  app.patch('/claims/:claimId', async ({ req, params }) => {
    const { claimId } = validated(ClaimPathSchema, params);
    const change = await jsonBody(req, PatchRequestSchema);
    await table.updateStatus(claimId, change);
    metrics.addMetric('ClaimsUpdated', MetricUnit.Count, 1);
    logger.info('claim updated', { claimId });
    return { claimId, ...change };
  });

  app.delete('/claims/:claimId', async ({ params }) => {
    const { claimId } = validated(ClaimPathSchema, params);
    await table.deleteClaim(claimId);
    metrics.addMetric('ClaimsDeleted', MetricUnit.Count, 1);
    logger.info('claim deleted', { claimId });
    return { claimId, deleted: true };
  });

  app.errorHandler(Error, async (error) => errorReply(error));
  return app;
};

const app = createApi(new ClaimsTable(dynamodb, config.CLAIMS_TABLE_NAME));

/** The plain handler: an HTTP API (payload 2.0) event through the router. */
export const api = (event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> => app.resolve(event, context);

/** The Lambda entry point. */
export const handler = wrap(api);
