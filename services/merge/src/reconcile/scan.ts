/**
 * A parallel Scan of the claims table: `segments` segments read at once, page by page, each page's request time
 * recorded (the snapshot rule's T). Every item is handed to `onItem` as it arrives, so the caller keeps only what it
 * needs (a hash), never the whole table.
 */
import { type AttributeValue, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { WireItem } from '@claims-cdc/shared';

/** How to scan. */
export interface ScanOptions {
  readonly tableName: string;
  readonly segments: number;
  /** Items per page (DynamoDB stops at 1 MB anyway). */
  readonly pageSize?: number;
  readonly now?: () => number;
}

/** Scans every segment to its end; resolves with the number of items read. */
export async function scanTable(client: DynamoDBClient, options: ScanOptions, onItem: (item: WireItem, requestedAtMs: number) => void): Promise<number> {
  const now = options.now ?? Date.now;
  const segment = async (index: number): Promise<number> => {
    let read = 0;
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const requestedAtMs = now();
      const page = await client.send(
        new ScanCommand({
          TableName: options.tableName,
          Segment: index,
          TotalSegments: options.segments,
          ...(options.pageSize ? { Limit: options.pageSize } : {}),
          // Consistent: a page reflects every write acknowledged before its request (the snapshot rule needs it).
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of page.Items ?? []) onItem(item as unknown as WireItem, requestedAtMs);
      read += page.Items?.length ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return read;
  };
  const counts = await Promise.all(Array.from({ length: options.segments }, (_, i) => segment(i)));
  return counts.reduce((a, b) => a + b, 0);
}
