import { describe, expect, it } from 'vitest';
import {
  buildBenchScenario,
  buildDemoScenario,
  compareLoyalty,
  comparePipeline,
  compareResponses,
  expectedOutcome,
  formatRows,
  latencyBreakdown,
  percentile,
  pickStackOutputs,
  LOYALTY_SECTIONS,
  type ObservedLoyalty,
  type ObservedState,
  type StepResult,
} from '../../local/demo.js';
import { startWebhookReceiver } from '../../local/webhook-receiver.js';
import { eventIdFor, IDEMPOTENCY_KEY_PATTERN, paymentIdFor, PaymentRequestSchema, type PaymentEvent } from '../../lambdas/shared/payments-model.js';
import { localScopedKey } from '../../local/api-client.js';
import { loyaltyEventIdFor, type LoyaltyPointsAwarded } from '../../lambdas/loyalty/events.js';

/**
 * The demo exits 0 only when its comparison finds nothing wrong, so the expected-outcome model and the comparison
 * must be right — and must be able to fail.
 */
describe('demo scenario and expected outcome', () => {
  const runId = 'run-test-1';
  const scenario = buildDemoScenario(runId);
  const expected = expectedOutcome(scenario);
  const account = (name: string) => expected.accounts.find((a) => a.accountId === `${runId}-${name}`);

  it('computes balances and counts by the ledger rules (overdraft and currency mismatch are rejections)', () => {
    // Assess: hand-computed from the scenario
    expect(account('alice')).toEqual({ accountId: `${runId}-alice`, currency: 'EUR', balance: 7_500, applied: 2, rejected: 1 });
    expect(account('bob')).toEqual({ accountId: `${runId}-bob`, currency: 'USD', balance: 50, applied: 4, rejected: 0 });
    expect(account('carol')).toEqual({ accountId: `${runId}-carol`, currency: 'GBP', balance: 3_200, applied: 2, rejected: 1 });
  });

  it('expects one event per unique payment with a stable id, and none for retries, conflicts or malformed requests', () => {
    expect(expected.events).toHaveLength(10);
    expect(new Set(expected.events.map((e) => e.eventId)).size).toBe(10);
    const overdraft = expected.events.find((e) => e.idempotencyKey.endsWith('alice-car'))!;
    expect(overdraft).toMatchObject({ eventType: 'PaymentRejected', reason: 'INSUFFICIENT_FUNDS', balance: 7_500, amount: -9_000 });
    expect(overdraft.eventId).toBe(eventIdFor(paymentIdFor(localScopedKey(`${runId}:alice-car`))));
    expect(expected.events.find((e) => e.idempotencyKey.endsWith('carol-in-usd'))).toMatchObject({ reason: 'CURRENCY_MISMATCH', balance: 3_200 });
  });

  it('uses keys the API accepts and bodies that are valid exactly when a 2xx is expected', () => {
    scenario.forEach((step, i) => {
      if (step.idempotencyKey) expect(step.idempotencyKey).toMatch(IDEMPOTENCY_KEY_PATTERN);
      if (step.kind === 'payment' || step.kind === 'duplicate') expect(PaymentRequestSchema.safeParse(step.body).success).toBe(true);
      expect(expected.statuses[i]).toBe({ payment: 202, duplicate: 202, conflict: 422, malformed: 400 }[step.kind]);
    });
    expect(scenario.filter((s) => s.kind === 'malformed').length).toBeGreaterThanOrEqual(5);
  });

  it('expects loyalty points once per applied credit of 100 minor units or more, and one downstream award per such credit', () => {
    // Assess: hand-computed — alice 10,000 → 100 (the rent debit and the rejected car earn nothing); bob 5,000 → 50
    // (the 50 credit earns 0 points: no award); carol 2,500 + 700 → 25 + 7 (the USD payment was rejected)
    const loyalty = (name: string) => expected.loyalty.find((l) => l.accountId === `${runId}-${name}`);
    expect(loyalty('alice')).toEqual({ accountId: `${runId}-alice`, points: 100, awards: 1 });
    expect(loyalty('bob')).toEqual({ accountId: `${runId}-bob`, points: 50, awards: 1 });
    expect(loyalty('carol')).toEqual({ accountId: `${runId}-carol`, points: 32, awards: 2 });
    const salary = eventIdFor(paymentIdFor(localScopedKey(`${runId}:alice-salary`)));
    expect(expected.awards).toHaveLength(4);
    expect(expected.awards[0]).toEqual({ eventId: loyaltyEventIdFor(salary), paymentEventId: salary, accountId: `${runId}-alice`, points: 100 });
    expect(expected.awards.map((a) => a.points)).toEqual([100, 50, 25, 7]);
  });

  it('throws when a scenario would reject a payment to an account that does not exist yet', () => {
    expect(() =>
      expectedOutcome([{ label: 'first debit', kind: 'payment', idempotencyKey: 'key-00001', body: { accountId: 'x', amount: -1, currency: 'EUR' } }]),
    ).toThrow(/open accounts with a credit/);
  });

  it('builds bench lanes of credits, one lane per account, in order', () => {
    const lanes = buildBenchScenario('bench-x', 10, 3);
    expect(lanes.map((l) => l.length)).toEqual([4, 3, 3]);
    expect(lanes[0]!.map((s) => (s.body as { amount: number }).amount)).toEqual([100, 103, 106, 109]);
  });
});

