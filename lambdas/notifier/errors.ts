import { InvalidInputError, RetryableError } from '../shared/errors.js';

/** The webhook did not confirm the delivery (non-2xx, timeout, network error): the record is retried. */
export class WebhookDeliveryError extends RetryableError {
  readonly eventId: string;
  /** HTTP status, when the webhook answered. */
  readonly status?: number;
  /** Seconds the webhook asked to wait (its `Retry-After` header), when it sent one. */
  readonly retryAfterSeconds?: number;

  constructor(eventId: string, message: string, status?: number, options?: ErrorOptions & { retryAfterSeconds?: number }) {
    super(message, options);
    this.name = 'WebhookDeliveryError';
    this.eventId = eventId;
    this.status = status;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** An events queue message that is not a payment event: reported failed, it dead-letters after maxReceiveCount. */
export class InvalidEventMessageError extends InvalidInputError {
  constructor(messageId: string, reasons: readonly string[], options?: ErrorOptions) {
    super(`Message ${messageId} is not a valid payment event: ${reasons.join('; ')}`, reasons, options);
    this.name = 'InvalidEventMessageError';
  }
}

/** Too little time was left to deliver this record safely: it is reported for retry, not attempted. */
export class DeadlineApproachingError extends RetryableError {
  constructor(messageId: string, options?: ErrorOptions) {
    super(`Not enough time left in this invocation to deliver message ${messageId}; it will be retried`, options);
    this.name = 'DeadlineApproachingError';
  }
}

/** The webhook signing secret is missing or malformed: deliveries cannot be signed, so none is sent (retried). */
export class WebhookSecretError extends RetryableError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'WebhookSecretError';
  }
}
