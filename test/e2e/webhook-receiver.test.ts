import { afterEach, describe, expect, it } from 'vitest';
import { startWebhookReceiver, WebhookBehaviourError, WebhookWaitTimeoutError, type WebhookReceiver } from '../../local/webhook-receiver.js';

/** The receiver is test infrastructure other suites trust: its failure modes must do exactly what they say. */
describe('webhook receiver', () => {
  let receiver: WebhookReceiver | undefined;
  afterEach(async () => {
    await receiver?.stop();
    receiver = undefined;
  });

  const post = (key: string | undefined, body: unknown, signal?: AbortSignal) =>
    fetch(receiver!.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
      body: JSON.stringify(body),
      signal,
    });

  it('records every call and counts unique deliveries by Idempotency-Key', async () => {
    // Prepare
    receiver = await startWebhookReceiver();
    // Act
    const answers = [await post('evt_a', { n: 1 }), await post('evt_b', { n: 2 }), await post('evt_a', { n: 1 })];
    // Assess
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(receiver.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/webhook$/);
    expect(receiver.calls()).toHaveLength(3);
    expect(receiver.calls()[0]).toMatchObject({ seq: 1, method: 'POST', path: '/webhook', idempotencyKey: 'evt_a', json: { n: 1 } });
    expect(receiver.calls()[0]!.headers['content-type']).toBe('application/json');
    expect(receiver.uniqueDeliveries().map((c) => c.idempotencyKey)).toEqual(['evt_a', 'evt_b']);
    expect([...receiver.duplicateDeliveries()]).toEqual([['evt_a', 2]]);
  });

  it('fails listed keys with the configured 5xx until failAttempts is used up, and does not count them as deliveries', async () => {
    // Prepare
    receiver = await startWebhookReceiver({ behaviour: { failKeys: ['evt_x'], failStatus: 502, failAttempts: 2 } });
    // Act
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await post('evt_x', {})).status);
    const other = await post('evt_y', {});
    // Assess
    expect(statuses).toEqual([502, 502, 200]);
    expect(other.status).toBe(200);
    expect(receiver.calls().map((c) => c.outcome)).toEqual(['failed', 'failed', 'accepted', 'accepted']);
    expect(receiver.uniqueDeliveries()).toHaveLength(2);
    expect(receiver.duplicateDeliveries().size).toBe(0);
  });

  it('fails a seeded fraction of calls, each key at most once by default', async () => {
    // Prepare
    receiver = await startWebhookReceiver({ behaviour: { failFraction: 0.5, seed: 7 } });
    // Act
    const first = await Promise.all(Array.from({ length: 20 }, (_, i) => post(`evt_${i}`, {}).then((r) => r.status)));
    const failedKeys = receiver.calls().filter((c) => c.outcome === 'failed').map((c) => c.idempotencyKey!);
    const retried = await Promise.all(failedKeys.map((key) => post(key, {}).then((r) => r.status)));
    // Assess
    expect(first.filter((s) => s === 503).length).toBeGreaterThan(0);
    expect(first.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(retried.every((s) => s === 200)).toBe(true);
    expect(receiver.uniqueDeliveries()).toHaveLength(20);
  });

  it('holds a hung key until the client gives up, records it as hung, then accepts the retry', async () => {
    // Prepare
    receiver = await startWebhookReceiver({ behaviour: { hangKeys: ['evt_h'], hangMs: 60_000 } });
    // Act
    const hung = await post('evt_h', {}, AbortSignal.timeout(200)).catch((error: unknown) => error);
    await receiver.waitFor((r) => r.calls()[0]?.respondedAt !== undefined, { timeoutMs: 5_000 });
    const retry = await post('evt_h', {});
    // Assess
    expect(hung).toBeInstanceOf(Error);
    expect(retry.status).toBe(200);
    expect(receiver.calls().map((c) => c.outcome)).toEqual(['hung', 'accepted']);
    expect(receiver.uniqueDeliveries()).toHaveLength(1);
  });

  it('answers a held call late with 200 when the client is still waiting', async () => {
    // Prepare
    receiver = await startWebhookReceiver({ behaviour: { hangFraction: 1, hangMs: 150 } });
    // Act
    const answer = await post('evt_slow', {});
    // Assess
    expect(answer.status).toBe(200);
    const [call] = receiver.calls();
    expect(call!.outcome).toBe('accepted');
    expect(call!.respondedAt! - call!.receivedAt).toBeGreaterThanOrEqual(100);
  });

  it('listens on a free port when the preferred one is taken and fallbackToFreePort is set', async () => {
    // Prepare
    receiver = await startWebhookReceiver();
    // Act
    const second = await startWebhookReceiver({ port: receiver.port, fallbackToFreePort: true });
    await second.stop();
    // Assess
    expect(second.port).not.toBe(receiver.port);
    await expect(startWebhookReceiver({ port: receiver.port })).rejects.toThrow(/EADDRINUSE/);
  });

  it('rejects a fraction outside 0-1 and a non-5xx failStatus, naming the value', async () => {
    // Prepare / Act / Assess
    await expect(startWebhookReceiver({ behaviour: { failFraction: 1.5 } })).rejects.toThrow(WebhookBehaviourError);
    await expect(startWebhookReceiver({ behaviour: { failFraction: 1.5 } })).rejects.toThrow(/failFraction \(1\.5\)/);
    receiver = await startWebhookReceiver();
    expect(() => receiver!.setBehaviour({ failStatus: 404 })).toThrow(/failStatus \(404\)/);
  });

  it('fails waitFor with a timeout error when the condition never holds', async () => {
    // Prepare
    receiver = await startWebhookReceiver();
    // Act / Assess
    await expect(receiver.waitFor((r) => r.calls().length > 0, { timeoutMs: 150 })).rejects.toThrow(WebhookWaitTimeoutError);
  });

  it('resolves waitFor as soon as a call satisfies the condition, and reset forgets the calls', async () => {
    // Prepare
    receiver = await startWebhookReceiver();
    const waiting = receiver.waitFor((r) => r.uniqueDeliveries().length === 2, { timeoutMs: 5_000 });
    // Act
    await post('evt_1', {});
    await post('evt_2', {});
    await waiting;
    receiver.reset();
    // Assess
    expect(receiver.calls()).toHaveLength(0);
  });
});
