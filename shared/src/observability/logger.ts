import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The one Logger. Log claim ids and counts only: never a claim image, a row, a message body or a
 * payload, because those hold PHI.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'claims-cdc' });
