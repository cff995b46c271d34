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

/**
 * A FIFO message whose SequenceNumber is at or below the account's `lastSequence` (from the same queue) while its
 * payment was never applied (no outbox item, which is also its dedup marker). A later message of the group was applied
 * first — the message failed on an earlier receive (a poison under an older build during a rolling deploy, for
 * example) and its group went on. Acknowledging it would lose the payment; applying it now would apply it out of
 * order behind the fence's back. It must be dead-lettered, with an alarm: a redrive sends it again with a new, higher
 * SequenceNumber, so it then applies, after the payments that overtook it.
 */
export class SequenceFencedError extends ExactlyOnceError {
  readonly messageId: string;
  readonly accountId: string;
  readonly sequenceNumber: string;
  readonly lastSequence: string;
  /** Human-readable reasons (same shape as {@link PoisonMessageError.reasons}). */
  readonly reasons: readonly string[];

  constructor(messageId: string, accountId: string, sequenceNumber: string, lastSequence: string, options?: ErrorOptions) {
    const reason =
      `SequenceNumber ${sequenceNumber} is not above account ${accountId}'s lastSequence ${lastSequence} from the same queue, ` +
      'and the payment was never applied (no outbox item / marker): a later message of its group was applied first. ' +
      'Dead-lettered; redrive it to apply it after the payments that overtook it';
    super(`Message ${messageId} was fenced without a marker: ${reason}`, options);
    this.name = 'SequenceFencedError';
    this.messageId = messageId;
    this.accountId = accountId;
    this.sequenceNumber = sequenceNumber;
    this.lastSequence = lastSequence;
    this.reasons = [reason];
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
