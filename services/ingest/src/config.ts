import { intEnv, requireEnv } from '@claims-cdc/shared/config/env';

/** Read once at load. */
export const config = { ...requireEnv(['CLAIMS_TABLE_NAME'] as const), GENERATOR_BATCH_SIZE: intEnv('GENERATOR_BATCH_SIZE', 25) };
