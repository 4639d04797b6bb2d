/**
 * The live page's server, its data and its sampler, without a stack: the token is demanded on every request (header
 * or query parameter), the page's document carries ids and reasons of quarantined inputs but never their details,
 * and rates and freshness follow from the statuses sampled.
 */
import type { PipelineStatus } from '../src/inspect/pipeline-status';
import { waitUntil } from './support/wait';
import { PipelineSampler, quarantineByReason, ratesBetween, startLivePageServer, tokenMatches, windowFreshness, type LivePageServer, type MergeRun } from '../src/live-page';
import type { QuarantineEntry } from '../src/quarantine';

const TOKEN = 'a-token-of-the-stack-0123456789abcdefghijklm';

/** A status with every stage empty, changed by `over`. */
const statusAt = (takenAt: number, over: Partial<PipelineStatus> = {}): PipelineStatus => ({
  takenAt,
  items: 0,
  captured: 0,
  capturePending: 0,
  onStream: 0,
  transformPending: 0,
  transformInFlight: { calls: 0, records: 0 },
  loadInFlight: { calls: 0, messages: 0 },
  inStream: 0,
  streamBehindMs: 0,
  shards: [],
  queues: { load: 0, loadDlq: 0, quarantine: 0, transformFailure: 0 },
  loadQueue: 0,
  staged: 0,
  history: 0,
  destination: 0,
  tombstones: 0,
  quarantined: 0,
  deadLettered: 0,
  oldestUnmergedAgeSeconds: null,
  failedInvocations: 0,
  mergeRunning: false,
  merges: 0,
  lastMerge: null,
  ...over,
});

describe('the live page server', () => {
  let server: LivePageServer;
  const served = { data: { hello: 'counts' } as unknown };

  beforeAll(async () => {
    server = await startLivePageServer({ token: TOKEN, data: async () => served.data });
  });
  afterAll(() => server.stop());

  const get = (path: string, headers: Record<string, string> = {}) => fetch(new URL(path, server.url), { headers });

  it('listens on 127.0.0.1 only', () => {
    expect(new URL(server.url).hostname).toBe('127.0.0.1');
  });

  it.each([
    ['no token', '/', {}],
    ['a wrong token in the query', `/?token=${TOKEN.slice(0, -1)}x`, {}],
    ['a token of another length', '/?token=short', {}],
    ['a wrong bearer header', '/api/live', { authorization: `Bearer ${TOKEN}x` }],
    ['the token as a different scheme', '/api/live', { authorization: `Basic ${TOKEN}` }],
  ])('refuses a request with %s (401, nothing of the page)', async (_what, path, headers) => {
    // Act
    const reply = await get(path, headers);
    const body = await reply.text();
    // Assess
    expect(reply.status).toBe(401);
    expect(body).not.toContain('<script');
    expect(body).not.toContain('counts');
  });

  it('serves the page with the token in the query, with a nonce-only Content-Security-Policy and no caching', async () => {
    // Act
    const reply = await get(`/?token=${TOKEN}`);
    const html = await reply.text();
    // Assess
    expect(reply.status).toBe(200);
    const csp = reply.headers.get('content-security-policy') ?? '';
    const nonce = csp.match(/script-src 'nonce-([^']+)'/)?.[1];
    expect(nonce).toBeDefined();
    expect(html).toContain(`<script nonce="${nonce}">`);
    expect(csp).toContain("default-src 'none'");
    expect(reply.headers.get('cache-control')).toBe('no-store');
    expect(reply.headers.get('referrer-policy')).toBe('no-referrer');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
  });

  it('answers the JSON document to the bearer header, and 503 before the first status', async () => {
    // Act
    const ok = await get('/api/live', { authorization: `Bearer ${TOKEN}` });
    served.data = null;
    const early = await get('/api/live', { authorization: `Bearer ${TOKEN}` });
    served.data = { hello: 'counts' };
    // Assess
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ hello: 'counts' });
    expect(early.status).toBe(503);
  });

  it('accepts only GET', async () => {
    // Act
    const reply = await fetch(new URL('/api/live', server.url), { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    // Assess
    expect(reply.status).toBe(405);
  });

  it('compares tokens whatever their lengths', () => {
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches(TOKEN, `${TOKEN} `)).toBe(false);
    expect(tokenMatches(TOKEN, '')).toBe(false);
    expect(tokenMatches(TOKEN, undefined)).toBe(false);
  });
});

