/**
 * The live page in a real browser: Debian's chromium, driven by playwright-core (no browser download), opens the
 * page `claims-cdc up` prints, sees its counts follow `generate`, finds no PHI of the generated claims anywhere in
 * the page or its data, is refused without the token, and leaves a screenshot in test-output/live-page/ (and in
 * docs/live-page.png when CLAIMS_CDC_UPDATE_SCREENSHOT=1).
 *
 * Without chromium this test fails (it does not skip): CI installs it through .ci/run.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { generateClaims, type Claim } from '@claims-cdc/shared';
import { buildChangeRecord } from '@claims-cdc/shared/test-support/change-records';
import { claims } from '@claims-cdc/shared/test-support/factories';
import { phiFinder, phiValues } from '@claims-cdc/shared/test-support/phi';
import { chromium, type Browser, type Page } from 'playwright-core';
import { run } from '../src/cli/main';
import { readStackInfo } from '../src/stack/stack-client';
import { killAllCliProcesses, REPO_ROOT, startCli, type CliProcess } from './support/cli-process';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT_DIR = path.join(process.env.CLAIMS_CDC_TEST_OUTPUT ?? path.join(REPO_ROOT, 'test-output'), 'live-page');
const GENERATED = { count: 40, seed: 2026 };

describe('the live pipeline page in chromium', () => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-live-'));
  let up: CliProcess;
  let browser: Browser;
  let page: Page;
  let pageUrl: URL;
  const bad = { ...claims(1, 5150)[0]!, claim_id: 'CLM-0BAD0BAD', claim_status: 'Lost in the mail' };

  /**
   * Waits until the destination's count on the page reads `n` (a locator: the page's Content-Security-Policy refuses
   * the eval a string predicate would need, which is as it should be).
   */
  const destinationShows = (n: number, timeout: number) =>
    page.locator('#stage-destination .count').filter({ hasText: new RegExp(`^${n.toLocaleString('en-US')}$`) }).waitFor({ timeout });
  /** The text of one stage's count on the page. */
  const countOf = (stage: string) => page.locator(`#stage-${stage} .count`).innerText();

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`chromium is missing at ${CHROMIUM}: install Debian's chromium (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH`);
    }
    up = startCli(['up', '--state-dir', stateDir]);
    await up.waitForOutput(/^Ctrl-C stops the stack\.$/m, 90_000);
    pageUrl = new URL(up.stdout().match(/^ {2}live page {2}(\S+)/m)?.[1] ?? 'http://missing.invalid/');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    killAllCliProcesses();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('is served on 127.0.0.1 with the API token that up prints', () => {
    // Assess
    const token = up.stdout().match(/^ {2}API token {2}(\S+)$/m)?.[1];
    expect(pageUrl.hostname).toBe('127.0.0.1');
    expect(pageUrl.searchParams.get('token')).toBe(token);
  });

  it('refuses the page and its data without the token', async () => {
    // Prepare
    const bare = new URL(pageUrl.pathname, pageUrl.origin);
    // Act
    const reply = await page.goto(bare.href);
    const data = await fetch(new URL('/api/live', bare));
    // Assess
    expect(reply?.status()).toBe(401);
    expect(await page.content()).not.toContain('live pipeline');
    expect(data.status).toBe(401);
  });

  it('shows the flow and follows generate without reloading', async () => {
    // Prepare
    await page.goto(pageUrl.href);
    await destinationShows(0, 30_000);
    const loadedAt = await page.evaluate(() => performance.timeOrigin);
    // Act
    const quiet = { out: () => undefined, err: () => undefined };
    const generated = await run(['generate', String(GENERATED.count), '--seed', String(GENERATED.seed), '--state-dir', stateDir], quiet);
    const image = buildChangeRecord({ eventName: 'INSERT', tableName: 'InsuranceClaims', keys: { claim_id: bad.claim_id }, newImage: bad, micros: Date.now() * 1000 }).dynamodb.NewImage;
    const client = new DynamoDBClient({ endpoint: readStackInfo(stateDir)?.endpoints.dynamodb, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    await client.send(new PutItemCommand({ TableName: 'InsuranceClaims', Item: image as unknown as Record<string, AttributeValue> })).finally(() => client.destroy());
    await destinationShows(GENERATED.count, 60_000);
    await page.locator('#quarantine td', { hasText: 'claim-schema' }).waitFor({ timeout: 30_000 });
    // Assess
    expect(generated).toBe(0);
    expect(await page.evaluate(() => performance.timeOrigin)).toBe(loadedAt);
    expect(await countOf('dynamodb')).toBe(String(GENERATED.count + 1));
    const statuses = await page.locator('#by-status td:first-child').allInnerTexts();
    expect(statuses.length).toBeGreaterThan(0);
    const counted = await page.locator('#by-status td:nth-child(2)').allInnerTexts();
    expect(counted.reduce((sum, n) => sum + Number(n.replace(/,/g, '')), 0)).toBe(GENERATED.count);
    const quarantined = await page.locator('#quarantine tr').allInnerTexts();
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0]).toMatch(/^claim-schema\s+1\s+[0-9a-z-]+$/);
    expect(await page.locator('#throughput polyline').count()).toBeGreaterThan(0);
  }, 120_000);

  it('shows no PHI of the claims anywhere: page, text or data', async () => {
    // Prepare
    const finder = phiFinder(phiValues([...generateClaims(GENERATED.count, GENERATED.seed), bad as unknown as Claim]));
    // Act
    const html = await page.content();
    const text = await page.locator('body').innerText();
    const data = await page.evaluate(async (token) => (await fetch('/api/live', { headers: { authorization: `Bearer ${token}` } })).text(), pageUrl.searchParams.get('token'));
    // Assess: the finder does find these claims' PHI where it is (so finding none below means something)
    expect(finder(JSON.stringify(generateClaims(GENERATED.count, GENERATED.seed))).length).toBeGreaterThan(GENERATED.count);
    expect(JSON.parse(data)).toMatchObject({ stages: expect.any(Array) });
    expect(finder(html).map((v) => v.path)).toEqual([]);
    expect(finder(text).map((v) => v.path)).toEqual([]);
    expect(finder(data).map((v) => v.path)).toEqual([]);
    expect(`${html}${data}`).not.toContain('Lost in the mail');
  });

  it('leaves a screenshot', async () => {
    // Act
    mkdirSync(OUTPUT_DIR, { recursive: true });
    const file = path.join(OUTPUT_DIR, 'live-page.png');
    await page.screenshot({ path: file, fullPage: true });
    if (process.env.CLAIMS_CDC_UPDATE_SCREENSHOT === '1') copyFileSync(file, path.join(REPO_ROOT, 'docs', 'live-page.png'));
    // Assess
    expect(existsSync(file)).toBe(true);
  });
});
