import { afterEach, describe, expect, it } from 'vitest';
import { signatureHeader } from '../../lambdas/notifier/signing.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/webhook-receiver.js';
import { newWebhookSecret } from '../fixtures/secrets.js';

/** The receiver's Standard Webhooks verification: what a partner's endpoint must do, checked on ours. */
describe('webhook receiver: signature verification (Standard Webhooks)', () => {
  let receiver: WebhookReceiver | undefined;
  afterEach(async () => {
    await receiver?.stop();
    receiver = undefined;
  });

  const secret = newWebhookSecret();
  /** The receiver's clock: fixed, so the tolerance is tested without waiting. */
  const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);

  const send = (options: { id: string; body: string; timestampMs?: number; keys?: readonly string[]; signature?: string }) => {
    const timestamp = new Date(options.timestampMs ?? NOW);
    const signature = options.signature ?? signatureHeader(options.keys ?? [secret], options.id, timestamp, options.body);
    return fetch(receiver!.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': options.id,
        'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
        'webhook-signature': signature,
      },
      body: options.body,
    });
  };

  it('accepts a delivery signed with the secret and records it as verified', async () => {
    receiver = await startWebhookReceiver({ secret, now: () => NOW });
    const answer = await send({ id: 'evt_ok', body: '{"n":1}' });
    expect(answer.status).toBe(200);
    expect(receiver.calls()[0]).toMatchObject({ webhookId: 'evt_ok', verified: true, outcome: 'accepted' });
  });

  it('rejects a signature made with another key with 401 and does not count it as a delivery', async () => {
    receiver = await startWebhookReceiver({ secret, now: () => NOW });
    const answer = await send({ id: 'evt_forged', body: '{"n":1}', keys: [newWebhookSecret()] });
    expect(answer.status).toBe(401);
    expect(await answer.json()).toEqual({ message: 'signature rejected: no signature matches the signing secret' });
    expect(receiver.calls()[0]).toMatchObject({ verified: false, outcome: 'rejected' });
    expect(receiver.uniqueDeliveries()).toEqual([]);
  });

  it('rejects a body changed after signing', async () => {
    receiver = await startWebhookReceiver({ secret, now: () => NOW });
    const signature = signatureHeader([secret], 'evt_tampered', new Date(NOW), '{"amount":1}');
    const answer = await send({ id: 'evt_tampered', body: '{"amount":1000}', signature });
    expect(answer.status).toBe(401);
  });

  it('rejects a timestamp outside the tolerance, old or in the future, and accepts one at its edge', async () => {
    receiver = await startWebhookReceiver({ secret, now: () => NOW, toleranceSeconds: 300 });
    const old = await send({ id: 'evt_old', body: '{}', timestampMs: NOW - 301_000 });
    const future = await send({ id: 'evt_future', body: '{}', timestampMs: NOW + 301_000 });
    const edge = await send({ id: 'evt_edge', body: '{}', timestampMs: NOW - 300_000 });
    expect([old.status, future.status, edge.status]).toEqual([401, 401, 200]);
    expect(receiver.calls()[0]!.rejection).toBe('webhook-timestamp is 301 s old, outside the 300 s tolerance');
    expect(receiver.calls()[1]!.rejection).toBe('webhook-timestamp is 301 s in the future, outside the 300 s tolerance');
  });

  it('rejects a call without the signature headers', async () => {
    receiver = await startWebhookReceiver({ secret, now: () => NOW });
    const answer = await fetch(receiver.url, { method: 'POST', body: '{}', headers: { 'idempotency-key': 'evt_unsigned' } });
    expect(answer.status).toBe(401);
    expect(receiver.calls()[0]!.rejection).toMatch(/missing webhook-id/);
  });

  it('verifies during a rotation: a header with the new and the old signature passes a receiver holding either key', async () => {
    const next = newWebhookSecret();
    for (const held of [secret, next]) {
      receiver = await startWebhookReceiver({ secret: held, now: () => NOW });
      expect((await send({ id: 'evt_rot', body: '{}', keys: [next, secret] })).status).toBe(200);
      await receiver.stop();
    }
    receiver = await startWebhookReceiver({ secret: newWebhookSecret(), now: () => NOW });
    expect((await send({ id: 'evt_rot', body: '{}', keys: [next, secret] })).status).toBe(401);
  });

  it('dedups by webhook-id: a repeat is answered 200, reported as a duplicate, and counted once', async () => {
    const lines: string[] = [];
    receiver = await startWebhookReceiver({ secret, now: () => NOW, onCall: (call, { duplicate }) => lines.push(`${call.webhookId} ${duplicate}`) });
    await send({ id: 'evt_same', body: '{}' });
    const repeat = await send({ id: 'evt_same', body: '{}' });
    expect(repeat.status).toBe(200);
    expect(lines).toEqual(['evt_same false', 'evt_same true']);
    expect(receiver.uniqueDeliveries().map((c) => c.webhookId)).toEqual(['evt_same']);
  });
});
