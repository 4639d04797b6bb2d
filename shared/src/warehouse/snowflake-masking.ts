import { ALL_COLUMNS, type ColumnSpec, type ColumnType } from '../domain/columns';
import { TABLES } from './tables';

/** The tag on every PHI column (from the registry's `phi` flags); masking policies hang on the tag. */
export const PHI_TAG = 'phi';
/** Sees clear PHI. Granted to the pipeline role too: it reads staging to write the destination. */
export const PHI_READER_ROLE = 'PHI_READER';
/** Reads every table and view, PHI masked. */
export const ANALYST_ROLE = 'CLAIMS_ANALYST';

/** Tables holding PHI columns. The tombstones hold a claim id and a version only. */
export const PHI_TABLES = [TABLES.destination, TABLES.history, TABLES.staging] as const;

interface PolicyFamily {
  readonly name: string;
  /** Snowflake data type of the policy signature (tag-based masking needs one policy per data type). */
  readonly type: string;
  /** What a role without PHI_READER sees. */
  readonly masked: string;
}

const STRING: PolicyFamily = { name: 'phi_mask_string', type: 'STRING', masked: "'***MASKED***'" };
const FAMILIES: Record<ColumnType, PolicyFamily> = {
  STRING,
  VARCHAR1: STRING,
  INTEGER: { name: 'phi_mask_number', type: 'NUMBER', masked: 'NULL' },
  FLOAT: { name: 'phi_mask_float', type: 'FLOAT', masked: 'NULL' },
  TIMESTAMP_NTZ: { name: 'phi_mask_timestamp_ntz', type: 'TIMESTAMP_NTZ', masked: 'NULL' },
  JSON: { name: 'phi_mask_variant', type: 'VARIANT', masked: 'NULL' },
};

/** The PHI columns of the registry. */
export const phiColumns = (): ColumnSpec[] => ALL_COLUMNS.filter((c) => c.phi);

/** One policy per data type among the PHI columns, in registry order. */
export const maskingPolicies = (): PolicyFamily[] => [...new Map(phiColumns().map((c) => [FAMILIES[c.type].name, FAMILIES[c.type]])).values()];

const body = (family: PolicyFamily): string => `CASE WHEN IS_ROLE_IN_SESSION('${PHI_READER_ROLE}') THEN val ELSE ${family.masked} END`;

/**
 * Tag-based masking, in order: the tag, one policy per data type (created once, then its body kept current with
 * ALTER — a policy attached to a tag cannot be replaced), the policies set on the tag, and the tag set on every
 * PHI column of every {@link PHI_TABLES} table. Run with a role holding APPLY TAG and APPLY MASKING POLICY.
 */
export const maskingStatements = (): string[] => [
  `CREATE TAG IF NOT EXISTS ${PHI_TAG} ALLOWED_VALUES 'true' COMMENT = 'Protected health information (claims-cdc column registry): masked unless ${PHI_READER_ROLE} is in the session'`,
  ...maskingPolicies().flatMap((family) => [
    `CREATE MASKING POLICY IF NOT EXISTS ${family.name} AS (val ${family.type}) RETURNS ${family.type} -> ${body(family)} COMMENT = 'claims-cdc PHI mask for ${family.type} columns'`,
    `ALTER MASKING POLICY ${family.name} SET BODY -> ${body(family)}`,
  ]),
  ...maskingPolicies().map((family) => `ALTER TAG ${PHI_TAG} SET MASKING POLICY ${family.name} FORCE`),
  ...PHI_TABLES.flatMap((table) => phiColumns().map((column) => `ALTER TABLE ${table} MODIFY COLUMN ${column.name} SET TAG ${PHI_TAG} = 'true'`)),
];
