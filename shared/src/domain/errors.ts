/** Why a record can never be processed, whatever the number of retries. */
export type RejectReason =
  | 'not-base64'
  | 'not-json'
  | 'not-a-change-record'
  | 'unknown-event-name'
  | 'not-a-claim'
  | 'missing-image'
  | 'key-mismatch'
  | 'claim-schema'
  | 'too-large'
  | 'implausible-time'
  | 'bad-sequence-number'
  | 'invalid-value'
  | 'bad-row-message'
  | 'warehouse-rejected'
  | 'unprocessable';

/**
 * A record that will never succeed: it is quarantined with this reason and its raw payload instead of being retried.
 * Messages name the problem (field paths, expected types), never the values, so no PHI reaches a log.
 */
export class RecordRejectedError extends Error {
  override readonly name = 'RecordRejectedError';

  constructor(
    readonly reason: RejectReason,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}

/** Configuration read at load time is missing or malformed. */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/**
 * Any error decoding or flattening one record is about that record's content (no I/O happens there), so it becomes a
 * rejection (`unprocessable`), never a batch failure: the same bytes would fail the same way on every retry. The
 * detail names the error's kind only, since its message could quote a value.
 */
export const toRejection = (error: unknown): RecordRejectedError =>
  error instanceof RecordRejectedError ? error : new RecordRejectedError('unprocessable', `unexpected ${error instanceof Error ? error.name : typeof error} while decoding the record`);
