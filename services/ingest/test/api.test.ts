import { BatchWriteItemCommand, ConditionalCheckFailedException, DeleteItemCommand, DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ClaimSchema } from '@claims-cdc/shared';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { httpApiEvent, type HttpApiRequest, lambdaContext } from '../../test-support/http-events';
import { api } from '../src/handlers/api';

const ddb = mockClient(DynamoDBClient);

/** The API's reply to `routeKey` with `request`. */
const call = (routeKey: string, request?: HttpApiRequest): Promise<APIGatewayProxyStructuredResultV2> => api(httpApiEvent(routeKey, request), lambdaContext());

const bodyOf = (result: APIGatewayProxyStructuredResultV2): Record<string, unknown> => JSON.parse(result.body ?? '{}') as Record<string, unknown>;

const writtenClaims = (): Array<Record<string, unknown>> =>
  ddb
    .commandCalls(BatchWriteItemCommand)
    .flatMap((c) => c.args[0].input.RequestItems?.InsuranceClaims ?? [])
    .map((w) => unmarshall(w.PutRequest?.Item ?? {}));

beforeEach(() => {
  ddb.reset();
});

describe('POST /claims/samples', () => {
  it('writes seeded claims in batches of 25 and returns their ids with 201', async () => {
    // Prepare
    ddb.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });
    // Act
    const result = await call('POST /claims/samples', { body: { count: 30, seed: 4 } });
    // Assess
    expect(result.statusCode).toBe(201);
    expect(result.headers?.['content-type']).toBe('application/json');
    expect(ddb.commandCalls(BatchWriteItemCommand)).toHaveLength(2);
    const items = writtenClaims();
    expect(items).toHaveLength(30);
    expect(items.every((i) => ClaimSchema.safeParse(i).success)).toBe(true);
    expect(bodyOf(result)).toEqual({ claimIds: items.map((i) => i.claim_id) });
  });

  it('retries unprocessed items until they are written', async () => {
    // Prepare
    ddb.on(BatchWriteItemCommand)
      .resolvesOnce({ UnprocessedItems: { InsuranceClaims: [{ PutRequest: { Item: { claim_id: { S: 'CLM-00000001' } } } }] } })
      .resolves({ UnprocessedItems: {} });
    // Act
    const result = await call('POST /claims/samples', { body: { count: 3, seed: 1 } });
    // Assess
    expect(result.statusCode).toBe(201);
    const calls = ddb.commandCalls(BatchWriteItemCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.args[0].input.RequestItems?.InsuranceClaims).toHaveLength(1);
  });

  it.each<[string, HttpApiRequest]>([
    ['without a content type', { body: { count: 2, seed: 9 }, contentType: null }],
    ['as text/plain', { body: { count: 2, seed: 9 }, contentType: 'text/plain' }],
    ['base64-encoded', { body: { count: 2, seed: 9 }, base64: true }],
  ])('reads a JSON body sent %s', async (_name, request) => {
    // Prepare
    ddb.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });
    // Act
    const result = await call('POST /claims/samples', request);
    // Assess
    expect(result.statusCode).toBe(201);
    expect(writtenClaims()).toHaveLength(2);
  });

  it.each<[string, unknown, number, RegExp]>([
    ['no body', undefined, 400, /not valid JSON/],
    ['malformed JSON', '{"count": 3', 400, /not valid JSON/],
    ['count too large', { count: 1001 }, 400, /^count: /],
    ['count zero', { count: 0 }, 400, /^count: /],
    ['count of the wrong type', { count: '5' }, 400, /^count: /],
    ['unknown field', { count: 1, color: 'red' }, 400, /color/],
    ['body too large', JSON.stringify({ count: 1, pad: 'x'.repeat(70_000) }), 413, /larger than 65536 bytes/],
  ])('refuses %s with a 4xx naming the problem, writing nothing', async (_name, body, status, message) => {
    // Prepare
    ddb.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });
    // Act
    const result = await call('POST /claims/samples', { body });
    // Assess
    expect(result.statusCode).toBe(status);
    expect(bodyOf(result)).toEqual({ message: expect.stringMatching(message) });
    expect(ddb.commandCalls(BatchWriteItemCommand)).toHaveLength(0);
  });
});

