/**
 * The merge schedule invokes with an EventBridge Scheduled Event, never runs two invocations at once (even when
 * asked to run on demand while one is running), and keeps going after a failed run.
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

  it('fires every interval start to start, as a rate rule does, not an interval after each run ends', async () => {
    // Prepare: each run takes 300 ms of a 600 ms interval. Waiting the interval after each run would put its starts
    // 900 ms apart; a rate rule puts them 600 ms apart. (The rule's arithmetic is the table below; this shows the loop
    // follows it, with room for a loaded machine's timer delays.)
    const starts: number[] = [];
    const poller = startSchedulePoller({
      ...base,
      intervalMs: 600,
      handler: async () => {
        starts.push(performance.now());
        await sleep(300);
      },
    });
    // Act
    await waitUntil(() => starts.length >= 4, 'four scheduled runs', 10_000);
    await poller.stop();
    // Assess
    const gaps = starts.slice(1, 4).map((start, i) => start - (starts[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(590);
    expect(Math.max(...gaps)).toBeLessThan(820);
  });

  it('pauses as long as a run that took more than half the interval, so runs fill at most half the time', async () => {
    // Prepare: runs of 600 ms on a 1,000 ms interval. Start to start would pause 400 ms; the old wait 1,000 ms.
    const spans: [number, number][] = [];
    const poller = startSchedulePoller({
      ...base,
      intervalMs: 1_000,
      handler: async () => {
        const start = performance.now();
        await sleep(600);
        spans.push([start, performance.now()]);
      },
    });
    // Act
    await waitUntil(() => spans.length >= 3, 'three runs', 15_000);
    await poller.stop();
    // Assess
    const pauses = spans.slice(1, 3).map(([start], i) => start - (spans[i] as [number, number])[1]);
    expect(Math.min(...pauses)).toBeGreaterThanOrEqual(590);
    expect(Math.max(...pauses)).toBeLessThan(900);
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
