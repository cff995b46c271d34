import { deduplicationIdFor, paymentIdFor, type PaymentMessage, type PaymentRequest } from '../../lambdas/shared/payments-model.js';
import { localScopedKey } from '../../local/api-client.js';
import { SeededRandom } from './random.js';

/** One payment the workload intends to make happen exactly once. */
export interface IntendedPayment {
  /** Position among all intended payments (send order of first sends). */
  readonly index: number;
  /** Position within its account (FIFO group order). */
  readonly accountIndex: number;
  readonly idempotencyKey: string;
  readonly paymentId: string;
  readonly request: PaymentRequest;
}

/**
 * One thing the harness does to the pipeline.
 * - `send`: the first POST /payments of a payment (defines its FIFO position).
 * - `api-retry`: the same POST again (same key, same body): absorbed by the API's idempotency.
 * - `resend-in-window`: the producer re-sends the message straight to the FIFO queue with the same
 *   MessageDeduplicationId, inside the 5-minute window: absorbed by SQS FIFO dedup.
 * - `resend-beyond-window`: the same message with a NEW MessageDeduplicationId (what a re-send after the window
 *   looks like to SQS): only the ledger's marker, keyed by the idempotency key, can absorb it.
 * - `poison-fifo`: an unparseable message in an account's FIFO group: must dead-letter without blocking the group
 *   for ever, and without touching other groups.
 * - `poison-standard`: an unparseable message on the standard events queue: must dead-letter (sent early).
 * - `event-twice`: once the pipeline is idle, a payment's event is sent to the events queue twice at once (the same
 *   message delivered concurrently to two invocations): absorbed by the notifier's idempotency.
 * - `send-wrong-group`: the payment's only send goes straight onto the FIFO queue with a MessageGroupId that is not
 *   its account, and after the account's next payment (a second producer, unordered with the first): the ledger must
 *   refuse it (dead-letter) rather than apply it out of order or acknowledge it behind the sequence fence.
 * - `expire-marker`: once idle, the payment's outbox item (its marker) is made expired but left present, as TTL leaves
 *   it for up to days (F6), then the payment is sent again as a late redrive: it must not be applied a second time.
 */
export type WorkloadAction =
  | {
      readonly kind: 'send' | 'api-retry' | 'resend-in-window' | 'resend-beyond-window' | 'send-wrong-group' | 'expire-marker';
      readonly payment: IntendedPayment;
    }
  | { readonly kind: 'poison-fifo'; readonly accountId: string; readonly body: string }
  | { readonly kind: 'poison-standard'; readonly body: string }
  | { readonly kind: 'event-twice'; readonly payment: IntendedPayment };

/** Duplicate and poison injections, each a fraction of the intended payments (or a count for poison). */
export interface WorkloadInjections {
  /** Fraction of payments POSTed twice. @default 0.1 */
  readonly apiRetry?: number;
  /** Fraction re-sent to the FIFO queue with the same dedup id. @default 0.1 */
  readonly resendInWindow?: number;
  /** Fraction re-sent to the FIFO queue with a new dedup id. @default 0.1 */
  readonly resendBeyondWindow?: number;
  /** Fraction whose event is sent twice, concurrently, to the events queue once idle. @default 0.1 */
  readonly eventTwice?: number;
  /** Number of poison messages in FIFO groups. @default 1 */
  readonly poisonFifo?: number;
  /** Number of poison messages on the standard events queue. @default 1 */
  readonly poisonStandard?: number;
  /** Fraction of payments (with a later one in their account) an older build judges poison on their first receive. @default 0 */
  readonly versionSkew?: number;
  /** Fraction of payments (with a later one in their account) sent on a group that is not their account. @default 0 */
  readonly groupNotAccount?: number;
  /** Fraction of payments whose marker expires (present) before a late redrive. @default 0 */
  readonly expiredMarker?: number;
  /** Number of accounts whose group is blocked until it dead-letters together (one head each). @default 0 */
  readonly dlqRoundTrip?: number;
}

/** Options for {@link generateWorkload}. */
export interface WorkloadOptions {
  /** Unique intended payments. */
  readonly messages: number;
  readonly seed: number;
  /** Accounts (FIFO groups). @default max(2, min(20, ceil(messages / 8))) */
  readonly accounts?: number;
  /** Fraction of payments that are debits (some of which overdraw). @default 0.25 */
  readonly debitFraction?: number;
  /** @default see {@link WorkloadInjections} */
  readonly injections?: WorkloadInjections;
  /** Prefix of idempotency keys and account ids, so runs never collide. @default `c<seed>` */
  readonly runId?: string;
}

