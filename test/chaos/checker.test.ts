import { describe, expect, it } from 'vitest';
import { eventIdFor, type PaymentEvent } from '../../lambdas/shared/payments-model.js';
import { check, deadLetterReason, expectedOutcomes, paymentsToRedrive, type Observation } from '../../scripts/chaos/checker.js';
import { countActions, generateWorkload, type IntendedPayment } from '../../scripts/chaos/workload.js';

/** A hand-made history: payments on two accounts, given as [account, amount] in FIFO order. */
function payments(spec: Array<[string, number]>): IntendedPayment[] {
  const perAccount = new Map<string, number>();
  return spec.map(([accountId, amount], index) => {
    const accountIndex = perAccount.get(accountId) ?? 0;
    perAccount.set(accountId, accountIndex + 1);
    const idempotencyKey = `checker-key-${index}`;
    return {
      index,
      accountIndex,
      idempotencyKey,
      paymentId: `pay_${index}`,
      request: { accountId, amount, currency: 'EUR' },
    };
  });
}

function event(p: IntendedPayment, eventType: PaymentEvent['eventType'], balance: number, eventId = eventIdFor(p.paymentId)): PaymentEvent {
  return {
    eventId,
    eventType,
    paymentId: p.paymentId,
    idempotencyKey: p.idempotencyKey,
    accountId: p.request.accountId,
    amount: p.request.amount,
    currency: 'EUR',
    balance,
    occurredAt: '2026-01-01T00:00:00.000Z',
  };
}

/** What a perfect pipeline leaves behind for `list`. */
function perfect(list: IntendedPayment[]): Observation & { outboxEvents: PaymentEvent[] } {
  const { outcomes, accounts } = expectedOutcomes(list);
  const outboxEvents = [...outcomes.values()].map((o) => event(o.payment, o.eventType, o.balance));
  return {
    accounts: [...accounts.values()],
    outboxEvents,
    webhookCalls: outboxEvents.map((e) => ({ idempotencyKey: e.eventId, outcome: 'accepted', json: e })),
    deadLetters: [],
  };
}

const history = payments([
  ['a', 100],
  ['b', 50],
  ['a', -30],
  ['a', -500], // overdraws: rejected
  ['b', 20],
  ['a', 10],
]);

describe('expectedOutcomes', () => {
  it('replays each account in FIFO order with the overdraft rule', () => {
    const { outcomes, accounts } = expectedOutcomes(history);
    expect(accounts.get('a')).toEqual({ accountId: 'a', balance: 80, applied: 3, rejected: 1 });
    expect(accounts.get('b')).toEqual({ accountId: 'b', balance: 70, applied: 2, rejected: 0 });
    expect(outcomes.get('pay_3')).toMatchObject({ eventType: 'PaymentRejected', balance: 70 });
  });
});

