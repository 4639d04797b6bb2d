/**
 * The backfill's read budget: a token bucket that a page may overdraw, halved on throttling with exponential backoff
 * and regained page by page. A fake clock: no timing in the test.
 */
import { AdaptiveRateLimiter, BACKOFF, isThrottling, pageRcu } from '../src/backfill/rate-limiter';

/** A clock that only moves when someone sleeps. */
const fakeClock = () => {
  const state = { now: 0, slept: [] as number[] };
  return {
    state,
    clock: {
      now: () => state.now,
      sleep: async (ms: number) => {
        state.slept.push(ms);
        state.now += ms;
      },
    },
  };
};

describe('AdaptiveRateLimiter', () => {
  it('lets pages through while the budget lasts, then waits until the debt is paid at the current rate', async () => {
    // Prepare
    const { state, clock } = fakeClock();
    const limiter = new AdaptiveRateLimiter(10, clock);
    // Act: 10 RCU available; a page of 25 RCU leaves a debt of 15.
    await limiter.acquire();
    limiter.consumed(25);
    await limiter.acquire();
    // Assess: 15 RCU at 10 RCU/s is 1.5 s.
    expect(state.slept.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1500);
    expect(state.now).toBeLessThan(1600);
  });

  it('reads at most max-rcu on average over a long run', async () => {
    // Prepare
    const { state, clock } = fakeClock();
    const limiter = new AdaptiveRateLimiter(50, clock);
    // Act: 100 pages of 20 RCU = 2,000 RCU.
    for (let i = 0; i < 100; i += 1) {
      await limiter.acquire();
      limiter.consumed(20);
    }
    // Assess: at 50 RCU/s, at least (2000 - 50 initial - 20 last overdraft) / 50 s.
    expect(state.now / 1000).toBeGreaterThanOrEqual((2000 - 50 - 20) / 50);
  });

  it('halves the rate on every throttle (down to 1/64 of the ceiling), backs off exponentially, and regains 1/20 per page', () => {
    // Prepare
    const limiter = new AdaptiveRateLimiter(640, fakeClock().clock, () => 1);
    // Act
    const waits = [limiter.throttled(), limiter.throttled(), limiter.throttled()];
    const afterThrottles = limiter.rate;
    for (let i = 0; i < 10; i += 1) limiter.throttled();
    const floor = limiter.rate;
    limiter.consumed(1);
    // Assess
    expect(waits).toEqual([BACKOFF.firstMs, 2 * BACKOFF.firstMs, 4 * BACKOFF.firstMs]);
    expect(afterThrottles).toBe(80);
    expect(floor).toBe(10);
    expect(limiter.rate).toBe(10 + 32);
  });

  it('without a budget never waits, but still backs off on throttling (capped at the maximum)', async () => {
    // Prepare
    const { state, clock } = fakeClock();
    const limiter = new AdaptiveRateLimiter(undefined, clock, () => 1);
    // Act
    limiter.consumed(1e9);
    await limiter.acquire();
    const waits = Array.from({ length: 12 }, () => limiter.throttled());
    // Assess
    expect(state.slept).toEqual([]);
    expect(Math.max(...waits)).toBe(BACKOFF.maxMs);
  });
});

describe('throttling errors and page cost', () => {
  it.each([
    ['ProvisionedThroughputExceededException', true],
    ['ThrottlingException', true],
    ['RequestLimitExceeded', true],
    ['ValidationException', false],
    ['ResourceNotFoundException', false],
  ])('%s is throttling: %s', (name, expected) => {
    // Act / Assess
    expect(isThrottling(Object.assign(new Error('x'), { name }))).toBe(expected);
  });

  it.each([
    [undefined, 10_000, true, 3],
    [undefined, 10_000, false, 1.5],
    [undefined, 10, true, 1],
    [7, 10_000, true, 7],
  ])('reported %p, %i bytes, consistent %p → %p RCU', (reported, bytes, consistent, expected) => {
    // Act / Assess
    expect(pageRcu(reported, bytes, consistent)).toBe(expected);
  });
});
