/**
 * The messages between the stack and a handler process (handler-process.ts): the parent sends invocations, the child
 * answers each with the handler's result or the error it threw. Kept apart from both sides so that neither imports
 * the other.
 */

/** Which handler the child imports: the module and export serverless.yml names (see local-config.ts). */
export interface HandlerProcessRef {
  readonly handlerModule: string;
  readonly handlerExport: string;
}

/** The Lambda context's fields that cross the process boundary; the child rebuilds the rest. */
export interface InvokeContext {
  readonly functionName: string;
  readonly functionArn: string;
  readonly awsRequestId: string;
  readonly memoryMb: number;
  /** Epoch milliseconds at which the invocation times out (`getRemainingTimeInMillis` counts down to it). */
  readonly deadlineMs: number;
}

/** Parent → child. */
export type HandlerProcessCommand = { type: 'invoke'; id: number; event: unknown; context: InvokeContext };

/** A thrown error as it crosses: name and message only (handlers keep PHI out of both; stacks stay in the child). */
export interface CrossedError {
  readonly name: string;
  readonly message: string;
}

/** Child → parent. */
export type HandlerProcessEvent =
  | { type: 'ready' }
  | { type: 'start-failed'; error: CrossedError }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; error: CrossedError };

/** The environment variable that carries the {@link HandlerProcessRef} (JSON) to the child. */
export const HANDLER_PROCESS_REF_ENV = 'CLAIMS_CDC_HANDLER_PROCESS';
