import { ExactlyOnceError, InvalidInputError, RetryableError } from '../shared/errors.js';

/** A payments queue message that can never be processed (bad JSON, schema violation): it must dead-letter. */
export class PoisonMessageError extends InvalidInputError {
  readonly messageId: string;

  constructor(messageId: string, reasons: readonly string[], options?: ErrorOptions) {
    super(`Message ${messageId} is not a valid payment message: ${reasons.join('; ')}`, reasons, options);
    this.name = 'PoisonMessageError';
    this.messageId = messageId;
  }
}

/** The account kept changing under the ledger's optimistic check: retry the message later. */
export class LedgerContentionError extends RetryableError {
  readonly accountId: string;

  constructor(accountId: string, attempts: number, options?: ErrorOptions) {
    super(`Account ${accountId} changed during ${attempts} attempts to commit a payment; the message will be retried`, options);
    this.name = 'LedgerContentionError';
    this.accountId = accountId;
  }
}

/** DynamoDB kept leaving the ledger's read unprocessed (throttling): retry the message later. */
export class LedgerReadThrottledError extends RetryableError {
  readonly accountId: string;

  constructor(accountId: string, unprocessed: number, calls: number, options?: ErrorOptions) {
    super(`Reading account ${accountId} left ${unprocessed} key(s) unprocessed after ${calls} BatchGetItem calls (throttled); the message will be retried`, options);
    this.name = 'LedgerReadThrottledError';
    this.accountId = accountId;
  }
}

/** `LEDGER_STRATEGY` names no known strategy, or its module is missing. */
export class UnknownLedgerStrategyError extends ExactlyOnceError {
  constructor(name: string, known: readonly string[], options?: ErrorOptions) {
    super(`Unknown ledger strategy "${name}": set LEDGER_STRATEGY to one of ${known.join(', ')}`, options);
    this.name = 'UnknownLedgerStrategyError';
  }
}