describe('demo comparison', () => {
  const runId = 'run-test-2';
  const scenario = buildDemoScenario(runId);
  const expected = expectedOutcome(scenario);

  /** The state a correct pipeline leaves: exactly what the model says. */
  function perfectState(): ObservedState {
    const events: PaymentEvent[] = expected.events.map((e) => ({ ...e, occurredAt: '2026-01-01T00:00:00.000Z' }));
    return {
      accounts: new Map(expected.accounts.map((a) => [a.accountId, { status: 200, view: { ...a } }])),
      outboxEvents: events,
      delivered: events.map((event) => ({ idempotencyKey: event.eventId, event })),
      acceptedPerKey: new Map(events.map((e) => [e.eventId, 1])),
      rawWebhookCalls: events.length,
      deadLetters: { PaymentsDlqUrl: 0, EventsDlqUrl: 0, RelayFailureQueueUrl: 0 },
    };
  }

  it('finds nothing wrong in a state that matches the model', () => {
    const rows = comparePipeline(perfectState(), expected);
    expect(rows.filter((r) => !r.ok)).toEqual([]);
    expect(formatRows(rows)).toContain('✔');
  });

  it('fails on a wrong balance, naming the account and both values', () => {
    // Prepare
    const state = perfectState();
    const bob = `${runId}-bob`;
    (state.accounts as Map<string, { status: number; view?: Record<string, unknown> }>).get(bob)!.view!.balance = 100;
    // Act
    const failed = comparePipeline(state, expected).filter((r) => !r.ok);
    // Assess
    expect(failed).toEqual([expect.objectContaining({ what: `${bob} balance`, expected: '50', actual: '100' })]);
  });

  it('fails on a duplicated and on a missing outbox event', () => {
    const duplicated = perfectState();
    (duplicated.outboxEvents as PaymentEvent[]).push(duplicated.outboxEvents[0]!);
    expect(comparePipeline(duplicated, expected).filter((r) => !r.ok).map((r) => r.actual)).toContain('2 copies');

    const missing = perfectState();
    (missing.outboxEvents as PaymentEvent[]).pop();
    expect(comparePipeline(missing, expected).some((r) => !r.ok && r.actual === 'missing')).toBe(true);
  });

  it('fails when an event was accepted twice by the webhook or carried the wrong Idempotency-Key', () => {
    const twice = perfectState();
    (twice.acceptedPerKey as Map<string, number>).set(expected.events[3]!.eventId, 2);
    expect(comparePipeline(twice, expected).find((r) => r.what === 'events accepted more than once')!.ok).toBe(false);

    const wrongKey = perfectState();
    (wrongKey.delivered as { idempotencyKey?: string }[])[0]!.idempotencyKey = 'something-else';
    expect(comparePipeline(wrongKey, expected).find((r) => r.what === 'Idempotency-Key header = eventId')!.ok).toBe(false);
  });

  it('fails when a dead-letter queue holds a message, and on an event of the wrong type', () => {
    const state = { ...perfectState(), deadLetters: { PaymentsDlqUrl: 1 } };
    expect(comparePipeline(state, expected).find((r) => r.section === 'Dead letters')!.ok).toBe(false);

    const wrongType = perfectState();
    const events = wrongType.outboxEvents as PaymentEvent[];
    events[0] = { ...events[0]!, eventType: 'PaymentRejected' };
    expect(comparePipeline(wrongType, expected).filter((r) => !r.ok).length).toBeGreaterThan(0);
  });

  /** The loyalty consumer's state a correct pipeline leaves. */
  function perfectLoyalty(): ObservedLoyalty {
    return {
      points: new Map(expected.loyalty.map((l) => [l.accountId, l.awards === 0 ? undefined : { points: l.points, awards: l.awards }])),
      downstream: expected.awards.map((a): LoyaltyPointsAwarded => ({ ...a, eventType: 'LoyaltyPointsAwarded', occurredAt: '2026-01-01T00:00:00.000Z' })),
      invalid: [],
      deadLetters: { LoyaltyDlqUrl: 0, LoyaltyEventsDlqUrl: 0 },
    };
  }

  it('finds nothing wrong in the loyalty consumer\'s state when it matches the model, and reports it in its own sections', () => {
    const rows = comparePipeline({ ...perfectState(), loyalty: perfectLoyalty() }, expected);
    expect(rows.filter((r) => !r.ok)).toEqual([]);
    expect(rows.filter((r) => r.section === LOYALTY_SECTIONS.points)).toHaveLength(expected.loyalty.length * 2);
    expect(rows.filter((r) => r.section === LOYALTY_SECTIONS.events)).toHaveLength(1 + expected.awards.length);
    expect(rows.filter((r) => r.section === 'Dead letters').map((r) => r.what)).toContain('LoyaltyEventsDlqUrl messages');
  });

  it('fails when points were awarded twice, naming the account and both figures', () => {
    // Prepare: alice's salary applied twice by the loyalty consumer
    const loyalty = perfectLoyalty();
    const alice = `${runId}-alice`;
    (loyalty.points as Map<string, { points: number; awards: number }>).set(alice, { points: 200, awards: 2 });
    // Act
    const failed = compareLoyalty(loyalty, expected).filter((r) => !r.ok);
    // Assess
    expect(failed.map((r) => [r.what, r.expected, r.actual])).toEqual([
      [`${alice} points`, '100', '200'],
      [`${alice} awards`, '1', '2'],
    ]);
  });

  it('fails on an award that arrived downstream twice, on a missing one and on an unexpected or invalid message', () => {
    const twice = perfectLoyalty();
    (twice.downstream as LoyaltyPointsAwarded[]).push(twice.downstream[0]!);
    expect(compareLoyalty(twice, expected).filter((r) => !r.ok).map((r) => r.actual)).toEqual(['5', '2 copies']);

    const missing = perfectLoyalty();
    (missing.downstream as LoyaltyPointsAwarded[]).pop();
    expect(compareLoyalty(missing, expected).filter((r) => !r.ok).map((r) => r.actual)).toEqual(['3', 'missing']);

    const foreign = perfectLoyalty();
    (foreign.downstream as LoyaltyPointsAwarded[]).splice(0, 1, { ...foreign.downstream[0]!, eventId: 'evt_loyalty_other' });
    (foreign.invalid as string[]).push('{"eventType":"Nope"}');
    const rows = compareLoyalty(foreign, expected).filter((r) => !r.ok);
    expect(rows.map((r) => r.actual)).toEqual(['missing', 'evt_loyalty_other, invalid: {"eventType":"Nope"}']);
  });

  it('fails when the loyalty queue\'s DLQ holds a message, and on a wrong points figure in an award', () => {
    const dlq = { ...perfectLoyalty(), deadLetters: { LoyaltyDlqUrl: 1, LoyaltyEventsDlqUrl: 0 } };
    expect(comparePipeline({ ...perfectState(), loyalty: dlq }, expected).filter((r) => !r.ok).map((r) => r.what)).toEqual(['LoyaltyDlqUrl messages']);

    const wrong = perfectLoyalty();
    (wrong.downstream as LoyaltyPointsAwarded[])[1] = { ...wrong.downstream[1]!, points: 51 };
    expect(compareLoyalty(wrong, expected).filter((r) => !r.ok).map((r) => r.actual)).toEqual([expect.stringMatching(/^51 points ← bob-deposit$/)]);
  });

  it('fails a retried request whose answer differs from the first one, and a wrong status', () => {
    // Prepare: answers as a correct API gives them
    const results: StepResult[] = scenario.map((step, i) => ({
      step,
      sentAt: 0,
      response: {
        status: expected.statuses[i]!,
        headers: {},
        text: '',
        durationMs: 1,
        body: step.idempotencyKey && expected.statuses[i] === 202 ? { paymentId: paymentIdFor(localScopedKey(step.idempotencyKey)), status: 'ACCEPTED' } : { message: 'no' },
      },
    }));
    expect(compareResponses(results, expected).filter((r) => !r.ok)).toEqual([]);
    // Act: the retry answers another body, a malformed request gets a 202
    const retry = scenario.findIndex((s) => s.kind === 'duplicate');
    const malformed = scenario.findIndex((s) => s.kind === 'malformed');
    results[retry] = { ...results[retry]!, response: { ...results[retry]!.response, body: { paymentId: 'other', status: 'ACCEPTED' } } };
    results[malformed] = { ...results[malformed]!, response: { ...results[malformed]!.response, status: 202 } };
    // Assess
    const failed = compareResponses(results, expected).filter((r) => !r.ok);
    expect(failed.map((r) => r.what)).toEqual([`${scenario[retry]!.label}: same body as first answer`, scenario[malformed]!.label]);
  });
});

