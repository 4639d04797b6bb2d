import { requireEnv } from '@claims-cdc/shared/config/env';

/** Read once at load. The warehouse settings are read by the warehouse factory. */
export const config = requireEnv(['QUARANTINE_QUEUE_URL'] as const);
