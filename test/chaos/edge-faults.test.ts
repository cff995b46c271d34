/**
 * The fault kinds of issue 11 in the chaos harness: how the workload places them, how the harness fails records
 * around the ledger, and that the checker tells the pre-fix outcome of each (a test double: the history that code
 * leaves behind) from the fixed one. The negative control against the real pre-fix ledger is
 * `issue-11-controls.test.ts` (deterministic) and `chaos-issue-11.test.ts` (two stacks, `npm run test:slow`).
 */
import { describe, expect, it } from 'vitest';
import { eventIdFor, type PaymentEvent } from '../../lambdas/shared/payments-model.js';
import { check, deadLetterReason, expectedOutcomes, type Observation } from '../../scripts/chaos/checker.js';
import { harnessFailures, wrapLedgerFunction, type LedgerFaultRegistry } from '../../scripts/chaos/ledger-faults.js';
import type { LocalRuntime } from '../../local/runtime.js';
import { buildChaosPlan } from '../../scripts/chaos/plans.js';
import { countActions, generateWorkload, type IntendedPayment } from '../../scripts/chaos/workload.js';

function payments(spec: Array<[string, number]>): IntendedPayment[] {
  const perAccount = new Map<string, number>();
  return spec.map(([accountId, amount], index) => {
    const accountIndex = perAccount.get(accountId) ?? 0;
    perAccount.set(accountId, accountIndex + 1);
    return { index, accountIndex, idempotencyKey: `edge-key-${index}`, paymentId: `pay_${index}`, request: { accountId, amount, currency: 'EUR' } };
  });
}

