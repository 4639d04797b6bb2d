import { requireEnv } from '@claims-cdc/shared/config/env';

/** The backfill function's settings, read once at load (the load function's are in `../config.ts`). */
export const backfillConfig = requireEnv(['CLAIMS_TABLE_NAME', 'LOAD_QUEUE_URL', 'QUARANTINE_QUEUE_URL'] as const);
