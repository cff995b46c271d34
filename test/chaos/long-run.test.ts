import { describe, expect, it } from 'vitest';
import { check } from '../../scripts/chaos/checker.js';
import { inApplyOrder, ledgerOnly } from '../../scripts/chaos/long-run.js';
import { generateWorkload, queueMessageFor } from '../../scripts/chaos/workload.js';
import { parseDelivery } from '../../lambdas/ledger/consumer.js';
import { paymentIdFor } from '../../lambdas/shared/payments-model.js';
import type { SQSRecord } from 'aws-lambda';

const workload = generateWorkload({ messages: 12, seed: 5, accounts: 2, injections: { poisonFifo: 0, poisonStandard: 0 } });

describe('long run checks', () => {
  it('judges the ledger and the outbox only: no webhook in the run is not a loss', () => {
    // Prepare: a perfect ledger and outbox (the expected state), no webhook calls at all.
    const full = check(workload.payments, { accounts: [], outboxEvents: [], webhookCalls: [], deadLetters: [] });
    const expected = full.expectedAccounts.map((a) => ({ ...a }));
    const perfect = check(workload.payments, { accounts: expected, outboxEvents: [], webhookCalls: [], deadLetters: [] });
    // Act / Assess: the outbox is empty, so lost events are still reported; webhook losses are not.
    const report = ledgerOnly(perfect);
    expect(report.layers.map((l) => l.layer)).toEqual(['ledger effects', 'outbox events']);
    expect(report.findings.some((f) => f.layer === 'webhook')).toBe(false);
    expect(report.lost).toBe(workload.payments.length);
    expect(report.ok).toBe(false);
  });

  it('places a payment redriven at a checkpoint after its group’s earlier payments and before later ones', () => {
    // Prepare: the first payment of account 0 was redriven at checkpoint 6 (after payments 0–5 were drained).
    const first = workload.payments[0]!;
    const ordered = inApplyOrder(workload.payments, new Map([[first.paymentId, 6]]));
    const group = ordered.filter((p) => p.request.accountId === first.request.accountId).sort((a, b) => a.accountIndex - b.accountIndex);
    // Assess: it comes after every payment of its group with index < 6 and before every one with index ≥ 6.
    const at = group.findIndex((p) => p.paymentId === first.paymentId);
    expect(group.slice(0, at).every((p) => p.index < 6)).toBe(true);
    expect(group.slice(at + 1).every((p) => p.index >= 6)).toBe(true);
    expect(at).toBe(group.filter((p) => p.index < 6).length - 1);
  });

  it('sends payments the ledger accepts: every queue message parses and names the payment id its key derives', () => {
    // Prepare: the message the long run and the chaos runner put straight onto the queue for each payment.
    const record = (body: unknown, group: string): SQSRecord => ({ messageId: 'm', body: JSON.stringify(body), attributes: { MessageGroupId: group } }) as unknown as SQSRecord;
    // The rule the atomic strategy enforces before applying (otherwise the message is poison).
    const derivesItsPaymentId = (m: { paymentId: string; idempotencyKey: string }) => m.paymentId === paymentIdFor(m.idempotencyKey);
    // Act / Assess: none is poison (a drift here made every record of a 100,000-payment run fail)...
    for (const payment of workload.payments) {
      const message = queueMessageFor(payment);
      expect(() => parseDelivery(record(message, payment.request.accountId))).not.toThrow();
      expect(derivesItsPaymentId(message)).toBe(true);
    }
    // ...while the shape the long run sent before (the key without its caller scope) breaks the rule.
    const first = workload.payments[0]!;
    expect(derivesItsPaymentId({ ...queueMessageFor(first), idempotencyKey: first.idempotencyKey })).toBe(false);
  });
});