function event(p: IntendedPayment, eventType: PaymentEvent['eventType'], balance: number): PaymentEvent {
  return {
    eventId: eventIdFor(p.paymentId),
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

/** What the ledger leaves behind when it applies `order` (payments in the order it applied them), once each. */
function applied(order: IntendedPayment[]): Observation {
  const outboxEvents: PaymentEvent[] = [];
  const accounts = new Map<string, { accountId: string; balance: number; applied: number; rejected: number }>();
  for (const p of order) {
    const account = accounts.get(p.request.accountId) ?? { accountId: p.request.accountId, balance: 0, applied: 0, rejected: 0 };
    accounts.set(p.request.accountId, account);
    if (p.request.amount > 0 || account.balance + p.request.amount >= 0) {
      account.balance += p.request.amount;
      account.applied++;
      outboxEvents.push(event(p, 'PaymentApplied', account.balance));
    } else {
      account.rejected++;
      outboxEvents.push(event(p, 'PaymentRejected', account.balance));
    }
  }
  return {
    accounts: [...accounts.values()],
    outboxEvents,
    webhookCalls: outboxEvents.map((e) => ({ idempotencyKey: e.eventId, outcome: 'accepted', json: e })),
    deadLetters: [],
  };
}

const letter = (p: IntendedPayment, ledgerFailure?: { kind: string; reason?: string }) => ({
  queue: 'payments' as const,
  body: JSON.stringify({ ...p.request, paymentId: p.paymentId, idempotencyKey: p.idempotencyKey, requestedAt: '2026-01-01T00:00:00.000Z' }),
  ...(ledgerFailure ? { ledgerFailure } : {}),
});

// The scenario: p1 (+1000) then m2 (+50) on one account, and a second account that is left alone.
const [p1, m2, m3, other] = payments([
  ['acct', 1000],
  ['acct', 50],
  ['acct', -600],
  ['other', 10],
]) as [IntendedPayment, IntendedPayment, IntendedPayment, IntendedPayment];
const all = [p1, m2, m3, other];

describe('issue 11 faults: the checker against the pre-fix outcome (test double) and the fixed one', () => {
  it('fails version skew on the pre-fix code: p1 fenced and acknowledged after m2 applied, so p1 is lost', () => {
    // Prepare: m2 and m3 applied; p1's next receive is behind the fence and deleted as a "duplicate".
    const observed = applied([m2, m3, other]);
    // Act
    const report = check(all, observed);
    // Assess
    expect(report.ok).toBe(false);
    expect(report.lost).toBeGreaterThanOrEqual(3); // ledger, outbox and webhook each miss p1
    expect(report.findings.some((f) => f.kind === 'lost' && f.layer === 'outbox' && f.paymentId === p1.paymentId)).toBe(true);
  });

  it('passes version skew on the fixed code: p1 fenced without a marker goes to the DLQ and is redriven after m3', () => {
    // Prepare: the ledger dead-lettered p1 ("fenced"); the runner redrove it; it applied at the end of its group.
    const observed = { ...applied([m2, m3, other, p1]), deadLetters: [letter(p1, { kind: 'fenced', reason: 'SequenceNumber 5 is not above …' })] };
    // Act
    const report = check(all, observed, { redriven: [p1.paymentId] });
    // Assess: nothing lost, and the round trip is reported (m3 is now rejected: it came before the +1000).
    expect(report).toMatchObject({ ok: true, lost: 0, duplicated: 0, outOfOrder: 0, reorderedByRedrive: 1 });
    expect(report.decisionsChangedByRedrive).toBe(1);
    expect(deadLetterReason(observed.deadLetters[0]!)).toMatch(/^fenced without a marker/);
  });

  it('fails a payment on a foreign group on the pre-fix code: applied after its account\'s next payment, out of order', () => {
    // Prepare: m2 sent on another group after m3 was sent, applied behind it without any dead letter.
    const observed = applied([p1, m3, m2, other]);
    // Act
    const report = check(all, observed);
    // Assess
    expect(report.ok).toBe(false);
    expect(report.outOfOrder).toBeGreaterThan(0);
  });

  it('passes a payment on a foreign group on the fixed code: dead-lettered as poison, redriven on its account\'s group', () => {
    // Prepare
    const observed = {
      ...applied([p1, m3, other, m2]),
      deadLetters: [letter(m2, { kind: 'poison', reason: 'MessageGroupId (acct~producer-b) must equal accountId (acct)' })],
    };
    // Act
    const report = check(all, observed, { redriven: [m2.paymentId] });
    // Assess
    expect(report).toMatchObject({ ok: true, lost: 0, duplicated: 0, reorderedByRedrive: 1 });
    expect(deadLetterReason(observed.deadLetters[0]!)).toMatch(/MessageGroupId is not the account/);
  });

  it('fails an expired-but-present marker redriven late on the pre-fix code: the payment applied twice', () => {
    // Prepare: p1 re-applied by the late redrive (the expired outbox item was replaced under the same event id).
    const once = applied([p1, m2, m3, other]);
    const observed: Observation = {
      ...once,
      accounts: once.accounts.map((a) => (a.accountId === 'acct' ? { ...a, balance: a.balance + 1000, applied: a.applied + 1 } : a)),
    };
    // Act
    const report = check(all, observed);
    // Assess
    expect(report.ok).toBe(false);
    expect(report.duplicated).toBe(1);
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'duplicated', layer: 'ledger', accountId: 'acct' }));
  });

  it('passes an expired-but-present marker redriven late on the fixed code: a duplicate, nothing applied again', () => {
    expect(check(all, applied(all))).toMatchObject({ ok: true, lost: 0, duplicated: 0 });
  });

  it('reports a DLQ round trip of a blocked group: applied after newer payments, decisions that changed', () => {
    // Prepare: p1 blocked its group until p1 and m2 dead-lettered together; m3 applied (rejected: no funds yet);
    // p1 and m2 were redriven. Strict FIFO order would have applied m3.
    const observed = applied([m3, other, p1, m2]);
    // Act
    const report = check(all, observed, { redriven: [p1.paymentId, m2.paymentId] });
    const strict = expectedOutcomes(all).outcomes.get(m3.paymentId);
    // Assess
    expect(strict?.eventType).toBe('PaymentApplied');
    expect(report).toMatchObject({ ok: true, reorderedByRedrive: 2, decisionsChangedByRedrive: 1 });
    // Without the redrive exception the same history is out of order: the round trip really reorders.
    expect(check(all, observed).ok).toBe(false);
  });
});

