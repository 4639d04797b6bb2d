import { setTimeout as sleep } from 'node:timers/promises';
import { BatchWriteItemCommand, ConditionalCheckFailedException, DeleteItemCommand, type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Claim, ClaimStatus, PaymentStatus } from '@claims-cdc/shared';

/** The claim does not exist. */
export class ClaimNotFoundError extends Error {
  override readonly name = 'ClaimNotFoundError';
  constructor(readonly claimId: string) {
    super(`claim ${claimId} not found`);
  }
}

/** Some items stayed unprocessed after every retry (throttling). */
export class UnprocessedItemsError extends Error {
  override readonly name = 'UnprocessedItemsError';
}


/** The `InsuranceClaims` table: the writes the API and the generator make. */
export class ClaimsTable {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly retry = { attempts: 8, baseDelayMs: 50 },
  ) {}

  /** Writes claims 25 at a time; unprocessed items are retried with exponential backoff. */
  async putClaims(claims: readonly Claim[]): Promise<void> {
    for (let start = 0; start < claims.length; start += 25) {
      let requests = claims.slice(start, start + 25).map((claim) => ({ PutRequest: { Item: marshall(claim, { removeUndefinedValues: true }) } }));
      // Kept by hand: UnprocessedItems come in a successful reply, which the SDK's retry strategy never retries.
      for (let attempt = 1; requests.length > 0; attempt += 1) {
        if (attempt > this.retry.attempts) throw new UnprocessedItemsError(`${requests.length} claims still unprocessed after ${this.retry.attempts} attempts`);
        if (attempt > 1) await sleep(this.retry.baseDelayMs * 2 ** (attempt - 2));
        const result = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.tableName]: requests } }));
        requests = (result.UnprocessedItems?.[this.tableName] ?? []) as typeof requests;
      }
    }
  }

  /** Changes a claim's statuses; fails with ClaimNotFoundError for an unknown claim (never creates one). */
  async updateStatus(claimId: string, change: { claimStatus?: ClaimStatus; paymentStatus?: PaymentStatus }): Promise<void> {
    const sets: string[] = [];
    const values: Record<string, string> = {};
    if (change.claimStatus !== undefined) {
      sets.push('claim_status = :cs');
      values[':cs'] = change.claimStatus;
    }
    if (change.paymentStatus !== undefined) {
      sets.push('payment_status = :ps');
      values[':ps'] = change.paymentStatus;
    }
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ claim_id: claimId }),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: 'attribute_exists(claim_id)',
          ExpressionAttributeValues: marshall(values),
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as { name?: string }).name === 'ConditionalCheckFailedException') throw new ClaimNotFoundError(claimId);
      throw error;
    }
  }

  /** Deletes a claim; ClaimNotFoundError when there was none. */
  async deleteClaim(claimId: string): Promise<void> {
    const result = await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: marshall({ claim_id: claimId }), ReturnValues: 'ALL_OLD' }));
    if (!result.Attributes) throw new ClaimNotFoundError(claimId);
  }
}