/** A generated workload: the intended payments and the actions, in the order the harness performs them. */
export interface Workload {
  readonly seed: number;
  readonly runId: string;
  readonly accounts: readonly string[];
  readonly payments: readonly IntendedPayment[];
  /** Actions to run while the pipeline is live (sends, retries, re-sends, poison). */
  readonly actions: readonly WorkloadAction[];
  /** Actions to run once the pipeline is idle (`event-twice`, `expire-marker`). */
  readonly afterIdle: readonly WorkloadAction[];
  /** Payments an older ledger build judges poison on their first receive (the harness wraps the ledger). */
  readonly versionSkew: readonly string[];
  /** Heads of blocked groups: failed on every receive until they dead-letter with the messages behind them. */
  readonly blockedHeads: readonly string[];
}

/**
 * Generates a seeded workload: `messages` unique payments over a few accounts, credits mostly and debits that
 * sometimes overdraw, with duplicates and poison messages mixed in. Each account's first payment is a credit, so
 * every account exists before its first debit.
 */
export function generateWorkload(options: WorkloadOptions): Workload {
  const rnd = new SeededRandom(options.seed);
  const runId = options.runId ?? `c${options.seed}${rnd.token(6)}`;
  const accountCount = options.accounts ?? Math.max(2, Math.min(20, Math.ceil(options.messages / 8)));
  const accounts = Array.from({ length: accountCount }, (_, i) => `${runId}-acct-${i}`);
  const inj = {
    apiRetry: 0.1,
    resendInWindow: 0.1,
    resendBeyondWindow: 0.1,
    eventTwice: 0.1,
    poisonFifo: 1,
    poisonStandard: 1,
    versionSkew: 0,
    groupNotAccount: 0,
    expiredMarker: 0,
    dlqRoundTrip: 0,
    ...options.injections,
  };
  const debitFraction = options.debitFraction ?? 0.25;
  const perAccount = new Map<string, number>();
  // A rough running balance, only to size debits so that some overdraw; the checker computes the truth.
  const rough = new Map<string, number>();
  const payments: IntendedPayment[] = [];
  const actions: WorkloadAction[] = [];
  const afterIdle: WorkloadAction[] = [];

  for (let index = 0; index < options.messages; index++) {
    const accountId = index < accountCount ? accounts[index]! : rnd.pick(accounts);
    const accountIndex = perAccount.get(accountId) ?? 0;
    perAccount.set(accountId, accountIndex + 1);
    const balance = rough.get(accountId) ?? 0;
    let amount: number;
    if (accountIndex > 0 && rnd.chance(debitFraction)) {
      // Between 30 % and 150 % of the rough balance: about a third overdraw.
      amount = -Math.max(1, Math.round(balance * (0.3 + rnd.next() * 1.2)));
      if (-amount <= balance) rough.set(accountId, balance + amount);
    } else {
      amount = rnd.int(1, 500) * 10;
      rough.set(accountId, balance + amount);
    }
    const idempotencyKey = `${runId}-pay-${index}-${rnd.token(6)}`;
    const payment: IntendedPayment = {
      index,
      accountIndex,
      idempotencyKey,
      // The local API scopes the key to its caller; resends straight to the queue carry the same scoped key.
      paymentId: paymentIdFor(localScopedKey(idempotencyKey)),
      request: { accountId, amount, currency: 'EUR', reference: `chaos ${runId} #${index}` },
    };
    payments.push(payment);
    actions.push({ kind: 'send', payment });
    if (rnd.chance(inj.apiRetry)) actions.push({ kind: 'api-retry', payment });
    if (rnd.chance(inj.resendInWindow)) actions.push({ kind: 'resend-in-window', payment });
    if (rnd.chance(inj.resendBeyondWindow)) actions.push({ kind: 'resend-beyond-window', payment });
    if (rnd.chance(inj.eventTwice)) afterIdle.push({ kind: 'event-twice', payment });
  }
  for (let i = 0; i < inj.poisonFifo; i++) {
    // Placed among the sends, so later messages of its group queue up behind it.
    const at = rnd.int(0, actions.length);
    actions.splice(at, 0, { kind: 'poison-fifo', accountId: rnd.pick(accounts), body: `{"poison":${i},"amount":"lots"` });
  }
  for (let i = 0; i < inj.poisonStandard; i++) {
    // Early, so its redeliveries up to maxReceiveCount overlap with the rest of the run.
    actions.splice(rnd.int(0, Math.min(3, actions.length)), 0, { kind: 'poison-standard', body: `not an event ${runId} #${i}` });
  }
  const faults = pickEdgeFaults(rnd, payments, inj);
  for (const payment of faults.wrongGroup) {
    // Its only send: straight onto the queue on a foreign group, right after the account's next payment was sent.
    const own = actions.findIndex((a) => a.kind === 'send' && a.payment === payment);
    actions.splice(own, 1);
    const next = actions.findIndex(
      (a) => a.kind === 'send' && a.payment.request.accountId === payment.request.accountId && a.payment.accountIndex === payment.accountIndex + 1,
    );
    actions.splice(next + 1, 0, { kind: 'send-wrong-group', payment });
  }
  for (const payment of faults.expiredMarker) afterIdle.push({ kind: 'expire-marker', payment });
  return {
    seed: options.seed,
    runId,
    accounts,
    payments,
    actions,
    afterIdle,
    versionSkew: faults.versionSkew.map((p) => p.paymentId),
    blockedHeads: faults.blockedHeads.map((p) => p.paymentId),
  };
}

