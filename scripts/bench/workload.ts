import { paymentIdFor, type PaymentMessage } from '../../lambdas/shared/payments-model.js';
import { mulberry32 } from '../../lambdas/shared/seeded-random.js';

/** One payment the producer sends, and whether its first delivery is made to come back (a duplicate delivery). */
export interface WorkloadPayment {
  readonly message: PaymentMessage;
  /** True for the fraction of payments delivered twice (SQS redelivery after the effect committed). */
  readonly redeliver: boolean;
}

/** Shape of a benchmark workload. */
export interface WorkloadOptions {
  /** Unique payments. */
  readonly payments: number;
  /** Accounts (= FIFO message groups) the payments spread over. */
  readonly accounts: number;
  /** Fraction of payments delivered twice, 0–1. */
  readonly duplicateRate: number;
  /** Seed: the same seed gives the same payments, amounts and duplicates. */
  readonly seed: number;
  /** Prefix for account ids and idempotency keys, unique per run. */
  readonly prefix: string;
}

/**
 * A deterministic payments workload: mostly credits, about one in five a debit (some of which overdraw and are
 * rejected, an outcome every strategy must record), spread round-robin over the accounts so every FIFO group is busy.
 * Exactly `round(payments × duplicateRate)` payments are marked for redelivery, chosen by the seed.
 */
export function generateWorkload(options: WorkloadOptions): WorkloadPayment[] {
  const random = mulberry32(options.seed);
  const duplicates = Math.round(options.payments * options.duplicateRate);
  const marked = new Set<number>();
  while (marked.size < duplicates) marked.add(Math.floor(random() * options.payments));
  const requestedAt = new Date().toISOString();
  return Array.from({ length: options.payments }, (_, i) => {
    const idempotencyKey = `${options.prefix}-key-${i.toString().padStart(6, '0')}`;
    const debit = random() < 0.2;
    const amount = debit ? -(1 + Math.floor(random() * 15_000)) : 1 + Math.floor(random() * 10_000);
    return {
      message: {
        accountId: `${options.prefix}-acct-${i % options.accounts}`,
        amount,
        currency: 'EUR',
        paymentId: paymentIdFor(idempotencyKey),
        idempotencyKey,
        requestedAt,
      },
      redeliver: marked.has(i),
    };
  });
}

