/** The local retry policy: exponential waits with a cap, and a bounded number of calls. */
import { backoffMs, retrying } from '../src/stack/backoff';

describe('backoff policy', () => {
  it.each([
    [1, 10],
    [2, 20],
    [3, 40],
    [6, 320],
    [7, 500],
    [60, 500],
  ])('waits, before retry %i, %i ms (base 10, cap 500)', (retry, expected) => {
    // Assess
    expect(backoffMs(retry, { baseMs: 10, maxMs: 500 })).toBe(expected);
  });

  it('calls until the call succeeds', async () => {
    // Prepare
    let calls = 0;
    const flaky = async (): Promise<string> => {
      calls += 1;
      if (calls < 3) throw new Error(`failure ${calls}`);
      return 'done';
    };
    // Act
    const result = await retrying(flaky, 5, { baseMs: 1, maxMs: 1 });
    // Assess
    expect(result).toBe('done');
    expect(calls).toBe(3);
  });

  it('rethrows the last error after the last attempt', async () => {
    // Prepare
    let calls = 0;
    const failing = async (): Promise<never> => {
      calls += 1;
      throw new Error(`failure ${calls}`);
    };
    // Act
    const outcome = retrying(failing, 4, { baseMs: 1, maxMs: 1 });
    // Assess
    await expect(outcome).rejects.toThrow('failure 4');
    expect(calls).toBe(4);
  });
});
