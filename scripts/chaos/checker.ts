import { PaymentEventSchema, PaymentMessageSchema, type PaymentEvent, type PaymentMessage } from '../../lambdas/shared/payments-model.js';
import type { IntendedPayment } from './workload.js';

/**
 * The exactly-once checker: from the intended payments (unique, in per-account FIFO order) it computes what must
 * have happened, and compares it with what did, layer by layer. It knows nothing about AWS: the runner collects the
 * observations (ledger scan, webhook receiver, DLQs) and hands them in, so hand-made histories test it too.
 */

/** An account item as scanned from the ledger. */
export interface ObservedAccount {
  readonly accountId: string;
  readonly balance: number;
  readonly applied: number;
  readonly rejected: number;
}

/** A call the webhook receiver recorded (the receiver's own shape, reduced to what the checker reads). */
export interface ObservedWebhookCall {
  readonly idempotencyKey?: string;
  /** `accepted` calls are deliveries; `failed` / `hung` ones were retried by the sender. */
  readonly outcome?: string;
  readonly json?: unknown;
}

/** A message read back from a dead-letter queue. */
export interface ObservedDeadLetter {
  readonly queue: 'payments' | 'events' | 'relay-failure';
  readonly body: string;
  /** Set when the consumer dead-lettered the message itself: its kind (`poison`, `fenced`) and reason attributes. */
  readonly ledgerFailure?: { readonly kind: string; readonly reason?: string };
}

/** Everything observed at the end of a run. */
export interface Observation {
  readonly accounts: readonly ObservedAccount[];
  /** Every outbox event in the ledger table (parsed `event` attributes). */
  readonly outboxEvents: readonly PaymentEvent[];
  readonly webhookCalls: readonly ObservedWebhookCall[];
  readonly deadLetters: readonly ObservedDeadLetter[];
}

/** What one intended payment should have produced. */
export interface ExpectedOutcome {
  readonly payment: IntendedPayment;
  readonly eventType: PaymentEvent['eventType'];
  /** Balance after the payment (unchanged for a rejection). */
  readonly balance: number;
}

/** Expected state of one account. */
export interface ExpectedAccount {
  readonly accountId: string;
  readonly balance: number;
  readonly applied: number;
  readonly rejected: number;
}

export type FindingKind = 'lost' | 'duplicated' | 'out-of-order' | 'unexpected';
export type CheckLayer = 'ledger' | 'outbox' | 'webhook';

/** One discrepancy. */
export interface Finding {
  readonly kind: FindingKind;
  readonly layer: CheckLayer;
  readonly accountId?: string;
  readonly paymentId?: string;
  readonly count: number;
  readonly detail: string;
}

/** Per-layer comparison row of the summary table. */
export interface LayerRow {
  readonly layer: string;
  readonly expected: number;
  readonly observed: number;
  readonly lost: number;
  readonly duplicated: number;
}

/** Dead-lettered messages grouped by queue and reason. */
export interface DeadLetterRow {
  readonly queue: ObservedDeadLetter['queue'];
  readonly reason: string;
  readonly count: number;
}

/** The checker's verdict. */
export interface CheckReport {
  /**
   * True when nothing was lost, duplicated or reordered, and no valid payment is still parked in the payments DLQ: a
   * parked payment has shown no effect, so a run that ends with one (or with all of them) proves nothing about it.
   */
  readonly ok: boolean;
  readonly lost: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
  readonly unexpected: number;
  readonly layers: readonly LayerRow[];
  readonly findings: readonly Finding[];
  readonly deadLettered: readonly DeadLetterRow[];
  /**
   * Valid payments that still sit in the payments DLQ without an effect at the end (their retries ran out): not lost —
   * `npm run redrive` brings them back — but left out of the expected state, and the verdict is not ok while any is
   * left. The chaos runner and the long run redrive them first.
   */
  readonly parked: readonly string[];
  /** Payments dead-lettered without effect, then redriven and checked at the end of their group. */
  readonly redriven: readonly string[];
  /**
   * Redriven payments that a newer payment of their account overtook (a DLQ round trip: order per account does not
   * hold across it; the expectation above already places them at the end of their group).
   */
  readonly reorderedByRedrive: number;
  /** Payments whose outcome (applied or rejected) differs from what strict FIFO order would have decided. */
  readonly decisionsChangedByRedrive: number;
  /**
   * Webhook calls accepted for an Idempotency-Key that was already accepted: re-deliveries the receiver dedups by
   * key (the notifier's crash-after-call window). Not counted as duplicated effects; `webhook deliveries` counts
   * unique keys, and a payment delivered under two different keys as duplicated.
   */
  readonly redeliveredSameKey: number;
  readonly expectedAccounts: readonly ExpectedAccount[];
}

