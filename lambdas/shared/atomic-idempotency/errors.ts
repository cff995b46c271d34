import { ExactlyOnceError, RetryableError } from '../errors.js';
import type { PlainValue } from '../attribute-values.js';

/** Base class of the atomic idempotency core's errors that are not retryable. */
export class AtomicIdempotencyError extends ExactlyOnceError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AtomicIdempotencyError';
  }
}

/** The input of `commitOnce` is invalid (too many items, duplicate items, bad TTL…): a programming error. */
export class InvalidCommitError extends AtomicIdempotencyError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidCommitError';
  }
}

/**
 * One of the caller's items failed its condition, and the marker did not: nothing was written, the key is still
 * unprocessed, and the caller may commit another outcome (for example a rejection instead of a debit).
 */
export class BusinessConditionFailedError extends AtomicIdempotencyError {
  /** Index of the failed item in the caller's `items`. */
  readonly itemIndex: number;
  /** The item as stored when the condition failed, when the action asked for `ReturnValuesOnConditionCheckFailure: ALL_OLD`. */
  readonly item?: Record<string, PlainValue>;

  constructor(itemIndex: number, item?: Record<string, PlainValue>, options?: ErrorOptions) {
    super(`The condition of business item ${itemIndex} failed; nothing was committed`, options);
    this.name = 'BusinessConditionFailedError';
    this.itemIndex = itemIndex;
    this.item = item;
  }
}

/** The transaction was cancelled or refused for a reason that may pass on retry (conflict, throttling). */
export class RetryableCommitError extends RetryableError {
  /** Cancellation reason codes, when DynamoDB gave them. */
  readonly reasons: readonly string[];

  constructor(message: string, reasons: readonly string[] = [], options?: ErrorOptions) {
    super(message, options);
    this.name = 'RetryableCommitError';
    this.reasons = reasons;
  }
}