describe('issue 11 faults: placement in the workload', () => {
  const plan = buildChaosPlan(['version-skew', 'group-not-account', 'expired-marker', 'dlq-round-trip'], 5);
  const workload = generateWorkload({ messages: 120, seed: 5, injections: plan.injections });

  it('selects each kind on payments that can show it, distinct per kind', () => {
    const byId = new Map(workload.payments.map((p) => [p.paymentId, p]));
    const lastIndex = (account: string) => Math.max(...workload.payments.filter((p) => p.request.accountId === account).map((p) => p.accountIndex));
    expect(workload.versionSkew.length).toBeGreaterThan(0);
    expect(workload.blockedHeads).toHaveLength(1);
    for (const id of workload.versionSkew) {
      const p = byId.get(id)!;
      expect(lastIndex(p.request.accountId)).toBeGreaterThan(p.accountIndex);
    }
    const head = byId.get(workload.blockedHeads[0]!)!;
    expect(lastIndex(head.request.accountId) - head.accountIndex).toBeGreaterThanOrEqual(2);
    const counts = countActions(workload);
    expect(counts['send-wrong-group']).toBeGreaterThan(0);
    expect(counts['expire-marker']).toBeGreaterThan(0);
    const ids = [...workload.versionSkew, ...workload.blockedHeads, ...workload.actions.concat(workload.afterIdle)
      .filter((a) => a.kind === 'send-wrong-group' || a.kind === 'expire-marker')
      .map((a) => ('payment' in a ? a.payment.paymentId : ''))];
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('sends a wrong-group payment once, right after its account\'s next payment', () => {
    for (const [at, action] of workload.actions.entries()) {
      if (action.kind !== 'send-wrong-group') continue;
      const { paymentId, accountIndex, request } = action.payment;
      expect(workload.actions.filter((a) => a.kind === 'send' && a.payment.paymentId === paymentId)).toHaveLength(0);
      const previous = workload.actions[at - 1]!;
      expect(previous).toMatchObject({ kind: 'send', payment: { accountIndex: accountIndex + 1, request: { accountId: request.accountId } } });
    }
  });

  it('keeps the workload of the other kinds unchanged for a seed (the new draws come last)', () => {
    const before = generateWorkload({ messages: 120, seed: 5, injections: buildChaosPlan(['zombie'], 5).injections });
    const after = generateWorkload({ messages: 120, seed: 5, injections: { ...buildChaosPlan(['zombie'], 5).injections, versionSkew: 0.05 } });
    expect(after.payments).toEqual(before.payments);
    expect(after.actions).toEqual(before.actions);
  });
});

describe('issue 11 faults: records the harness fails around the ledger', () => {
  const registry = (): LedgerFaultRegistry => ({
    versionSkew: new Set(['pay_a1']),
    blockedHeads: new Set(['pay_b1']),
    fired: { versionSkew: 0, versionSkewHeld: 0, blockedReceives: 0 },
  });
  const record = (paymentId: string, group: string, receiveCount = 1, dedup = `d-${paymentId}`) => ({
    messageId: `m-${paymentId}`,
    body: JSON.stringify({ paymentId }),
    attributes: { MessageGroupId: group, ApproximateReceiveCount: String(receiveCount), MessageDeduplicationId: dedup },
  });

  it('version skew: fails the payment, not the rest, when a later message of its group shares the batch; then lets go', () => {
    const r = registry();
    const failed = harnessFailures([record('pay_a1', 'A'), record('pay_x', 'X'), record('pay_a2', 'A')], r, 5);
    expect([...failed]).toEqual(['m-pay_a1']);
    expect(r.fired.versionSkew).toBe(1);
    // The next receive reaches the current build.
    expect(harnessFailures([record('pay_a1', 'A', 2), record('pay_a2', 'A', 2)], r, 5).size).toBe(0);
  });

  it('version skew: holds the payment alone in its group until maxReceiveCount − 2 receives, never a redriven copy', () => {
    const r = registry();
    expect([...harnessFailures([record('pay_a1', 'A', 1), record('pay_x', 'X')], r, 5)]).toEqual(['m-pay_a1']);
    expect(harnessFailures([record('pay_a1', 'A', 1, 'redrive-1'), record('pay_a2', 'A')], r, 5).size).toBe(0);
    expect([...harnessFailures([record('pay_a1', 'A', 3)], r, 5)]).toEqual(['m-pay_a1']);
    expect(harnessFailures([record('pay_a1', 'A', 4)], r, 5).size).toBe(0);
    expect(harnessFailures([record('pay_a1', 'A', 5), record('pay_a2', 'A')], r, 5).size).toBe(0);
    expect(r.fired).toMatchObject({ versionSkew: 0, versionSkewHeld: 2 });
  });

  it('blocked group: fails the head and every later message of its group (S10) up to maxReceiveCount, then lets go', () => {
    const r = registry();
    const batch = (count: number) => [record('pay_b0', 'B', count), record('pay_b1', 'B', count), record('pay_x', 'X'), record('pay_b2', 'B', count)];
    expect([...harnessFailures(batch(5), r, 5)].sort()).toEqual(['m-pay_b1', 'm-pay_b2']);
    expect(harnessFailures(batch(6), r, 5).size).toBe(0);
    expect(r.fired.blockedReceives).toBe(1);
  });

  /** The ledger behind the payments queue, as a fake port: answers with the ids `respond` picks as failed. */
  function fakeLedger(respond: (records: { messageId: string }[]) => string[]) {
    const seen: string[][] = [];
    const fn = {
      functionName: 'ledger',
      invoke: async (event: { Records: { messageId: string }[] }) => {
        seen.push(event.Records.map((r) => r.messageId));
        return { ok: true, payload: { batchItemFailures: respond(event.Records).map((id) => ({ itemIdentifier: id })) }, timedOut: false, durationMs: 1, requestId: 'r' };
      },
    };
    const runtime = {
      functions: new Map([['Ledger', fn]]),
      mappingStats: () => [{ functionName: 'ledger', eventSourceArn: 'arn:aws:sqs:us-east-1:000000000000:payments.fifo' }],
    } as unknown as LocalRuntime;
    return { fn, seen, registry: wrapLedgerFunction(runtime, 'payments.fifo', 5) };
  }

  it('wrapper: hides the skewed record from the ledger and merges it into the partial batch response', async () => {
    const { fn, seen, registry } = fakeLedger(() => []);
    registry.versionSkew.add('pay_a1');
    const result = await fn.invoke({ Records: [record('pay_a1', 'A'), record('pay_a2', 'A')] });
    expect(seen).toEqual([['m-pay_a2']]);
    expect(result.payload).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-pay_a1' }] });
    expect(registry.fired.versionSkew).toBe(1);
    expect(registry.versionSkew.has('pay_a1')).toBe(false);
  });

  it('wrapper: keeps the skew pending when the ledger failed the later messages of the group too', async () => {
    const { fn, registry } = fakeLedger((records) => records.map((r) => r.messageId));
    registry.versionSkew.add('pay_a1');
    const result = await fn.invoke({ Records: [record('pay_a1', 'A'), record('pay_a2', 'A')] });
    expect(result.payload).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-pay_a1' }, { itemIdentifier: 'm-pay_a2' }] });
    expect(registry.fired.versionSkew).toBe(0);
    expect(registry.versionSkew.has('pay_a1')).toBe(true);
  });
});
