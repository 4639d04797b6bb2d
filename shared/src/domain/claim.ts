import { z } from 'zod';
import { isCalendarDate, isCalendarTimestamp } from './cell-rules';

/** Claim lifecycle states, as the front-end application writes them. */
export const CLAIM_STATUSES = ['Submitted', 'In Review', 'Approved', 'Rejected', 'Paid'] as const;
/** Payment lifecycle states. */
export const PAYMENT_STATUSES = ['Pending', 'Processing', 'Paid', 'Denied'] as const;
/** Patient genders the claim schema accepts. */
export const GENDERS = ['M', 'F', 'U'] as const;

export type ClaimStatus = (typeof CLAIM_STATUSES)[number];
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** `CLM-` + 8 upper-case hex digits. */
export const CLAIM_ID_PATTERN = /^CLM-[0-9A-F]{8}$/;
/** An ICD-10 diagnosis code. */
export const ICD10_PATTERN = /^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$/;
/** A 5-digit CPT procedure code. */
export const CPT_PATTERN = /^\d{5}$/;
/** `created_timestamp`: ISO-8601 UTC with microseconds. */
export const CREATED_TIMESTAMP_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

// Real calendar days only: 2024-02-30 matches the pattern but no warehouse (and no payer) accepts it.
const isoDate = z.string().refine(isCalendarDate, 'expected a real calendar date YYYY-MM-DD');
const zip = z.number().int().min(0).max(99_999);

/**
 * The Luhn check digit of `digits` (the digit that, appended, makes the Luhn sum a multiple of 10). An NPI's is
 * computed over its first 9 digits with the `80840` prefix, as CMS defines it; the generator uses this too.
 */
export const luhnCheckDigit = (digits: string): number => {
  let sum = 0;
  for (let i = 0; i < digits.length; i += 1) {
    // Counted from the right, with the (absent) check digit at position 0: positions 1, 3, 5… are doubled.
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
};

/** Luhn check over an NPI with the `80840` prefix, as CMS defines the NPI check digit. */
export const isValidNpi = (npi: string): boolean => /^\d{10}$/.test(npi) && luhnCheckDigit(`80840${npi.slice(0, 9)}`) === Number(npi[9]);

export const PatientSchema = z.looseObject({
  first_name: z.string(),
  last_name: z.string(),
  email: z.string(),
  phone: z.string(),
  date_of_birth: isoDate,
  gender: z.enum(GENDERS),
  street: z.string(),
  city: z.string(),
  state: z.string(),
  zip,
});

export const ProviderSchema = z.looseObject({
  name: z.string(),
  npi: z.string().refine(isValidNpi, 'expected a 10-digit NPI with a valid check digit'),
  street: z.string(),
  city: z.string(),
  state: z.string(),
  zip,
});

export const PayerSchema = z.looseObject({
  name: z.string(),
  payer_id: z.string(),
  contact_number: z.string(),
});

export const ProcedureSchema = z.looseObject({
  procedure_code: z.string().regex(CPT_PATTERN, 'expected a 5-digit CPT code'),
  description: z.string(),
  charge: z.number(),
});

/**
 * One item of the `InsuranceClaims` DynamoDB table (key `claim_id`), unmarshalled.
 *
 * The schema is loose: attributes it does not know are kept (they travel in the raw image column),
 * while the attributes it knows must have the right type.
 */
export const ClaimSchema = z.looseObject({
  claim_id: z.string().regex(CLAIM_ID_PATTERN, 'expected CLM- followed by 8 upper-case hex digits'),
  member_id: z.string(),
  insurance_plan: z.string(),
  diagnosis_codes: z.array(z.string().regex(ICD10_PATTERN, 'expected an ICD-10 code')),
  date_of_service: isoDate,
  total_charge: z.number(),
  procedure_details: z.array(ProcedureSchema),
  claim_status: z.enum(CLAIM_STATUSES),
  payment_status: z.enum(PAYMENT_STATUSES),
  created_timestamp: z
    .string()
    .regex(CREATED_TIMESTAMP_PATTERN, 'expected ISO-8601 UTC with microseconds')
    .refine(isCalendarTimestamp, 'expected a real calendar date and time'),
  bill_submit_date: isoDate,
  patient: PatientSchema,
  provider: ProviderSchema,
  payer: PayerSchema,
});

/** A claim as stored in DynamoDB. */
export type Claim = z.infer<typeof ClaimSchema>;
