import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger } from './logger';
import { metrics } from './metrics';
import { tracer } from './tracer';

/**
 * Wraps a plain handler for Lambda: logger context, metrics flush and tracing. The plain function stays exported
 * for tests; `handler` is this wrapper. The event is never logged (it carries PHI).
 */
export const wrap = <E, R>(plain: (event: E, context: Context) => Promise<R>) =>
  middy(plain)
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger, { logEvent: false }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
