import { RecordRejectedError } from './errors';

/** The precisions DynamoDB streams write `ApproximateCreationDateTime` in. */
export type TimePrecision = 'MILLISECOND' | 'MICROSECOND';

/** 2012-01-01T00:00:00Z in microseconds: DynamoDB launched on 2012-01-18, so no change record is older. */
export const EARLIEST_EVENT_MICROS = Date.UTC(2012, 0, 1) * 1000;

/** How far ahead of this process's clock a record's time may be (clock skew between AWS and us). */
export const MAX_FUTURE_MICROS = 24 * 3600 * 1_000_000;

// Any plausible time (2012..2100) is below this in milliseconds and above it in microseconds.
const MICROS_THRESHOLD = 100_000_000_000_000;

/**
 * `ApproximateCreationDateTime` in microseconds since the epoch, as decimal text.
 *
 * With a precision field the value is scaled by it. Without one (streams created before the field existed write
 * milliseconds, but some producers write microseconds) the magnitude decides: no date between 2012 and 5000 is
 * ambiguous. A time before {@link EARLIEST_EVENT_MICROS} or more than {@link MAX_FUTURE_MICROS} ahead of `nowMs` is
 * rejected: kept, it would pin its claim (every later event would look older) or never win.
 *
 * @throws RecordRejectedError `implausible-time`
 */
export const eventMicros = (value: number, precision: TimePrecision | undefined, nowMs: number): string => {
  const micros = precision === 'MICROSECOND' || (precision === undefined && value >= MICROS_THRESHOLD) ? value : value * 1000;
  if (!Number.isSafeInteger(micros) || micros < EARLIEST_EVENT_MICROS || micros > nowMs * 1000 + MAX_FUTURE_MICROS) {
    throw new RecordRejectedError(
      'implausible-time',
      `ApproximateCreationDateTime (${precision ?? 'no precision field'}) is before 2012 or more than a day in the future`,
    );
  }
  return String(micros);
};