/**
 * Replays the intended payments in per-account order with the ledger's business rules: a credit always applies; a
 * debit applies only if the account exists and the balance covers it, else it is rejected (recorded, balance kept).
 */
export function expectedOutcomes(payments: readonly IntendedPayment[]): {
  outcomes: Map<string, ExpectedOutcome>;
  accounts: Map<string, ExpectedAccount>;
} {
  const ordered = [...payments].sort(
    (a, b) => a.request.accountId.localeCompare(b.request.accountId) || a.accountIndex - b.accountIndex,
  );
  const outcomes = new Map<string, ExpectedOutcome>();
  const accounts = new Map<string, { accountId: string; balance: number; applied: number; rejected: number }>();
  for (const payment of ordered) {
    const { accountId, amount } = payment.request;
    let account = accounts.get(accountId);
    const covered = amount > 0 || (account !== undefined && account.balance + amount >= 0);
    account ??= { accountId, balance: 0, applied: 0, rejected: 0 };
    accounts.set(accountId, account);
    if (covered) {
      account.balance += amount;
      account.applied++;
    } else {
      account.rejected++;
    }
    outcomes.set(payment.paymentId, {
      payment,
      eventType: covered ? 'PaymentApplied' : 'PaymentRejected',
      balance: account.balance,
    });
  }
  return { outcomes, accounts };
}

/** Why a dead-lettered message is there, read from its body. */
export function deadLetterReason(letter: ObservedDeadLetter): string {
  if (letter.ledgerFailure) {
    const { kind, reason = '' } = letter.ledgerFailure;
    if (kind === 'fenced') return 'fenced without a marker: dead-lettered by the ledger at once (a later payment overtook it)';
    if (/MessageGroupId/.test(reason)) return 'poison: MessageGroupId is not the account (dead-lettered by the ledger at once)';
  }
  let json: unknown;
  try {
    json = JSON.parse(letter.body);
  } catch {
    return 'poison: body is not JSON';
  }
  const schema = letter.queue === 'payments' ? PaymentMessageSchema : letter.queue === 'events' ? PaymentEventSchema : null;
  if (schema === null) return 'stream batch failed after its retries (on-failure destination)';
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `poison: ${issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'schema violation'}`;
  }
  return letter.ledgerFailure
    ? `valid here, ${letter.ledgerFailure.kind} for the ledger: dead-lettered by the ledger at once`
    : 'valid message: retries exhausted (maxReceiveCount)';
}

