import type { PaymentMessage } from '../shared/payments-model.js';

/**
 * How the ledger consumer makes a payment's effect happen once. `atomic` is the product; the others exist for the
 * benchmarks (issue 5) and the chaos harness's negative controls (issue 4), selected by `LEDGER_STRATEGY`.
 *
 * - `atomic`: account update + outbox item in ONE TransactWriteItems, the outbox item (keyed by the producer's
 *   idempotency key) being the dedup marker; one BatchGetItem first, so a duplicate is answered without a write.
 * - `powertools`: Powertools idempotency record around a non-transactional business write (a separate record).
 * - `at-least-once`: no dedup at all (baseline; duplicates show up as double effects).
 * - `watermark`: FIFO only; a per-account sequence high-watermark on the account item, one conditional write, the
 *   event carried by the account item's own stream record (attribute `lastEvent`).
 */
export const LEDGER_STRATEGIES = ['atomic', 'powertools', 'at-least-once', 'watermark'] as const;
export type LedgerStrategyName = (typeof LEDGER_STRATEGIES)[number];

/** One delivery of a payment message, as the SQS record carried it. */
export interface PaymentDelivery {
  readonly message: PaymentMessage;
  readonly messageId: string;
  /** FIFO SequenceNumber (a decimal string of up to 20 digits); absent on standard queues. */
  readonly sequenceNumber?: string;
  /**
   * ARN of the queue the record came from (`eventSourceARN`): FIFO sequence numbers are comparable within one queue
   * only, so the sequence fence compares them only with a `lastSequence` stored from the same queue.
   * @default - unknown (the fence then compares only with a `lastSequence` stored without a queue)
   */
  readonly queueArn?: string;
  readonly receiveCount: number;
}

/** What happened to one delivery. `duplicate` means an earlier delivery already recorded the outcome. */
export interface LedgerOutcome {
  readonly status: 'applied' | 'rejected' | 'duplicate';
  readonly paymentId: string;
  readonly eventId: string;
  /** Balance after the payment, when this delivery wrote it. */
  readonly balance?: number;
}

/** A ledger consumer strategy. Implementations must leave the same observable state: account item + one event. */
export interface LedgerStrategy {
  readonly name: LedgerStrategyName;
  apply(delivery: PaymentDelivery): Promise<LedgerOutcome>;
}
