/**
 * Poison records, as bytes for the stream: each is what a real failure could put there (a truncated write, another
 * table's record, a schema drift, a new event type, a stream without new images, a corrupted key), built with the
 * shared record builder so everything but the one defect is in the exact AWS format.
 */
import { buildChangeRecord, type Claim } from '@claims-cdc/shared';
import type { PoisonKind } from './workload';

/** The bytes of one poison record of `kind`, around a snapshot of a real claim where the kind needs one. */
export function poisonBytes(kind: PoisonKind, claim: Claim, tableName: string, micros: number): Buffer {
  const keys = { claim_id: claim.claim_id };
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  switch (kind) {
    case 'not-json': {
      // A record cut off mid-write.
      const text = JSON.stringify(buildChangeRecord({ eventName: 'INSERT', tableName, keys, newImage: claim, micros }));
      return Buffer.from(text.slice(0, Math.floor(text.length / 3)));
    }
    case 'envelope-wrong-types': {
      const record = buildChangeRecord({ eventName: 'INSERT', tableName, keys, newImage: claim, micros }) as unknown as { dynamodb: Record<string, unknown> };
      record.dynamodb.ApproximateCreationDateTime = 'yesterday';
      return json(record);
    }
    case 'not-a-claim':
      // Another table's change on the same stream.
      return json(buildChangeRecord({ eventName: 'INSERT', tableName: 'Orders', keys: { order_id: 'ORD-000042' }, newImage: { order_id: 'ORD-000042', quantity: 3 }, micros }));
    case 'image-wrong-types':
      // Schema drift: a number written as a string, a zip written as text.
      return json(
        buildChangeRecord({
          eventName: 'MODIFY',
          tableName,
          keys,
          newImage: { ...claim, total_charge: String(claim.total_charge), patient: { ...claim.patient, zip: 'ZIP' } },
          oldImage: claim,
          micros,
        }),
      );
    case 'unknown-event-name':
      return json({ ...buildChangeRecord({ eventName: 'INSERT', tableName, keys, newImage: claim, micros }), eventName: 'UPSERT' });
    case 'insert-without-new-image':
      // A stream configured without new images.
      return json(buildChangeRecord({ eventName: 'INSERT', tableName, keys, micros }));
    case 'key-mismatch':
      return json(buildChangeRecord({ eventName: 'INSERT', tableName, keys, newImage: { ...claim, claim_id: claim.claim_id === 'CLM-00000000' ? 'CLM-00000001' : 'CLM-00000000' }, micros }));
  }
}