/** Compares the observation with the intended payments. */
export function check(
  payments: readonly IntendedPayment[],
  observed: Observation,
  options: {
    /**
     * Payments that were dead-lettered without effect and then redriven onto the queue, in redrive order: they were
     * applied after the rest of their group, so the expectation moves them to the end of it.
     */
    readonly redriven?: readonly string[];
  } = {},
): CheckReport {
  const findings: Finding[] = [];
  const intended = new Map(payments.map((p) => [p.paymentId, p]));

  const eventsByPayment = new Map<string, PaymentEvent[]>();
  for (const event of observed.outboxEvents) {
    if (!intended.has(event.paymentId)) {
      findings.push({
        kind: 'unexpected',
        layer: 'outbox',
        accountId: event.accountId,
        paymentId: event.paymentId,
        count: 1,
        detail: `outbox event ${event.eventId} for a payment nobody sent`,
      });
      continue;
    }
    const list = eventsByPayment.get(event.paymentId) ?? [];
    list.push(event);
    eventsByPayment.set(event.paymentId, list);
  }

  // Valid payments parked in the payments DLQ with no effect are excluded from the expectation (see `parked`).
  const parked: string[] = [];
  for (const letter of observed.deadLetters) {
    if (letter.queue !== 'payments') continue;
    const parsed = safeJson(letter.body);
    const message = PaymentMessageSchema.safeParse(parsed);
    if (message.success && intended.has(message.data.paymentId) && !eventsByPayment.has(message.data.paymentId)) {
      parked.push(message.data.paymentId);
    }
  }
  const parkedSet = new Set(parked);
  // A payment redriven in several rounds (dead-lettered again in between) counts at its last redrive. Positions are
  // ranks among the redriven payments, after every payment sent: an index into a list with repeats would go past
  // MAX_SAFE_INTEGER, where neighbouring positions round to the same number and the order is lost.
  const lastRedrive = new Map((options.redriven ?? []).map((id, i) => [id, i]));
  const redrivenAt = new Map([...lastRedrive.entries()].sort((x, y) => x[1] - y[1]).map(([id], rank) => [id, rank]));
  const live = payments
    .filter((p) => !parkedSet.has(p.paymentId))
    .map((p) => {
      const at = redrivenAt.get(p.paymentId);
      return at === undefined ? p : { ...p, accountIndex: Number.MAX_SAFE_INTEGER - redrivenAt.size + at };
    });
  const expected = expectedOutcomes(live);
  // What strict FIFO order (no DLQ round trip) would have decided, to report what the round trips changed.
  const strict = expectedOutcomes(payments.filter((p) => !parkedSet.has(p.paymentId)));
  let decisionsChangedByRedrive = 0;
  for (const [id, outcome] of expected.outcomes) if (strict.outcomes.get(id)?.eventType !== outcome.eventType) decisionsChangedByRedrive++;
  const lastOfAccount = new Map<string, number>();
  for (const p of payments) {
    if (redrivenAt.has(p.paymentId)) continue;
    lastOfAccount.set(p.request.accountId, Math.max(lastOfAccount.get(p.request.accountId) ?? -1, p.accountIndex));
  }
  const reorderedByRedrive = payments.filter(
    (p) => redrivenAt.has(p.paymentId) && (lastOfAccount.get(p.request.accountId) ?? -1) > p.accountIndex,
  ).length;

  // Ledger effects, per account: counts and balance.
  const observedAccounts = new Map(observed.accounts.map((a) => [a.accountId, a]));
  let ledgerLost = 0;
  let ledgerDuplicated = 0;
  let ledgerObserved = 0;
  const disturbed = new Set<string>();
  for (const account of expected.accounts.values()) {
    const seen = observedAccounts.get(account.accountId) ?? { balance: 0, applied: 0, rejected: 0 };
    const want = account.applied + account.rejected;
    const got = seen.applied + seen.rejected;
    ledgerObserved += got;
    if (got < want) {
      ledgerLost += want - got;
      disturbed.add(account.accountId);
      findings.push({
        kind: 'lost',
        layer: 'ledger',
        accountId: account.accountId,
        count: want - got,
        detail: `expected ${account.applied} applied + ${account.rejected} rejected, found ${seen.applied} + ${seen.rejected}`,
      });
    } else if (got > want || seen.applied > account.applied) {
      const extra = Math.max(got - want, seen.applied - account.applied);
      ledgerDuplicated += extra;
      disturbed.add(account.accountId);
      findings.push({
        kind: 'duplicated',
        layer: 'ledger',
        accountId: account.accountId,
        count: extra,
        detail: `expected ${account.applied} applied + ${account.rejected} rejected, found ${seen.applied} + ${seen.rejected}`,
      });
    }
    if (seen.balance !== account.balance && !disturbed.has(account.accountId)) {
      disturbed.add(account.accountId);
      findings.push({
        kind: 'out-of-order',
        layer: 'ledger',
        accountId: account.accountId,
        count: 1,
        detail: `balance ${seen.balance}, expected ${account.balance} with the same number of payments`,
      });
    }
  }
  for (const account of observed.accounts) {
    if (!expected.accounts.has(account.accountId) && account.applied + account.rejected > 0) {
      findings.push({
        kind: 'unexpected',
        layer: 'ledger',
        accountId: account.accountId,
        count: account.applied + account.rejected,
        detail: 'account with payments the workload never sent',
      });
    }
  }

  // Outbox: one event per intended payment, with the outcome and balance FIFO order implies.
  let outboxLost = 0;
  let outboxDuplicated = 0;
  let outOfOrder = 0;
  for (const outcome of expected.outcomes.values()) {
    const { paymentId, request } = outcome.payment;
    const events = eventsByPayment.get(paymentId) ?? [];
    if (events.length === 0) {
      outboxLost++;
      findings.push({ kind: 'lost', layer: 'outbox', accountId: request.accountId, paymentId, count: 1, detail: 'no outbox event' });
      continue;
    }
    if (events.length > 1) {
      outboxDuplicated += events.length - 1;
      findings.push({
        kind: 'duplicated',
        layer: 'outbox',
        accountId: request.accountId,
        paymentId,
        count: events.length - 1,
        detail: `${events.length} outbox events (${events.map((e) => e.eventId).join(', ')})`,
      });
      continue;
    }
    const event = events[0]!;
    if (event.eventType !== outcome.eventType || event.balance !== outcome.balance) {
      if (!disturbed.has(request.accountId)) outOfOrder++;
      findings.push({
        kind: disturbed.has(request.accountId) ? 'unexpected' : 'out-of-order',
        layer: 'outbox',
        accountId: request.accountId,
        paymentId,
        count: 1,
        detail:
          `${event.eventType} with balance ${event.balance}, expected ${outcome.eventType} with balance ${outcome.balance} ` +
          `(position ${outcome.payment.accountIndex} in its group)` +
          (disturbed.has(request.accountId) ? ': follows from a lost or duplicated effect on this account' : ''),
      });
    }
  }
  outOfOrder += findings.filter((f) => f.kind === 'out-of-order' && f.layer === 'ledger').length;

  // Webhook: deliveries are accepted calls. Unique by Idempotency-Key, and one per intended payment.
  const accepted = observed.webhookCalls.filter((c) => c.outcome === 'accepted');
  const byKey = new Map<string, number>();
  const keysByPayment = new Map<string, Set<string>>();
  for (const call of accepted) {
    const key = call.idempotencyKey ?? '';
    byKey.set(key, (byKey.get(key) ?? 0) + 1);
    const paymentId = (call.json as { paymentId?: unknown } | undefined)?.paymentId;
    if (typeof paymentId !== 'string' || !intended.has(paymentId)) {
      findings.push({ kind: 'unexpected', layer: 'webhook', count: 1, detail: `delivery ${key} for no intended payment` });
      continue;
    }
    const keys = keysByPayment.get(paymentId) ?? new Set<string>();
    keys.add(key);
    keysByPayment.set(paymentId, keys);
  }
  // The same Idempotency-Key accepted again is a re-delivery the receiver must dedup (that is what the header is for);
  // it is the known window of an effect outside AWS (a crash after the call, before the record completes). Reported,
  // not counted as a duplicated effect; a payment delivered under two DIFFERENT keys is.
  let redeliveredSameKey = 0;
  for (const count of byKey.values()) if (count > 1) redeliveredSameKey += count - 1;
  let webhookDuplicated = 0;
  let webhookLost = 0;
  for (const outcome of expected.outcomes.values()) {
    const { paymentId, request } = outcome.payment;
    const keys = keysByPayment.get(paymentId);
    if (!keys) {
      webhookLost++;
      findings.push({ kind: 'lost', layer: 'webhook', accountId: request.accountId, paymentId, count: 1, detail: 'never delivered' });
    } else if (keys.size > 1) {
      webhookDuplicated += keys.size - 1;
      findings.push({
        kind: 'duplicated',
        layer: 'webhook',
        accountId: request.accountId,
        paymentId,
        count: keys.size - 1,
        detail: `delivered under ${keys.size} event ids`,
      });
    }
  }

  const deadLettered = new Map<string, DeadLetterRow>();
  for (const letter of observed.deadLetters) {
    const reason = deadLetterReason(letter);
    const id = `${letter.queue}|${reason}`;
    const row = deadLettered.get(id);
    deadLettered.set(id, { queue: letter.queue, reason, count: (row?.count ?? 0) + 1 });
  }

  const expectedCount = expected.outcomes.size;
  const layers: LayerRow[] = [
    { layer: 'ledger effects', expected: expectedCount, observed: ledgerObserved, lost: ledgerLost, duplicated: ledgerDuplicated },
    {
      layer: 'outbox events',
      expected: expectedCount,
      observed: [...eventsByPayment.values()].reduce((n, l) => n + l.length, 0),
      lost: outboxLost,
      duplicated: outboxDuplicated,
    },
    {
      layer: 'webhook deliveries',
      expected: expectedCount,
      observed: byKey.size,
      lost: webhookLost,
      duplicated: webhookDuplicated,
    },
  ];
  const lost = ledgerLost + outboxLost + webhookLost;
  const duplicated = ledgerDuplicated + outboxDuplicated + webhookDuplicated;
  const unexpected = findings.filter((f) => f.kind === 'unexpected' && !f.detail.includes('follows from')).length;
  return {
    ok: lost === 0 && duplicated === 0 && outOfOrder === 0 && unexpected === 0 && parked.length === 0,
    lost,
    duplicated,
    outOfOrder,
    unexpected,
    layers,
    findings,
    deadLettered: [...deadLettered.values()],
    parked,
    redriven: [...redrivenAt.keys()],
    reorderedByRedrive,
    decisionsChangedByRedrive,
    redeliveredSameKey,
    expectedAccounts: [...expected.accounts.values()],
  };
}

/**
 * What to redrive from the payments DLQ, as an operator would: the valid messages of payments that were sent and have
 * no effect yet, one per payment (a payment dead-lettered twice — a re-send beyond the dedup window beside its
 * original — is redriven once: the first copy applies, the second would only be a duplicate), in DLQ order.
 */
export function paymentsToRedrive(bodies: readonly string[], intended: ReadonlySet<string>, applied: ReadonlySet<string>): PaymentMessage[] {
  const seen = new Set<string>();
  return bodies.flatMap((body) => {
    const message = PaymentMessageSchema.safeParse(safeJson(body));
    if (!message.success) return [];
    const { paymentId } = message.data;
    if (!intended.has(paymentId) || applied.has(paymentId) || seen.has(paymentId)) return [];
    seen.add(paymentId);
    return [message.data];
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
