// First: it decides the X-Ray SDK's mode, which the SDK reads once, as the Tracer below imports it.
import './xray-mode';
import { Tracer } from '@aws-lambda-powertools/tracer';

/** The one Tracer (X-Ray in Lambda; disabled locally with POWERTOOLS_TRACE_ENABLED=false). */
export const tracer = new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'claims-cdc' });
