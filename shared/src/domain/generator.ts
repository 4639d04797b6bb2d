import { CLAIM_STATUSES, type Claim, type ClaimStatus, type PaymentStatus, luhnCheckDigit } from './claim';
import { Prng } from './prng';

const FIRST_NAMES = ['Olivia', 'Liam', 'Emma', 'Noah', 'Ava', 'Elijah', 'Sophia', 'James', 'Isabella', 'Lucas', 'Mia', 'Mateo', 'Amelia', 'Ethan', 'Harper', 'Aiden', 'Priya', 'Wei', 'Fatima', 'Diego'];
const LAST_NAMES = ['Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Nguyen', 'Patel', 'Kim', 'Okafor'];
const STREETS = ['Main St', 'Oak Ave', 'Pine Rd', 'Maple Dr', 'Cedar Ln', 'Elm St', 'Washington Blvd', 'Lakeview Ct', 'Sunset Way', 'Hillcrest Rd'];
const PLACES: ReadonlyArray<{ city: string; state: string; zip: number }> = [
  { city: 'Seattle', state: 'WA', zip: 98101 },
  { city: 'Portland', state: 'OR', zip: 97201 },
  { city: 'Austin', state: 'TX', zip: 73301 },
  { city: 'Denver', state: 'CO', zip: 80202 },
  { city: 'Boston', state: 'MA', zip: 2108 },
  { city: 'Chicago', state: 'IL', zip: 60601 },
  { city: 'Atlanta', state: 'GA', zip: 30303 },
  { city: 'Phoenix', state: 'AZ', zip: 85001 },
  { city: 'Newark', state: 'NJ', zip: 7102 },
  { city: 'Miami', state: 'FL', zip: 33101 },
];
const PLANS = ['PPO Gold', 'PPO Silver', 'HMO Standard', 'HMO Plus', 'EPO Basic', 'HDHP Bronze', 'Medicare Advantage'];
const PAYERS: ReadonlyArray<{ name: string; payer_id: string }> = [
  { name: 'Aetna', payer_id: '60054' },
  { name: 'Cigna', payer_id: '62308' },
  { name: 'UnitedHealthcare', payer_id: '87726' },
  { name: 'Humana', payer_id: '61101' },
  { name: 'Blue Cross Blue Shield', payer_id: '00570' },
];
const PROVIDER_NAMES = ['Riverside Medical Group', 'Summit Family Practice', 'Lakeside Orthopedics', 'Northgate Pediatrics', 'Valley Cardiology Associates', 'Harbor Imaging Center', 'Pinecrest Urgent Care'];
const ICD10 = ['E11.9', 'I10', 'J06.9', 'M54.5', 'R51', 'K21.9', 'F41.1', 'Z00.00', 'J45.909', 'N39.0', 'S93.401A', 'E78.5', 'M25.561', 'R10.9'];
const CPT: ReadonlyArray<{ code: string; description: string; low: number; high: number }> = [
  { code: '99213', description: 'Office visit, established patient, low complexity', low: 90, high: 160 },
  { code: '99214', description: 'Office visit, established patient, moderate complexity', low: 130, high: 230 },
  { code: '99203', description: 'Office visit, new patient, low complexity', low: 110, high: 190 },
  { code: '80053', description: 'Comprehensive metabolic panel', low: 20, high: 60 },
  { code: '85025', description: 'Complete blood count with differential', low: 15, high: 45 },
  { code: '71046', description: 'Chest X-ray, 2 views', low: 60, high: 180 },
  { code: '93000', description: 'Electrocardiogram, complete', low: 40, high: 120 },
  { code: '73721', description: 'MRI lower extremity joint without contrast', low: 450, high: 1400 },
  { code: '97110', description: 'Therapeutic exercises, each 15 minutes', low: 35, high: 90 },
  { code: '90471', description: 'Immunization administration', low: 20, high: 45 },
];

/** The payment status a payer system would show next to each claim status. */
const PAYMENT_FOR: Record<ClaimStatus, readonly PaymentStatus[]> = {
  Submitted: ['Pending'],
  'In Review': ['Pending', 'Processing'],
  Approved: ['Processing', 'Pending'],
  Rejected: ['Denied'],
  Paid: ['Paid'],
};

const REFERENCE_TIME_MS = Date.UTC(2025, 0, 1);
const DAY_MS = 86_400_000;

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const cents = (value: number): number => Math.round(value * 100) / 100;

