/**
 * Whether this process runs outside Lambda, where Powertools' Tracer never traces (it traces only where
 * AWS_EXECUTION_ENV is set, and LAMBDA_TASK_ROOT is set by the Lambda runtime too): the local stack, the CLI, tests.
 */
export const outsideLambda = (env: NodeJS.ProcessEnv): boolean => !env.AWS_EXECUTION_ENV && !env.LAMBDA_TASK_ROOT;

// Why: in its default (automatic) mode the X-Ray SDK creates its cls-hooked namespace as it is imported, and that
// enables an async hook with a destroy callback for the life of the process, so every promise afterwards registers a
// destroy hook with the garbage collector. Outside Lambda the Tracer never reads that context: the hook is pure cost
// (measured here: a million awaited promises and immediates, 7.6 s of CPU with it, 4.7 s without; end to end it is
// small, within the run-to-run noise of four 10,000-event chaos runs, two each way). In Lambda the SDK is left alone
// even with tracing off: there it sets up its context as it loads, which in manual mode logs an error at every cold
// start. The SDK reads AWS_XRAY_MANUAL_MODE once, when first imported, so tracer.ts imports this module before
// '@aws-lambda-powertools/tracer'. An explicit AWS_XRAY_MANUAL_MODE is left as it is.
if (outsideLambda(process.env)) process.env.AWS_XRAY_MANUAL_MODE ??= 'true';
