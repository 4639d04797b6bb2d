import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClaimSchema, isValidNpi } from '../src/domain/claim';
import { decodeKinesisData, parseChangeRecord, toChangeEvent } from '../src/domain/change-event';
import { CLAIM_COLUMNS } from '../src/domain/columns';
import { toClaimRow } from '../src/domain/flatten';
import { ClaimGenerator, generateClaims } from '../src/domain/generator';
import { changeRecord, claims, millisecondRecord, wire, rejection } from '../test-support/factories';

const FIXTURE = join(__dirname, 'fixtures', 'kinesis-dynamodb-stream.powertools.json');
const [claim] = claims(1) as [ReturnType<typeof claims>[number]];
const T = 1_732_000_000_123_456;

describe('the Powertools fixture (a real DynamoDB→Kinesis event, not from the claims table)', () => {
  const event = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { Records: Array<{ kinesis: { data: string; sequenceNumber: string } }> };

  it.each(event.Records.map((r, i) => [i, r.kinesis] as const))('record %i decodes as a change record but is rejected as not a claim', (_i, kinesis) => {
    // Act
    const error = rejection(() => decodeKinesisData(kinesis.data, kinesis.sequenceNumber));
    // Assess
    expect(error.reason).toBe('not-a-claim');
    expect(error.message).toMatch(/claim_id/);
  });
});

describe('decode', () => {
  it('turns an INSERT into a typed change event with microseconds and the sequence number', () => {
    // Act
    const event = toChangeEvent(changeRecord({ eventName: 'INSERT', claim, micros: T, eventId: 'e-1' }), '4960001');
    // Assess
    expect(event).toEqual({ eventId: 'e-1', eventName: 'INSERT', claimId: claim.claim_id, eventCreationUnixTime: String(T), sequenceNumber: '4960001', newImage: wire(claim) });
  });

  it('scales millisecond records (no precision field) to microseconds, so mixed precisions order correctly', () => {
    // Prepare
    const ms = millisecondRecord({ eventName: 'MODIFY', claim, micros: T });
    // Act
    const event = toChangeEvent(ms, '1');
    // Assess
    expect(event.eventCreationUnixTime).toBe(String(Math.floor(T / 1000) * 1000));
    expect(BigInt(event.eventCreationUnixTime) <= BigInt(T)).toBe(true);
  });

  it('keeps OldImage on REMOVE and flattens it for the audit row', () => {
    // Act
    const event = toChangeEvent(changeRecord({ eventName: 'REMOVE', claim, micros: T }), '2');
    const row = toClaimRow(event);
    // Assess
    expect(event.newImage).toBeUndefined();
    expect(row).toMatchObject({ eventName: 'REMOVE', claimId: claim.claim_id, claimStatus: claim.claim_status });
  });

  const poison: Array<[string, () => unknown, string]> = [
    ['not JSON', () => parseChangeRecord('{oops', '1'), 'not-json'],
    ['not base64', () => decodeKinesisData('***', '1'), 'not-base64'],
    ['not a change record', () => parseChangeRecord('{"hello":"world"}', '1'), 'not-a-change-record'],
    ['unknown eventName', () => toChangeEvent({ ...changeRecord({ eventName: 'INSERT', claim, micros: T }), eventName: 'UPSERT' }, '1'), 'unknown-event-name'],
    [
      'INSERT without NewImage',
      () => {
        const record = changeRecord({ eventName: 'INSERT', claim, micros: T }) as { dynamodb: Record<string, unknown> };
        delete record.dynamodb.NewImage;
        return toChangeEvent(record, '1');
      },
      'missing-image',
    ],
    ['wrong types in the claim', () => toChangeEvent(changeRecord({ eventName: 'INSERT', claim: { ...claim, total_charge: 'a lot' as unknown as number }, micros: T }), '1'), 'claim-schema'],
    [
      'image key differs from Keys',
      () => {
        const record = changeRecord({ eventName: 'MODIFY', claim: { ...claim, claim_id: 'CLM-00000000' }, micros: T }) as { dynamodb: Record<string, unknown> };
        record.dynamodb.Keys = { claim_id: { S: claim.claim_id } };
        return toChangeEvent(record, '1');
      },
      'key-mismatch',
    ],
  ];

  it.each(poison)('rejects %s with a clear reason that carries no PHI', (_name, act, reason) => {
    // Act
    const error = rejection(act);
    // Assess
    expect(error.reason).toBe(reason);
    for (const value of [claim.patient.first_name, claim.patient.last_name, claim.patient.email, claim.member_id, claim.patient.phone]) expect(error.message).not.toContain(value);
  });
});

describe('the column registry', () => {
  it('has the quickstart 32 columns with its types', () => {
    expect(CLAIM_COLUMNS).toHaveLength(32);
    expect(CLAIM_COLUMNS.filter((c) => c.type === 'INTEGER').map((c) => c.name)).toEqual(['patientZip', 'providerZip']);
    expect(CLAIM_COLUMNS.find((c) => c.name === 'createdTimeStamp')?.type).toBe('TIMESTAMP_NTZ');
  });

  it('flattens and renames a claim to the 32 columns, lists as JSON text', () => {
    // Act
    const row = toClaimRow(toChangeEvent(changeRecord({ eventName: 'INSERT', claim, micros: T, eventId: 'e' }), '9'));
    // Assess
    expect(row).toMatchObject({
      eventName: 'INSERT',
      eventCreationUnixTime: String(T),
      claimId: claim.claim_id,
      diagnosisCodes: JSON.stringify(claim.diagnosis_codes),
      procedureDetails: JSON.stringify(claim.procedure_details),
      patientZip: claim.patient.zip,
      providerNPI: claim.provider.npi,
      payerContactNumber: claim.payer.contact_number,
      eventId: 'e',
      sequenceNumber: '9',
    });
    expect(JSON.parse(String(row.rawImage))).toEqual(claim);
  });

  it('keeps attributes the registry does not know in the raw image', () => {
    const event = toChangeEvent(changeRecord({ eventName: 'INSERT', claim: { ...claim, adjuster_notes: 'call back' }, micros: T }), '1');
    expect(JSON.parse(String(toClaimRow(event).rawImage)).adjuster_notes).toBe('call back');
  });
});

describe('the claim generator', () => {
  it('is seeded: same seed, same claims; another seed, other claims', () => {
    expect(generateClaims(50, 42)).toEqual(generateClaims(50, 42));
    expect(generateClaims(5, 42)).not.toEqual(generateClaims(5, 43));
  });

  it('produces valid claims covering every status, unique ids, numeric zips and valid NPIs', () => {
    // Act
    const many = new ClaimGenerator({ seed: 1 }).take(2000);
    // Assess
    for (const c of many) expect(ClaimSchema.safeParse(c).success).toBe(true);
    expect(new Set(many.map((c) => c.claim_status))).toEqual(new Set(['Submitted', 'In Review', 'Approved', 'Rejected', 'Paid']));
    expect(new Set(many.map((c) => c.claim_id)).size).toBe(2000);
    expect(many.every((c) => typeof c.patient.zip === 'number' && isValidNpi(c.provider.npi))).toBe(true);
  });

  it('checks NPIs with the Luhn digit over the 80840 prefix', () => {
    expect(isValidNpi('1234567893')).toBe(true);
    expect(isValidNpi('1234567890')).toBe(false);
  });
});
