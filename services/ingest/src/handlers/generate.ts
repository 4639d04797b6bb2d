import { randomInt } from 'node:crypto';
import { generateClaims } from '@claims-cdc/shared';
import { logger } from '@claims-cdc/shared/observability/logger';
import { MetricUnit, metrics } from '@claims-cdc/shared/observability/metrics';
import { wrap } from '@claims-cdc/shared/observability/wrap';
import { ClaimsTable } from '../claims-table';
import { dynamodb } from '../clients';
import { config } from '../config';

const table = new ClaimsTable(dynamodb, config.CLAIMS_TABLE_NAME);

/** Scheduled (disabled by default): writes GENERATOR_BATCH_SIZE new claims, a steady synthetic workload. */
export const generate = async (): Promise<{ claimIds: string[] }> => {
  const claims = generateClaims(config.GENERATOR_BATCH_SIZE, randomInt(0, 2 ** 32 - 1), Date.now());
  await table.putClaims(claims);
  metrics.addMetric('ClaimsGenerated', MetricUnit.Count, claims.length);
  logger.info('claims generated', { count: claims.length });
  return { claimIds: claims.map((c) => c.claim_id) };
};

/** The Lambda entry point. */
export const handler = wrap(generate);