/**
 * Picks the payments of the issue-11 faults, each among the payments that can show it: a version skew or a foreign
 * group needs a later payment in the same account (that is what overtakes it), a blocked head two. A fault kind that
 * is on gets at least one payment. Distinct payments per kind, so each finding has one cause.
 */
function pickEdgeFaults(
  rnd: SeededRandom,
  payments: readonly IntendedPayment[],
  inj: { versionSkew: number; groupNotAccount: number; expiredMarker: number; dlqRoundTrip: number },
) {
  const lastIndex = new Map<string, number>();
  for (const p of payments) lastIndex.set(p.request.accountId, Math.max(lastIndex.get(p.request.accountId) ?? 0, p.accountIndex));
  const used = new Set<string>();
  const pick = (fraction: number, minLater: number): IntendedPayment[] => {
    if (fraction <= 0) return [];
    const candidates = payments.filter(
      (p) =>
        p.accountIndex > 0 &&
        (lastIndex.get(p.request.accountId) ?? 0) - p.accountIndex >= minLater &&
        !used.has(p.paymentId),
    );
    const wanted = Math.min(candidates.length, Math.max(1, Math.round(fraction * payments.length)));
    const chosen: IntendedPayment[] = [];
    while (chosen.length < wanted && candidates.length > 0) {
      const [p] = candidates.splice(rnd.int(0, candidates.length - 1), 1);
      if (used.has(p!.paymentId)) continue;
      chosen.push(p!);
      used.add(p!.paymentId);
      // The payment that overtakes it stays plain (a wrong-group send is placed right after that one's send).
      if (minLater > 0) {
        const next = payments.find((q) => q.request.accountId === p!.request.accountId && q.accountIndex === p!.accountIndex + 1);
        if (next) used.add(next.paymentId);
      }
    }
    return chosen;
  };
  // A blocked group holds its whole account: its head and the payments behind it take no other fault. The head is
  // the account's second payment, so that payments sent after the group dead-lettered can overtake the blocked ones.
  const blockedHeads: IntendedPayment[] = [];
  const heads = payments.filter((p) => p.accountIndex === 1 && (lastIndex.get(p.request.accountId) ?? 0) >= 3);
  for (let i = 0; i < inj.dlqRoundTrip && heads.length > 0; i++) blockedHeads.push(...heads.splice(rnd.int(0, heads.length - 1), 1));
  const blockedAccounts = new Set(blockedHeads.map((p) => p.request.accountId));
  for (const p of payments) if (blockedAccounts.has(p.request.accountId)) used.add(p.paymentId);
  return {
    blockedHeads,
    versionSkew: pick(inj.versionSkew, 1),
    wrongGroup: pick(inj.groupNotAccount, 1),
    expiredMarker: pick(inj.expiredMarker, 0),
  };
}

/** Counts of each action kind (for reports and tests). */
export function countActions(workload: Workload): Record<WorkloadAction['kind'], number> {
  const counts = {
    send: 0,
    'api-retry': 0,
    'resend-in-window': 0,
    'resend-beyond-window': 0,
    'poison-fifo': 0,
    'poison-standard': 0,
    'event-twice': 0,
    'send-wrong-group': 0,
    'expire-marker': 0,
  };
  for (const action of [...workload.actions, ...workload.afterIdle]) counts[action.kind]++;
  return counts;
}

/**
 * The payments-queue message the API sends for a payment: the local API scopes the Idempotency-Key to its caller, so
 * the body carries the scoped key, the payment id derived from it, and the dedup id of the scoped key. Every driver
 * that sends straight onto the queue (the chaos runner's `--via queue`, the long run) builds it here, so it can never
 * drift from what the ledger validates.
 */
export function queueMessageFor(payment: IntendedPayment): PaymentMessage {
  return {
    ...payment.request,
    paymentId: payment.paymentId,
    idempotencyKey: localScopedKey(payment.idempotencyKey),
    requestedAt: new Date().toISOString(),
  };
}

/** The MessageDeduplicationId the API sends for a payment (that of its caller-scoped key). */
export function queueDeduplicationIdFor(payment: IntendedPayment): string {
  return deduplicationIdFor(localScopedKey(payment.idempotencyKey));
}
