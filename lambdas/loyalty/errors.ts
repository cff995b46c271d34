import { InvalidInputError, RetryableError } from '../shared/errors.js';

/** A message on the loyalty queue that is not a payment event: dead-lettered after maxReceiveCount. */
export class InvalidLoyaltyMessageError extends InvalidInputError {
  constructor(reasons: readonly string[], options?: ErrorOptions) {
    super(`Invalid loyalty message: ${reasons.join('; ')}`, reasons, options);
    this.name = 'InvalidLoyaltyMessageError';
  }
}

/** DynamoDB refused the transaction for now (conflict, throttling): the record is retried. */
export class LoyaltyRetryableError extends RetryableError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LoyaltyRetryableError';
  }
}
