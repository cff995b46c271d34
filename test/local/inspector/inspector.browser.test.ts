import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../../lambdas/shared/env.js';
import { PaymentsApiClient } from '../../../local/api-client.js';
import { freePort } from '../../../local/emulators.js';
import { startLocalRuntime, type LocalRuntime } from '../../../local/runtime.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../../local/webhook-receiver.js';

// The inspector page end to end, in a real headless browser (Debian's chromium driven by playwright-core): open the
// page, send a duplicate payment through the signed API, search its Idempotency-Key, see one applied hop (the
// ledger's commit) and one deduplicated hop (the API's replay). The screenshot is the README's (docs/inspector.png,
// written with UPDATE_SCREENSHOT=1).

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
// The README's screenshot is refreshed on demand (`UPDATE_SCREENSHOT=1`), so a test run leaves the checkout clean;
// otherwise the page is still captured, under .local/.
const SCREENSHOT = process.env.UPDATE_SCREENSHOT
  ? join(import.meta.dirname, '../../../docs/inspector.png')
  : join(import.meta.dirname, '../../../.local/inspector.png');
const hasChromium = existsSync(CHROMIUM);

if (!hasChromium && !process.env.CI) {
  console.warn(`inspector browser test skipped: ${CHROMIUM} is missing (install it with: apt-get install -y chromium). CI installs it and runs this test.`);
}

describe.skipIf(!hasChromium && !process.env.CI)('inspector page in a headless browser', () => {
  let receiver: WebhookReceiver;
  let runtime: LocalRuntime;
  let context: BrowserContext;
  let userDataDir: string;

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`${CHROMIUM} is missing: CI must install it (apt-get install -y chromium) so this test runs`);
    receiver = await startWebhookReceiver({ port: 0 });
    runtime = await startLocalRuntime({
      // A fixed context keeps the synthesized assembly reusable between runs; the receiver's URL goes in the env.
      context: { webhookUrl: 'http://127.0.0.1:9/inspector-test' },
      functionEnv: { [ENV.WEBHOOK_URL]: receiver.url },
      ports: { api: await freePort(), dynamodb: await freePort(), sqs: await freePort() },
      inspectorPort: 0,
      quiet: true,
      outDir: '.local/inspector-test',
    });
    userDataDir = mkdtempSync(join(tmpdir(), 'inspector-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport: { width: 1200, height: 900 } });
  }, 600_000);

  afterAll(async () => {
    await context?.close().catch(() => {});
    await runtime?.stop();
    await receiver?.stop();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  }, 120_000);

  it('finds a duplicate payment by its Idempotency-Key: one applied hop, one deduplicated hop', async () => {
    // Prepare
    const page = await context.newPage();
    await page.goto(runtime.inspectorUrl);
    await expect.poll(() => page.locator('#functions tbody tr').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    const apiUrl = Object.values(runtime.outputs)[0]!.ApiUrl!;
    const api = new PaymentsApiClient({ apiUrl, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const key = `inspector-${Date.now()}`;
    const body = { accountId: `acct-inspector-${Date.now()}`, amount: 1250, currency: 'EUR', reference: 'inspector test' };

    // Act: the same request twice (a client retry), then the pipeline drains.
    const first = await api.createPayment({ idempotencyKey: key, body });
    const retry = await api.createPayment({ idempotencyKey: key, body });
    await runtime.waitForIdle({ timeoutMs: 120_000 });
    await page.fill('#key', key);
    await page.click('#search button');
    await page.locator('li.hop').first().waitFor({ timeout: 10_000 });

    // Assess
    expect([first.status, retry.status]).toEqual([202, 202]);
    expect(retry.headers['idempotency-replayed']).toBe('true');
    const verdicts = await page.locator('li.hop').evaluateAll((items) => items.map((item) => item.getAttribute('data-verdict')));
    expect(verdicts.filter((v) => v === 'applied')).toHaveLength(1);
    expect(verdicts.filter((v) => v === 'deduplicated')).toHaveLength(1);
    expect(verdicts).toContain('accepted');
    expect(verdicts).toContain('delivered');
    await expect.poll(() => page.locator('.card[data-layer=api] b').textContent(), { timeout: 5_000 }).toBe('1');
    const dedupHop = page.locator('li.hop[data-verdict=deduplicated]');
    expect(await dedupHop.textContent()).toMatch(/Idempotent replay.*replayed and nothing is sent again/);
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  }, 240_000);
});
