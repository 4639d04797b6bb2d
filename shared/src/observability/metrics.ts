import { Metrics } from '@aws-lambda-powertools/metrics';

export { MetricUnit } from '@aws-lambda-powertools/metrics';

/** The one Metrics instance (EMF). Metric values are counts and ages, never data. */
export const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'ClaimsCdc', serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'claims-cdc' });
