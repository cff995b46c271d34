import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { deduplicationIdFor, paymentIdFor, type PaymentMessage } from '../shared/payments-model.js';
import type { CreatePaymentRequest } from './request.js';

/** Ports of {@link acceptPayment}. */
export interface AcceptPaymentDeps {
  readonly sqs: Pick<SQSClient, 'send'>;
  /** The payments FIFO queue. */
  readonly queueUrl: string;
  /** Clock. @default () => new Date() */
  readonly now?: () => Date;
}

/** What the API answers for an accepted payment (stored and replayed by the idempotency layer). */
export interface AcceptedPayment {
  readonly paymentId: string;
  readonly status: 'accepted';
}

/**
 * Accepts a payment: ONE SendMessage to the payments FIFO queue, grouped by account (order per account) and
 * deduplicated by a hash of the idempotency key (SQS drops a re-send within 5 minutes; the ledger's marker catches
 * the later ones).
 */
export async function acceptPayment(request: CreatePaymentRequest, deps: AcceptPaymentDeps): Promise<AcceptedPayment> {
  const paymentId = paymentIdFor(request.idempotencyKey);
  const message: PaymentMessage = {
    ...request.payment,
    paymentId,
    idempotencyKey: request.idempotencyKey,
    requestedAt: (deps.now?.() ?? new Date()).toISOString(),
  };
  await deps.sqs.send(
    new SendMessageCommand({
      QueueUrl: deps.queueUrl,
      MessageBody: JSON.stringify(message),
      MessageGroupId: request.payment.accountId,
      MessageDeduplicationId: deduplicationIdFor(request.idempotencyKey),
    }),
  );
  return { paymentId, status: 'accepted' };
}