describe('check', () => {
  it('passes a perfect history', () => {
    const report = check(history, perfect(history));
    expect(report).toMatchObject({ ok: true, lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0 });
    expect(report.findings).toEqual([]);
  });

  it('fails a history that lost a payment: effect, event and delivery', () => {
    // Prepare: payment 4 (b +20) never happened.
    const observed = perfect(history);
    const lostEvent = observed.outboxEvents.find((e) => e.paymentId === 'pay_4')!;
    const damaged: Observation = {
      accounts: observed.accounts.map((a) => (a.accountId === 'b' ? { ...a, balance: 50, applied: 1 } : a)),
      outboxEvents: observed.outboxEvents.filter((e) => e !== lostEvent),
      webhookCalls: observed.webhookCalls.filter((c) => c.idempotencyKey !== lostEvent.eventId),
      deadLetters: [],
    };
    // Act
    const report = check(history, damaged);
    // Assess
    expect(report.ok).toBe(false);
    expect(report.lost).toBe(3);
    expect(report.layers.map((l) => l.lost)).toEqual([1, 1, 1]);
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'lost', layer: 'outbox', paymentId: 'pay_4' }));
  });

  it('fails a history that applied a payment twice under two event ids (at-least-once)', () => {
    // Prepare: payment 1 (b +50) applied twice; the second effect has its own event and delivery.
    const observed = perfect(history);
    const p1 = history[1]!;
    const second = event(p1, 'PaymentApplied', 120, 'evt_second');
    const damaged: Observation = {
      accounts: observed.accounts.map((a) => (a.accountId === 'b' ? { ...a, balance: 120, applied: 3 } : a)),
      outboxEvents: [...observed.outboxEvents, second],
      webhookCalls: [...observed.webhookCalls, { idempotencyKey: 'evt_second', outcome: 'accepted', json: second }],
      deadLetters: [],
    };
    // Act
    const report = check(history, damaged);
    // Assess
    expect(report.ok).toBe(false);
    expect(report.layers.map((l) => l.duplicated)).toEqual([1, 1, 1]);
    expect(report.duplicated).toBe(3);
  });

  it('fails a history that applied a payment twice under ONE event id (Powertools window)', () => {
    // Prepare: the effect ran twice, the outbox item was overwritten, the webhook saw one event.
    const observed = perfect(history);
    const damaged: Observation = {
      ...observed,
      accounts: observed.accounts.map((a) => (a.accountId === 'a' ? { ...a, balance: 180, applied: 4 } : a)),
    };
    // Act
    const report = check(history, damaged);
    // Assess
    expect(report.ok).toBe(false);
    expect(report.layers[0]).toMatchObject({ layer: 'ledger effects', duplicated: 1 });
    expect(report.duplicated).toBe(1);
  });

  it('reports a webhook re-delivery under the same Idempotency-Key apart from duplicated effects', () => {
    // The receiver dedups by key: a second call with a key it accepted is a re-delivery, not a second effect.
    const observed = perfect(history);
    const again = observed.webhookCalls[2]!;
    const report = check(history, { ...observed, webhookCalls: [...observed.webhookCalls, again, again] });
    expect(report.redeliveredSameKey).toBe(2);
    expect(report.layers[2]).toMatchObject({ layer: 'webhook deliveries', observed: 6, duplicated: 0, lost: 0 });
  });

  it('ignores failed and hung webhook calls: only accepted calls are deliveries', () => {
    const observed = perfect(history);
    const retried = observed.webhookCalls.flatMap((c) => [{ ...c, outcome: 'failed' }, { ...c, outcome: 'hung' }, c]);
    const report = check(history, { ...observed, webhookCalls: retried });
    expect(report.ok).toBe(true);
  });

  it('fails a history whose account applied two payments out of FIFO order', () => {
    // Prepare: a's -30 applied before its +100 would be rejected; here the debit of 500 ran before the -30 instead.
    const reordered = payments([
      ['a', 100],
      ['b', 50],
      ['a', -500],
      ['a', -30],
      ['b', 20],
      ['a', 10],
    ]);
    // The ledger applied the intended payments in the order of `reordered` (same payment ids, positions swapped).
    const swapped = perfect(reordered);
    // Act
    const report = check(history, swapped);
    // Assess: same counts and final balance, but the events carry the balances of another order.
    expect(report.ok).toBe(false);
    expect(report.lost).toBe(0);
    expect(report.duplicated).toBe(0);
    expect(report.outOfOrder).toBeGreaterThan(0);
    expect(report.findings.filter((f) => f.kind === 'out-of-order').map((f) => f.paymentId)).toEqual(
      expect.arrayContaining(['pay_2', 'pay_3']),
    );
  });

  it('reports dead letters with their reason, and parks a valid payment that ran out of retries (not ok while it is parked)', () => {
    // Prepare: payment 5 (a +10) sits in the payments DLQ without an effect; one poison message beside it.
    const observed = perfect(history.slice(0, 5));
    const p5 = history[5]!;
    const message = { ...p5.request, paymentId: p5.paymentId, idempotencyKey: p5.idempotencyKey, requestedAt: '2026-01-01T00:00:00.000Z' };
    const deadLetters = [
      { queue: 'payments' as const, body: JSON.stringify(message) },
      { queue: 'payments' as const, body: '{"poison":1' },
      { queue: 'events' as const, body: '{"eventId":"x"}' },
    ];
    // Act
    const report = check(history, { ...observed, deadLetters });
    // Assess: nothing lost or doubled, but pay_5 has shown no effect: the verdict waits for its redrive.
    expect(report.lost + report.duplicated + report.outOfOrder + report.unexpected).toBe(0);
    expect(report.parked).toEqual(['pay_5']);
    expect(report.ok).toBe(false);
    expect(report.deadLettered).toEqual(
      expect.arrayContaining([
        { queue: 'payments', reason: 'valid message: retries exhausted (maxReceiveCount)', count: 1 },
        { queue: 'payments', reason: 'poison: body is not JSON', count: 1 },
        expect.objectContaining({ queue: 'events', reason: expect.stringMatching(/^poison: /) }),
      ]),
    );
  });

  it('expects a redriven payment at the end of its group', () => {
    // Prepare: pay_2 (a -30) was dead-lettered, redriven, and applied after the rest of account a.
    const reordered = payments([
      ['a', 100],
      ['b', 50],
      ['a', -500],
      ['b', 20],
      ['a', 10],
      ['a', -30],
    ]);
    const ids = ['pay_0', 'pay_1', 'pay_3', 'pay_4', 'pay_5', 'pay_2'];
    const observed = perfect(reordered.map((p, i) => ({ ...p, paymentId: ids[i]! })));
    // Act
    const strict = check(history, observed);
    const withRedrive = check(history, observed, { redriven: ['pay_2'] });
    // Assess
    expect(strict.outOfOrder).toBeGreaterThan(0);
    expect(withRedrive).toMatchObject({ ok: true, redriven: ['pay_2'] });
  });

  it('keeps redriven payments in redrive order when a payment was redriven in several rounds', () => {
    // Prepare: pay_1 (b +50) was redriven in four rounds (dead-lettered again each time), then pay_5 (a +10) and
    // pay_2 (a -30) were redriven in that order and applied so: account a ends with 100, -500 rejected, +10, -30.
    const applied = payments([
      ['a', 100],
      ['a', -500],
      ['b', 20],
      ['a', 10],
      ['a', -30],
      ['b', 50],
    ]);
    const ids = ['pay_0', 'pay_3', 'pay_4', 'pay_5', 'pay_2', 'pay_1'];
    const observed = perfect(applied.map((p, i) => ({ ...p, paymentId: ids[i]! })));
    // Act: the redrive list names pay_1 once per round.
    const report = check(history, observed, { redriven: ['pay_1', 'pay_1', 'pay_1', 'pay_1', 'pay_5', 'pay_2'] });
    // Assess: pay_5 before pay_2, as redriven; no finding.
    expect(report.findings).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('redrives one copy of each payment without effect, in DLQ order', () => {
    // Prepare: pay_5 dead-lettered twice (its original and a re-send beyond the dedup window), pay_0 already applied,
    // pay_9 never sent, one poison body.
    const body = (p: IntendedPayment) => JSON.stringify({ ...p.request, paymentId: p.paymentId, idempotencyKey: p.idempotencyKey, requestedAt: '2026-01-01T00:00:00.000Z' });
    const [p0, , p2, , , p5] = history;
    const stranger = { ...p2!, paymentId: 'pay_9' };
    const letters = [body(p5!), body(p0!), '{"poison":1', body(stranger), body(p2!), body(p5!)];
    // Act
    const redrive = paymentsToRedrive(letters, new Set(history.map((p) => p.paymentId)), new Set(['pay_0']));
    // Assess
    expect(redrive.map((m) => m.paymentId)).toEqual(['pay_5', 'pay_2']);
  });

  it('classifies dead letters', () => {
    expect(deadLetterReason({ queue: 'events', body: 'nope' })).toBe('poison: body is not JSON');
    expect(deadLetterReason({ queue: 'relay-failure', body: '{}' })).toMatch(/on-failure destination/);
  });
});

describe('generateWorkload', () => {
  it('is reproducible for a seed and mixes in every injection', () => {
    const a = generateWorkload({ messages: 60, seed: 7 });
    const b = generateWorkload({ messages: 60, seed: 7 });
    expect(b).toEqual(a);
    const counts = countActions(a);
    expect(counts.send).toBe(60);
    expect(counts['poison-fifo']).toBe(1);
    expect(counts['poison-standard']).toBe(1);
    for (const kind of ['api-retry', 'resend-in-window', 'resend-beyond-window', 'event-twice'] as const) {
      expect(counts[kind]).toBeGreaterThan(0);
    }
  });

  it('starts every account with a credit and includes overdrafts', () => {
    const w = generateWorkload({ messages: 200, seed: 3 });
    for (const p of w.payments.filter((p) => p.accountIndex === 0)) expect(p.request.amount).toBeGreaterThan(0);
    const rejected = [...expectedOutcomes(w.payments).outcomes.values()].filter((o) => o.eventType === 'PaymentRejected');
    expect(rejected.length).toBeGreaterThan(0);
  });
});
