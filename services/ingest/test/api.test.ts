import { BatchWriteItemCommand, ConditionalCheckFailedException, DeleteItemCommand, DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ClaimSchema } from '@claims-cdc/shared';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { api } from '../src/handlers/api';

const ddb = mockClient(DynamoDBClient);

const request = (routeKey: string, body?: unknown, claimId?: string): APIGatewayProxyEventV2 =>
  ({
    routeKey,
    rawPath: '/',
    body: typeof body === 'string' ? body : body === undefined ? undefined : JSON.stringify(body),
    isBase64Encoded: false,
    pathParameters: claimId ? { claimId } : undefined,
    headers: {},
    requestContext: {},
  }) as unknown as APIGatewayProxyEventV2;

const bodyOf = (result: { body?: string }): Record<string, unknown> => JSON.parse(result.body ?? '{}') as Record<string, unknown>;

beforeEach(() => {
  ddb.reset();
  ddb.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });
});

describe('POST /claims/samples', () => {
  it('writes seeded claims and returns their ids', async () => {
    // Act
    const result = await api(request('POST /claims/samples', { count: 30, seed: 4 }));
    // Assess
    expect(result.statusCode).toBe(201);
    const written = ddb.commandCalls(BatchWriteItemCommand).flatMap((c) => c.args[0].input.RequestItems?.InsuranceClaims ?? []);
    expect(written).toHaveLength(30);
    expect(ddb.commandCalls(BatchWriteItemCommand)).toHaveLength(2);
    const items = written.map((w) => unmarshall(w.PutRequest?.Item ?? {}));
    expect(items.every((i) => ClaimSchema.safeParse(i).success)).toBe(true);
    expect(bodyOf(result).claimIds).toEqual(items.map((i) => i.claim_id));
  });

  it('retries unprocessed items until they are written', async () => {
    // Prepare
    ddb.on(BatchWriteItemCommand)
      .resolvesOnce({ UnprocessedItems: { InsuranceClaims: [{ PutRequest: { Item: { claim_id: { S: 'CLM-00000001' } } } }] } })
      .resolves({ UnprocessedItems: {} });
    // Act
    const result = await api(request('POST /claims/samples', { count: 3, seed: 1 }));
    // Assess
    expect(result.statusCode).toBe(201);
    const calls = ddb.commandCalls(BatchWriteItemCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.args[0].input.RequestItems?.InsuranceClaims).toHaveLength(1);
  });

  const invalid: Array<[string, unknown, number, RegExp]> = [
    ['malformed JSON', '{"count": 3', 400, /not valid JSON/],
    ['count too large', { count: 1001 }, 400, /count/],
    ['count zero', { count: 0 }, 400, /count/],
    ['count of the wrong type', { count: '5' }, 400, /count/],
    ['unknown field', { count: 1, color: 'red' }, 400, /color/],
    ['body too large', JSON.stringify({ count: 1, pad: 'x'.repeat(70_000) }), 413, /larger than/],
  ];

  it.each(invalid)('refuses %s with a 4xx naming the problem, writing nothing', async (_name, body, status, message) => {
    // Act
    const result = await api(request('POST /claims/samples', body));
    // Assess
    expect(result.statusCode).toBe(status);
    expect(String(bodyOf(result).message)).toMatch(message);
    expect(ddb.commandCalls(BatchWriteItemCommand)).toHaveLength(0);
  });
});

describe('PATCH /claims/{claimId}', () => {
  it('updates statuses of an existing claim only', async () => {
    // Prepare
    ddb.on(UpdateItemCommand).resolves({});
    // Act
    const result = await api(request('PATCH /claims/{claimId}', { claimStatus: 'Rejected' }, 'CLM-0000ABCD'));
    // Assess
    expect(result.statusCode).toBe(200);
    const input = ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(input?.ConditionExpression).toBe('attribute_exists(claim_id)');
    expect(input?.ExpressionAttributeValues).toEqual({ ':cs': { S: 'Rejected' } });
  });

  it('answers 404 for an unknown claim', async () => {
    ddb.on(UpdateItemCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    const result = await api(request('PATCH /claims/{claimId}', { paymentStatus: 'Paid' }, 'CLM-0000ABCD'));
    expect(result.statusCode).toBe(404);
  });

  it.each([
    ['an invalid status', { claimStatus: 'Lost' }, 'CLM-0000ABCD', /claimStatus/],
    ['an empty change', {}, 'CLM-0000ABCD', /claimStatus and\/or paymentStatus/],
    ['a malformed claim id', { claimStatus: 'Paid' }, 'claim-1', /claimId/],
  ])('refuses %s with 400', async (_name, body, claimId, message) => {
    const result = await api(request('PATCH /claims/{claimId}', body, claimId));
    expect(result.statusCode).toBe(400);
    expect(String(bodyOf(result).message)).toMatch(message);
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(0);
  });
});

describe('DELETE /claims/{claimId}', () => {
  it('deletes an existing claim and 404s an unknown one', async () => {
    ddb.on(DeleteItemCommand).resolvesOnce({ Attributes: { claim_id: { S: 'CLM-0000ABCD' } } }).resolves({});
    expect((await api(request('DELETE /claims/{claimId}', undefined, 'CLM-0000ABCD'))).statusCode).toBe(200);
    expect((await api(request('DELETE /claims/{claimId}', undefined, 'CLM-0000ABCD'))).statusCode).toBe(404);
  });
});