describe('PATCH /claims/{claimId}', () => {
  it('updates the statuses of an existing claim only and echoes the change', async () => {
    // Prepare
    ddb.on(UpdateItemCommand).resolves({});
    // Act
    const result = await call('PATCH /claims/{claimId}', { pathParameters: { claimId: 'CLM-0000ABCD' }, body: { claimStatus: 'Rejected' } });
    // Assess
    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ claimId: 'CLM-0000ABCD', claimStatus: 'Rejected' });
    const input = ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(input?.Key).toEqual({ claim_id: { S: 'CLM-0000ABCD' } });
    expect(input?.ConditionExpression).toBe('attribute_exists(claim_id)');
    expect(input?.ExpressionAttributeValues).toEqual({ ':cs': { S: 'Rejected' } });
  });

  it('answers 404 for an unknown claim', async () => {
    // Prepare
    ddb.on(UpdateItemCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    // Act
    const result = await call('PATCH /claims/{claimId}', { pathParameters: { claimId: 'CLM-0000ABCD' }, body: { paymentStatus: 'Paid' } });
    // Assess
    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toEqual({ message: 'claim CLM-0000ABCD not found' });
  });

  it.each<[string, unknown, string, RegExp]>([
    ['an invalid status', { claimStatus: 'Lost' }, 'CLM-0000ABCD', /^claimStatus: /],
    ['an empty change', {}, 'CLM-0000ABCD', /claimStatus and\/or paymentStatus/],
    ['a malformed claim id', { claimStatus: 'Paid' }, 'claim-1', /^claimId: must be CLM-/],
    ['a blank claim id', { claimStatus: 'Paid' }, ' ', /claimId/],
  ])('refuses %s with 400, updating nothing', async (_name, body, claimId, message) => {
    // Prepare
    ddb.on(UpdateItemCommand).resolves({});
    // Act
    const result = await call('PATCH /claims/{claimId}', { pathParameters: { claimId }, body });
    // Assess
    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toEqual({ message: expect.stringMatching(message) });
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(0);
  });
});

describe('DELETE /claims/{claimId}', () => {
  it('deletes an existing claim', async () => {
    // Prepare
    ddb.on(DeleteItemCommand).resolves({ Attributes: { claim_id: { S: 'CLM-0000ABCD' } } });
    // Act
    const result = await call('DELETE /claims/{claimId}', { pathParameters: { claimId: 'CLM-0000ABCD' } });
    // Assess
    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ claimId: 'CLM-0000ABCD', deleted: true });
    expect(ddb.commandCalls(DeleteItemCommand)[0]?.args[0].input.Key).toEqual({ claim_id: { S: 'CLM-0000ABCD' } });
  });

  it('answers 404 for a claim that was not there', async () => {
    // Prepare
    ddb.on(DeleteItemCommand).resolves({});
    // Act
    const result = await call('DELETE /claims/{claimId}', { pathParameters: { claimId: 'CLM-0000ABCD' } });
    // Assess
    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toEqual({ message: 'claim CLM-0000ABCD not found' });
  });
});

describe('any route', () => {
  it('answers 404 with a message for a route the API does not have, touching nothing', async () => {
    // Act
    const result = await call('GET /claims', {});
    // Assess
    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toEqual({ message: expect.stringContaining('/claims') });
    expect(ddb.calls()).toHaveLength(0);
  });

  it('answers 500 without the failure text when the table fails unexpectedly', async () => {
    // Prepare
    ddb.on(DeleteItemCommand).rejects(new Error('throttled while deleting the claim of Jane Doe'));
    // Act
    const result = await call('DELETE /claims/{claimId}', { pathParameters: { claimId: 'CLM-0000ABCD' } });
    // Assess
    expect(result.statusCode).toBe(500);
    expect(bodyOf(result)).toEqual({ message: 'Internal Server Error' });
  });
});
