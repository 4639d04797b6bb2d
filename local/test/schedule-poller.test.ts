/**
 * The merge schedule invokes with an EventBridge Scheduled Event, never runs two invocations at once (even when
 * asked to run on demand while one is running), and keeps going after a failed run. Its pauses are checked on virtual
 * time (`clock`), not against the machine's timers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import type { ScheduledEvent } from 'aws-lambda';
import { pauseAfter, startSchedulePoller, type ScheduledHandler } from '../src/stack/schedule-poller';
import { waitUntil } from './support/wait';

const base = {
  function: { functionName: 'merge', functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:merge' },
  region: 'us-east-1',
  accountId: '000000000000',
  ruleArn: 'arn:aws:events:us-east-1:000000000000:rule/merge-schedule',
};

describe('schedule poller', () => {
  it('invokes with a real Scheduled Event on its interval', async () => {
    // Prepare
    const events: ScheduledEvent[] = [];
    const poller = startSchedulePoller({ ...base, intervalMs: 10, handler: async (event) => void events.push(event) });
    // Act
    await waitUntil(() => events.length >= 3, 'three scheduled runs');
    await poller.stop();
    // Assess
    expect(EventBridgeSchema.safeParse(events[0]).success).toBe(true);
    expect(events[0]).toMatchObject({ 'detail-type': 'Scheduled Event', source: 'aws.events', resources: [base.ruleArn], detail: {} });
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  });

  /**
   * Virtual time: a run "takes" what the handler adds to it, a pause moves it forward by what the schedule asked, at
   * once. The starts are then exactly where the loop put them, whatever the machine's timers do.
   */
  const virtualClock = () => {
    const clock = {
      t: 0,
      now: () => clock.t,
      sleep: async (ms: number, signal: AbortSignal) => {
        await new Promise((resolve) => setImmediate(resolve));
        if (!signal.aborted) clock.t += ms;
      },
    };
    return clock;
  };

  it.each([
    {
      name: 'fires every interval start to start, as a rate rule does, not an interval after each run ends',
      runMs: 300,
      intervalMs: 600,
      // Waiting the interval after each run would put the starts 900 apart.
      gap: 600,
    },
    {
      name: 'after a run longer than half the interval, pauses as long as the run (runs fill at most half the time)',
      runMs: 600,
      intervalMs: 1_000,
      // Start to start would put them 1,000 apart (a 400 pause); back to back, 600.
      gap: 1_200,
    },
    {
      name: 'after a run longer than the interval, pauses one interval',
      runMs: 2_500,
      intervalMs: 1_000,
      gap: 3_500,
    },
  ])('$name', async ({ runMs, intervalMs, gap }) => {
    // Prepare
    const clock = virtualClock();
    const starts: number[] = [];
    const poller = startSchedulePoller({
      ...base,
      intervalMs,
      clock,
      handler: async () => {
        starts.push(clock.t);
        clock.t += runMs;
      },
    });
    // Act
    await waitUntil(() => starts.length >= 4, 'four runs');
    await poller.stop();
    // Assess
    expect(starts.slice(0, 4)).toEqual([0, gap, 2 * gap, 3 * gap]);
  });

  it.each([
    // [run took, interval, pause]
    [100, 1_000, 900],
    [500, 1_000, 500],
    [700, 1_000, 700],
    [2_500, 1_000, 1_000],
    [0, 1_000, 1_000],
  ])('after a run of %i ms on a %i ms interval, pauses %i ms', (took, interval, pause) => {
    // Act / Assess
    expect(pauseAfter(took, interval)).toBe(pause);
  });

  it('never overlaps invocations, even with many on-demand triggers during a run', async () => {
    // Prepare
    let inFlight = 0;
    let maxInFlight = 0;
    let runs = 0;
    const handler: ScheduledHandler<number> = async () => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(5);
      inFlight -= 1;
      return ++runs;
    };
    const poller = startSchedulePoller({ ...base, intervalMs: 1, handler });
    // Act
    const results = await Promise.all(Array.from({ length: 10 }, () => poller.trigger()));
    await poller.stop();
    // Assess
    expect(maxInFlight).toBe(1);
    expect(results.every((r) => Number.isInteger(r))).toBe(true);
    expect(poller.counters()).toMatchObject({ running: false, failures: 0 });
  });

  it('answers a trigger with a run that started after it was asked for', async () => {
    // Prepare: a run is in progress when the trigger arrives.
    let release!: () => void;
    let runs = 0;
    const poller = startSchedulePoller<number>({
      ...base,
      intervalMs: 60_000,
      handler: async () => {
        runs += 1;
        if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
        return runs;
      },
    });
    await waitUntil(() => runs === 1, 'first run started');
    // Act
    const triggered = poller.trigger();
    release();
    // Assess
    await expect(triggered).resolves.toBe(2);
    await poller.stop();
  });

  it('counts a failed run, reports its error and keeps the schedule going', async () => {
    // Prepare
    let runs = 0;
    const poller = startSchedulePoller({
      ...base,
      intervalMs: 5,
      handler: async () => {
        runs += 1;
        if (runs === 1) throw new TypeError('staging table missing');
        return 'ok';
      },
    });
    // Act
    await waitUntil(() => runs >= 3, 'runs after the failure');
    await poller.stop();
    // Assess
    expect(poller.counters()).toMatchObject({ failures: 1, lastError: 'TypeError: staging table missing', lastResult: 'ok' });
  });

  it('lets a run in progress finish when stopped, and rejects triggers afterwards', async () => {
    // Prepare
    let release!: () => void;
    let finished = false;
    const poller = startSchedulePoller({
      ...base,
      intervalMs: 60_000,
      handler: async () => {
        await new Promise<void>((resolve) => (release = resolve));
        finished = true;
      },
    });
    await waitUntil(() => release, 'run started');
    // Act
    const stopping = poller.stop();
    release();
    await stopping;
    // Assess
    expect(finished).toBe(true);
    await expect(poller.trigger()).rejects.toThrow('schedule is stopped');
  });
});