describe('helpers', () => {
  it('computes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('splits each payment\'s latency into API, request-to-ledger and ledger-to-webhook, and counts the missing ones', async () => {
    // Prepare: two payments, one delivered to a real receiver
    const receiver = await startWebhookReceiver();
    try {
      const steps = buildBenchScenario('lat-test', 2, 1)[0]!;
      const sentAt = Date.now() - 1_000;
      const results: StepResult[] = steps.map((step) => ({ step, sentAt, response: { status: 202, headers: {}, text: '', body: undefined, durationMs: 100 } }));
      const eventId = eventIdFor(paymentIdFor(localScopedKey(steps[0]!.idempotencyKey!)));
      await fetch(receiver.url, {
        method: 'POST',
        headers: { 'idempotency-key': eventId },
        body: JSON.stringify({ eventId, occurredAt: new Date(sentAt + 400).toISOString() }),
      });
      // Act
      const latency = latencyBreakdown(results, receiver);
      // Assess
      expect(latency.missing).toBe(1);
      expect(latency.api).toEqual([100, 100]);
      expect(latency.toLedger).toEqual([400]);
      expect(latency.total[0]).toBeGreaterThanOrEqual(1_000);
      expect(latency.toWebhook[0]).toBe(latency.total[0]! - 400);
    } finally {
      await receiver.stop();
    }
  });

  it('picks the stack with an ApiUrl from an outputs file, and rejects an ambiguous one', () => {
    expect(pickStackOutputs({ Other: { X: '1' }, 'ExactlyOncePayments-dev': { ApiUrl: 'http://a/' } })).toEqual({ ApiUrl: 'http://a/' });
    expect(() => pickStackOutputs({ A: { ApiUrl: 'x' }, B: { ApiUrl: 'y' } })).toThrow(/exactly one stack/);
    expect(pickStackOutputs({ A: { ApiUrl: 'x' }, B: { ApiUrl: 'y' } }, 'B')).toEqual({ ApiUrl: 'y' });
  });
});