/** An NPI: 9 digits plus the Luhn check digit computed over the `80840` prefix. */
const npiFrom = (rng: Prng): string => {
  const body = `1${rng.digits(8)}`;
  return `${body}${luhnCheckDigit(`80840${body}`)}`;
};

/** Options for {@link ClaimGenerator}. */
export interface GeneratorOptions {
  /** Same seed, same claims. */
  seed: number;
  /** Anchor for dates and timestamps; fixed by default so output depends on the seed alone. */
  nowMs?: number;
}

/**
 * A seeded generator of realistic claims. Claim ids are unique within one generator (a bijection of the
 * counter), statuses cycle so that any 5 consecutive claims cover every claim status.
 */
export class ClaimGenerator {
  readonly #rng: Prng;
  readonly #nowMs: number;
  readonly #idSalt: number;
  #index = 0;

  constructor(options: GeneratorOptions) {
    this.#rng = new Prng(options.seed);
    this.#nowMs = options.nowMs ?? REFERENCE_TIME_MS;
    this.#idSalt = new Prng(options.seed ^ 0x5bd1e995).int(0, 0xffffffff);
  }

  /** The next claim. */
  next(): Claim {
    const rng = this.#rng;
    const index = this.#index;
    this.#index += 1;
    const idNumber = (Math.imul((index + this.#idSalt) >>> 0, 0x9e3779b1) >>> 0).toString(16).toUpperCase().padStart(8, '0');
    const claimStatus = CLAIM_STATUSES[index % CLAIM_STATUSES.length] as ClaimStatus;
    const home = rng.pick(PLACES);
    const office = rng.pick(PLACES);
    const first = rng.pick(FIRST_NAMES);
    const last = rng.pick(LAST_NAMES);
    const procedures = Array.from({ length: rng.int(1, 3) }, () => {
      const cpt = rng.pick(CPT);
      return { procedure_code: cpt.code, description: cpt.description, charge: cents(cpt.low + rng.next() * (cpt.high - cpt.low)) };
    });
    const diagnosis = Array.from(new Set(Array.from({ length: rng.int(1, 3) }, () => rng.pick(ICD10))));
    const serviceMs = this.#nowMs - rng.int(1, 60) * DAY_MS;
    const createdMs = serviceMs + rng.int(1, 5) * DAY_MS + rng.int(0, DAY_MS - 1);
    const micros = pad(rng.int(0, 999_999), 6);
    const payer = rng.pick(PAYERS);
    return {
      claim_id: `CLM-${idNumber}`,
      member_id: `MBR-${rng.digits(9)}`,
      insurance_plan: rng.pick(PLANS),
      diagnosis_codes: diagnosis,
      date_of_service: isoDay(serviceMs),
      total_charge: cents(procedures.reduce((sum, p) => sum + p.charge, 0)),
      procedure_details: procedures,
      claim_status: claimStatus,
      payment_status: rng.pick(PAYMENT_FOR[claimStatus]),
      created_timestamp: `${new Date(createdMs).toISOString().slice(0, 19)}.${micros}Z`,
      bill_submit_date: isoDay(createdMs + rng.int(0, 3) * DAY_MS),
      patient: {
        first_name: first,
        last_name: last,
        email: `${first}.${last}${rng.int(1, 999)}@example.com`.toLowerCase(),
        phone: `${rng.int(201, 989)}-555-${pad(rng.int(0, 9999), 4)}`,
        date_of_birth: `${rng.int(1940, 2020)}-${pad(rng.int(1, 12))}-${pad(rng.int(1, 28))}`,
        gender: rng.pick(['M', 'F', 'U'] as const),
        street: `${rng.int(10, 9999)} ${rng.pick(STREETS)}`,
        city: home.city,
        state: home.state,
        zip: home.zip + rng.int(0, 8),
      },
      provider: {
        name: rng.pick(PROVIDER_NAMES),
        npi: npiFrom(rng),
        street: `${rng.int(100, 9999)} ${rng.pick(STREETS)}`,
        city: office.city,
        state: office.state,
        zip: office.zip + rng.int(0, 8),
      },
      payer: { name: payer.name, payer_id: payer.payer_id, contact_number: `1-800-${rng.int(200, 999)}-${pad(rng.int(0, 9999), 4)}` },
    };
  }

  /** The next `count` claims. */
  take(count: number): Claim[] {
    return Array.from({ length: count }, () => this.next());
  }
}

/** `count` claims for `seed`: the same arguments always give the same claims. */
export const generateClaims = (count: number, seed: number, nowMs?: number): Claim[] =>
  new ClaimGenerator(nowMs === undefined ? { seed } : { seed, nowMs }).take(count);
