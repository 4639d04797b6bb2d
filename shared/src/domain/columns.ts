/**
 * THE column registry: the one place that says how a claim image becomes the 32 analytic columns of the
 * quickstart's `openflow_insclaim_dest_tbl` (names and types kept so its verification queries run unchanged),
 * plus the metadata a correct pipeline needs. DDL, flatten/rename and MERGE for both dialects derive from it.
 */

/** Logical column types; each dialect maps them to its own (see `warehouse/dialect.ts`). */
export type ColumnType = 'STRING' | 'VARCHAR1' | 'FLOAT' | 'INTEGER' | 'TIMESTAMP_NTZ' | 'JSON';

/** Where a column's value comes from. */
export type ColumnSource =
  | { readonly kind: 'event'; readonly field: 'eventName' | 'eventCreationUnixTime' | 'eventId' | 'sequenceNumber' }
  | { readonly kind: 'image'; readonly path: readonly string[]; readonly encode?: 'json' }
  | { readonly kind: 'rawImage' }
  | { readonly kind: 'warehouse' };

/** One column. `phi` marks protected health information: masked in Snowflake, never logged. */
export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  readonly source: ColumnSource;
  readonly phi: boolean;
}

const event = (name: string, field: 'eventName' | 'eventCreationUnixTime' | 'eventId' | 'sequenceNumber'): ColumnSpec => ({ name, type: 'STRING', source: { kind: 'event', field }, phi: false });
const image = (name: string, type: ColumnType, path: string, phi = false, encode?: 'json'): ColumnSpec => ({
  name,
  type,
  source: encode ? { kind: 'image', path: path.split('.'), encode } : { kind: 'image', path: path.split('.') },
  phi,
});

/** The quickstart's 32 columns, in its order, with its names and types. */
export const CLAIM_COLUMNS: readonly ColumnSpec[] = [
  event('eventName', 'eventName'),
  event('eventCreationUnixTime', 'eventCreationUnixTime'),
  image('claimId', 'STRING', 'claim_id'),
  image('diagnosisCodes', 'STRING', 'diagnosis_codes', false, 'json'),
  image('dateOfService', 'STRING', 'date_of_service'),
  image('totalCharge', 'FLOAT', 'total_charge'),
  image('procedureDetails', 'STRING', 'procedure_details', false, 'json'),
  image('memberId', 'STRING', 'member_id', true),
  image('insurancePlan', 'STRING', 'insurance_plan'),
  image('patientZip', 'INTEGER', 'patient.zip', true),
  image('patientState', 'STRING', 'patient.state'),
  image('patientCity', 'STRING', 'patient.city', true),
  image('patientStreet', 'STRING', 'patient.street', true),
  image('patientGender', 'VARCHAR1', 'patient.gender'),
  image('patientDOB', 'STRING', 'patient.date_of_birth', true),
  image('patientLastName', 'STRING', 'patient.last_name', true),
  image('patientPhone', 'STRING', 'patient.phone', true),
  image('patientFirstName', 'STRING', 'patient.first_name', true),
  image('patientEmail', 'STRING', 'patient.email', true),
  image('claimStatus', 'STRING', 'claim_status'),
  image('createdTimeStamp', 'TIMESTAMP_NTZ', 'created_timestamp'),
  image('providerName', 'STRING', 'provider.name'),
  image('providerNPI', 'STRING', 'provider.npi'),
  image('providerZip', 'INTEGER', 'provider.zip'),
  image('providerState', 'STRING', 'provider.state'),
  image('providerCity', 'STRING', 'provider.city'),
  image('providerStreet', 'STRING', 'provider.street'),
  image('billSubmitDate', 'STRING', 'bill_submit_date'),
  image('payerName', 'STRING', 'payer.name'),
  image('payerId', 'STRING', 'payer.payer_id'),
  image('payerContactNumber', 'STRING', 'payer.contact_number'),
  image('paymentStatus', 'STRING', 'payment_status'),
];

/**
 * Metadata after the 32: the event identity and order (so duplicates and reordering can be resolved), the whole
 * image (so attributes the registry does not know are never lost) and when the row reached the warehouse.
 */
export const METADATA_COLUMNS: readonly ColumnSpec[] = [
  event('eventId', 'eventId'),
  event('sequenceNumber', 'sequenceNumber'),
  { name: 'rawImage', type: 'JSON', source: { kind: 'rawImage' }, phi: true },
  { name: 'loadedAt', type: 'TIMESTAMP_NTZ', source: { kind: 'warehouse' }, phi: false },
];

/** Every column of the destination, history and staging tables, in table order. */
export const ALL_COLUMNS: readonly ColumnSpec[] = [...CLAIM_COLUMNS, ...METADATA_COLUMNS];

/** The columns a change event carries (everything but what the warehouse fills in). */
export const ROW_COLUMNS: readonly ColumnSpec[] = ALL_COLUMNS.filter((c) => c.source.kind !== 'warehouse');

/** The claim columns read from the item's image: what `verify` and reconciliation compare between DynamoDB and the destination. */
export const IMAGE_COLUMNS: readonly ColumnSpec[] = CLAIM_COLUMNS.filter((c) => c.source.kind === 'image');

/**
 * What a load row's eventName may be: the three kinds of change, and SNAPSHOT for rows a backfill or repair reads
 * with a Scan (`snapshot.ts`). The transform's input (stream records) stays INSERT/MODIFY/REMOVE only.
 */
export const ROW_EVENT_NAMES = ['INSERT', 'MODIFY', 'REMOVE', 'SNAPSHOT'] as const;

/** Names of the PHI columns (masking policies, log redaction). */
export const PHI_COLUMNS: readonly string[] = ALL_COLUMNS.filter((c) => c.phi).map((c) => c.name);

/** The claim attributes whose values are PHI (for log redaction and the PHI leak test). */
export const PHI_IMAGE_PATHS: readonly (readonly string[])[] = CLAIM_COLUMNS.filter((c) => c.phi && c.source.kind === 'image').map(
  (c) => (c.source as { path: readonly string[] }).path,
);

/** A flattened change: one value per {@link ROW_COLUMNS} entry, keyed by column name. */
export type ClaimRow = Record<string, string | number | null>;