describe('the live page data', () => {
  const entry = (id: string, reason: string, at: string, over: Partial<QuarantineEntry> = {}): QuarantineEntry => ({
    id,
    reason,
    detail: `claim_status: SECRET-DETAIL-${id}`,
    origin: { stage: 'transform', id: `seq-${id}` } as QuarantineEntry['origin'],
    quarantinedAt: at,
    deliveries: 1,
    complete: true,
    ...over,
  });

  it('groups the quarantine by reason with ids only, newest first, leaving out re-driven entries', () => {
    // Prepare
    const entries = [
      entry('q1', 'schema', '2026-01-01T00:00:01Z'),
      entry('q2', 'schema', '2026-01-01T00:00:03Z'),
      entry('q3', 'not-json', '2026-01-01T00:00:02Z'),
      entry('q4', 'schema', '2026-01-01T00:00:04Z', { redriven: { at: '2026-01-01T00:01:00Z', target: 'stream', ref: '1' } }),
    ];
    // Act
    const grouped = quarantineByReason(entries, 2);
    // Assess
    expect(grouped).toEqual({
      total: 5,
      byReason: [
        { reason: 'schema', count: 2, ids: ['q2', 'q1'] },
        { reason: 'not-json', count: 1, ids: ['q3'] },
        { reason: '(in the quarantine queue, not stored yet)', count: 2, ids: [] },
      ],
    });
    expect(JSON.stringify(grouped)).not.toContain('SECRET-DETAIL');
  });

  it('turns two statuses into per-stage rates', () => {
    // Prepare
    const a = statusAt(10_000, { captured: 100, inStream: 40, history: 50, staged: 20 });
    const b = statusAt(12_000, { captured: 120, inStream: 20, history: 80, staged: 10, oldestUnmergedAgeSeconds: 3 });
    // Act
    const rate = ratesBetween(a, b);
    // Assess
    expect(rate).toEqual({ t: 12_000, captured: 10, transformed: 20, loaded: 15, merged: 20, lagSeconds: 3 });
  });

  it('weights the freshness of several merges by their events', () => {
    // Prepare
    const run = (t: number, events: number, p50Ms: number, p99Ms: number, maxMs: number): MergeRun => ({ t, events, freshness: { p50Ms, p99Ms, maxMs }, estimated: false });
    // Act
    const f = windowFreshness([run(1, 90, 100, 200, 250), run(2, 10, 1000, 3000, 4000)]);
    // Assess
    expect(f).toEqual({ p50Ms: 100, p99Ms: 3000, maxMs: 4000, runs: 2, events: 100, estimated: false });
    expect(windowFreshness([])).toBeNull();
  });

  it('records a merge run when the merge count grows, with the freshness it reports or an estimate marked as one', () => {
    // Prepare
    const sampler = new PipelineSampler(async () => statusAt(0));
    // Act
    sampler.record(statusAt(1_000, { staged: 5, oldestUnmergedAgeSeconds: 2 }));
    sampler.record(statusAt(2_000, { merges: 1, lastMerge: { events: 5, freshness: null } }));
    sampler.record(statusAt(3_000, { merges: 1, lastMerge: { events: 5, freshness: null } }));
    sampler.record(statusAt(4_000, { merges: 2, lastMerge: { events: 7, freshness: { p50Ms: 400, p99Ms: 900, maxMs: 950 } } }));
    sampler.record(statusAt(5_000, { merges: 3, lastMerge: { events: 0, freshness: null } }));
    // Assess
    expect(sampler.runs()).toEqual([
      { t: 2_000, events: 5, freshness: { p50Ms: 3_000, p99Ms: 3_000, maxMs: 3_000 }, estimated: true },
      { t: 4_000, events: 7, freshness: { p50Ms: 400, p99Ms: 900, maxMs: 950 }, estimated: false },
    ]);
    expect(sampler.rates()).toHaveLength(4);
    expect(sampler.freshness(2_500)).toEqual({ p50Ms: 400, p99Ms: 900, maxMs: 950, runs: 1, events: 7, estimated: false });
  });

  it('sees every merge run through the merge probe, even several between two statuses', () => {
    // Prepare
    let merge = { invocations: 0, lastResult: undefined as unknown };
    const sampler = new PipelineSampler(async () => statusAt(0), { mergeProbe: () => merge });
    sampler.record(statusAt(1_000, { staged: 9, oldestUnmergedAgeSeconds: 1 }));
    sampler.probeMerge(1_000);
    // Act
    merge = { invocations: 1, lastResult: { events: 4, freshness: { p50Ms: 300, p99Ms: 500, maxMs: 510 } } };
    sampler.probeMerge(1_100);
    sampler.probeMerge(1_200);
    merge = { invocations: 2, lastResult: { events: 0, freshness: null } };
    sampler.probeMerge(1_300);
    merge = { invocations: 3, lastResult: { events: 5, freshness: null } };
    sampler.probeMerge(1_500);
    sampler.record(statusAt(2_000, { merges: 3, lastMerge: { events: 5, freshness: null } }));
    // Assess
    expect(sampler.runs()).toEqual([
      { t: 1_100, events: 4, freshness: { p50Ms: 300, p99Ms: 500, maxMs: 510 }, estimated: false },
      { t: 1_500, events: 5, freshness: { p50Ms: 1_500, p99Ms: 1_500, maxMs: 1_500 }, estimated: true },
    ]);
  });

  it('counts a merge that ended since the probe timer last read, when freshness is asked', async () => {
    // Prepare: a started sampler has read the merge's counters once.
    let merge = { invocations: 0, lastResult: undefined as unknown };
    const sampler = new PipelineSampler(async () => statusAt(Date.now()), { mergeProbe: () => merge, everyMs: 60_000 });
    sampler.start();
    await waitUntil(() => sampler.latest(), 'the first status');
    // Act: a merge ends, and freshness is asked at once (before the next 100 ms read).
    merge = { invocations: 1, lastResult: { events: 3, freshness: { p50Ms: 200, p99Ms: 400, maxMs: 410 } } };
    const freshness = sampler.freshness();
    await sampler.stop();
    // Assess
    expect(freshness).toEqual({ p50Ms: 200, p99Ms: 400, maxMs: 410, runs: 1, events: 3, estimated: false });
  });

  it('keeps only the window it is given', () => {
    // Prepare
    const sampler = new PipelineSampler(async () => statusAt(0), { keepMs: 5_000 });
    // Act
    for (let t = 1_000; t <= 20_000; t += 1_000) sampler.record(statusAt(t));
    // Assess
    expect(sampler.rates().map((r) => r.t)).toEqual([16_000, 17_000, 18_000, 19_000, 20_000]);
  });
});
