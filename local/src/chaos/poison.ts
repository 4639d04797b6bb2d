/**
 * Poison records, as bytes for the stream: each is what a real failure could put there (a truncated write, another
 * table's record, a schema drift, a new event type, a stream without new images, a corrupted key, an impossible
 * calendar date, an out-of-range integer, a mislabelled timestamp precision, a malformed number), built with the
 * shared record builder so everything but the one defect is in the exact AWS format.
 */
import type { Claim } from '@claims-cdc/shared';
import { buildChangeRecord } from '@claims-cdc/shared/test-support/change-records';
import { NumberValue } from './exotic';
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
    case 'impossible-date':
      // Matches the schema's pattern; no calendar has a 30 February.
      return json(buildChangeRecord({ eventName: 'MODIFY', tableName, keys, newImage: { ...claim, created_timestamp: '2024-02-30T10:00:00.000000Z' }, oldImage: claim, micros }));
    case 'impossible-hour':
      return json(buildChangeRecord({ eventName: 'MODIFY', tableName, keys, newImage: { ...claim, created_timestamp: '2024-03-01T25:00:00.000000Z' }, oldImage: claim, micros }));
    case 'impossible-service-date':
      // 2023 is not a leap year.
      return json(buildChangeRecord({ eventName: 'MODIFY', tableName, keys, newImage: { ...claim, date_of_service: '2023-02-29' }, oldImage: claim, micros }));
    case 'zip-out-of-range':
      // A 20-digit zip: beyond the zip rule and beyond a 64-bit integer column.
      return json(buildChangeRecord({ eventName: 'MODIFY', tableName, keys, newImage: { ...claim, patient: { ...claim.patient, zip: new NumberValue('12345678901234567890') } }, oldImage: claim, micros }));
    case 'micros-labelled-millis':
      // Microseconds sent as MILLISECOND: read as milliseconds, the year 55000.
      return json(buildChangeRecord({ eventName: 'MODIFY', tableName, keys, newImage: claim, oldImage: claim, micros: micros * 1000, precision: 'MILLISECOND' }));
    case 'millis-labelled-micros': {
      // Milliseconds sent as MICROSECOND: read as microseconds, January 1970.
      const record = buildChangeRecord({ eventName: 'MODIFY', tableName, keys, newImage: claim, oldImage: claim, micros });
      record.dynamodb.ApproximateCreationDateTime = Math.floor(micros / 1000);
      return json(record);
    }
    case 'malformed-number': {
      // An attribute the schema does not know, with a number DynamoDB would never store.
      const record = buildChangeRecord({ eventName: 'MODIFY', tableName, keys, newImage: claim, oldImage: claim, micros });
      (record.dynamodb.NewImage as Record<string, Record<string, unknown>>).ledger_ref = { N: 'twelve' };
      return json(record);
    }
  }
}
