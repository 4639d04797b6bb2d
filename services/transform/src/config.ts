import { requireEnv } from '@claims-cdc/shared/config/env';

/** Read once at load: a missing queue URL fails the cold start with a clear message. */
export const config = requireEnv(['LOAD_QUEUE_URL', 'QUARANTINE_QUEUE_URL'] as const);
