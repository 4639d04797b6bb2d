/**
 * Whether Powertools' Tracer will trace in this environment, decided the way its constructor decides it (no tracing
 * when POWERTOOLS_TRACE_ENABLED is `false`, or outside a Lambda execution environment, where AWS_EXECUTION_ENV is
 * unset), but before the Tracer is loaded.
 */
export const tracingOff = (env: NodeJS.ProcessEnv): boolean => env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() === 'false' || !env.AWS_EXECUTION_ENV;

// Why: in its default (automatic) mode the X-Ray SDK creates its cls-hooked namespace as it is imported, and that
// enables an async hook with a destroy callback for the life of the process, so every promise afterwards registers a
// destroy hook with the garbage collector. A Tracer that does not trace never reads that context: the hook is pure
// cost (measured here: a million awaited promises and immediates, 7.6 s of CPU with it, 4.7 s without; end to end it
// is small, within the run-to-run noise of four 10,000-event chaos runs, two each way). The SDK reads
// AWS_XRAY_MANUAL_MODE once, when first imported, so tracer.ts imports this module before
// '@aws-lambda-powertools/tracer'. An explicit AWS_XRAY_MANUAL_MODE is left as it is; where the Tracer traces
// (deployed, tracing on) nothing changes.
if (tracingOff(process.env)) process.env.AWS_XRAY_MANUAL_MODE ??= 'true';
