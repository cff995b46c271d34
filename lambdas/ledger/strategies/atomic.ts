import type { AttributeValue, DynamoDBClient, TransactWriteItem } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import {
  AtomicIdempotency,
  BusinessConditionFailedError,
  RETRYABLE_EXCEPTION_NAMES,
  RetryableCommitError,
} from '../../shared/atomic-idempotency/index.js';
import { faultPoint, zombiePoint } from '../../shared/faults.js';
import { accountKey, outboxKey } from '../../shared/ledger-keys.js';
import { eventIdFor, type PaymentMessage } from '../../shared/payments-model.js';
import { LedgerContentionError } from '../errors.js';
import { accountFromItem, compareSequence, decide, paymentEvent, readAccount, type Account, type Decision } from '../ledger.js';
import type { LedgerOutcome, LedgerStrategy, PaymentDelivery } from '../strategy.js';

/** Marker scope of the ledger consumer (the marker is `DEDUP#ledger#<idempotencyKey>`). */
export const LEDGER_SCOPE = 'ledger';

/** Options of {@link AtomicLedgerStrategy}. */
export interface AtomicLedgerOptions {
  /** DynamoDB client (created once at module scope by the handler). */
  readonly client: DynamoDBClient;
  /** Ledger table name. */
  readonly tableName: string;
  /** How long a dedup marker (and the outbox item) stays live, in seconds. */
  readonly dedupTtlSeconds: number;
  /** Clock. @default () => new Date() */
  readonly now?: () => Date;
  /** Attempts when the account changes between the read and the commit (a race or a conflict). @default 5 */
  readonly maxAttempts?: number;
}

/** What the atomic strategy reports: a {@link LedgerOutcome}, plus whether a late commit was refused by the fence. */
export interface AtomicLedgerOutcome extends LedgerOutcome {
  /** True when the account's sequence watermark was already past this message: a zombie's late commit, refused. */
  readonly fenced?: boolean;
  /** The rejection reason, for a rejected payment. */
  readonly reason?: string;
}

/**
 * The product's ledger strategy: per message, ONE TransactWriteItems with the dedup marker (keyed by the producer's
 * idempotency key), the account update and the outbox event.
 *
 * The account update is conditioned on the version read just before (so the decision — applied or rejected, and the
 * balance carried by the event — is still true when it commits; a race re-reads and re-decides) and, for FIFO
 * messages, on the fence `lastSequence < :seq`: a zombie invocation that wakes up after a newer message of the group
 * committed cannot commit its stale decision. A rejection is an outcome too: its own transaction (marker + `rejected`
 * counter + PaymentRejected event), recorded once.
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
 */
export class AtomicLedgerStrategy implements LedgerStrategy {
  readonly name = 'atomic' as const;
  readonly #core: AtomicIdempotency;
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #ttlSeconds: number;
  readonly #now: () => Date;
  readonly #maxAttempts: number;
  #context?: Context;

  constructor(options: AtomicLedgerOptions) {
    if (!Number.isInteger(options.dedupTtlSeconds) || options.dedupTtlSeconds <= 0) {
      throw new RangeError(`dedupTtlSeconds (${options.dedupTtlSeconds}) must be a positive integer number of seconds`);
    }
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#ttlSeconds = options.dedupTtlSeconds;
    this.#now = options.now ?? (() => new Date());
    this.#maxAttempts = options.maxAttempts ?? 5;
    this.#core = new AtomicIdempotency({ client: options.client, tableName: options.tableName });
  }

  /** Lets the zombie fault cap its stall at the invocation's deadline (chaos runs only). */
  registerLambdaContext(context: Context): void {
    this.#context = context;
  }

  /**
   * Applies or rejects one payment, once.
   * @throws LedgerContentionError when the account kept changing for `maxAttempts` attempts.
   * @throws RetryableCommitError / AtomicIdempotencyError from the core on conflicts or unexpected failures.
   */
  async apply(delivery: PaymentDelivery): Promise<AtomicLedgerOutcome> {
    const { message, sequenceNumber } = delivery;
    const paymentId = message.paymentId;
    const eventId = eventIdFor(paymentId);
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      let account: Account;
      try {
        account = await readAccount(this.#client, this.#tableName, message.accountId);
      } catch (error) {
        // Throttling that outlasted the SDK's own retries: back off and try again while attempts remain.
        if (attempt < this.#maxAttempts && RETRYABLE_EXCEPTION_NAMES.has((error as Error).name)) {
          lastError = error;
          await sleep(Math.random() * 50 * attempt);
          continue;
        }
        throw error;
      }
      const decision = decide(account, message);
      const now = this.#now();
      await zombiePoint(this.#context);
      faultPoint('ledger.beforeCommit');
      try {
        const result = await this.#core.commitOnce({
          scope: LEDGER_SCOPE,
          key: message.idempotencyKey,
          ttlSeconds: this.#ttlSeconds,
          now,
          marker: {
            outcome: decision.outcome,
            paymentId,
            eventId,
            accountId: message.accountId,
            ...(sequenceNumber ? { sequenceNumber } : {}),
          },
          items: [
            this.#accountUpdate(account, message, decision, sequenceNumber),
            this.#outboxPut(message, decision, now),
          ],
        });
        faultPoint('ledger.afterCommit');
        if (result.status === 'duplicate') return { status: 'duplicate', paymentId, eventId };
        return {
          status: decision.outcome,
          paymentId,
          eventId,
          balance: decision.balance,
          ...(decision.outcome === 'rejected' ? { reason: decision.reason } : {}),
        };
      } catch (error) {
        if (error instanceof BusinessConditionFailedError) {
          if (error.itemIndex === 1) {
            // The outbox item of this payment exists although no live marker does (the marker expired): the outcome
            // was recorded before, so this delivery is a duplicate.
            return { status: 'duplicate', paymentId, eventId };
          }
          const current = accountFromItem(message.accountId, error.item);
          if (sequenceNumber && current.lastSequence && compareSequence(current.lastSequence, sequenceNumber) >= 0) {
            return { status: 'duplicate', paymentId, eventId, fenced: true };
          }
          lastError = error; // the account changed since the read: decide again on fresh state
          continue;
        }
        if (error instanceof RetryableCommitError && attempt < this.#maxAttempts) {
          lastError = error;
          await sleep(Math.random() * 50 * attempt);
          continue;
        }
        throw error;
      }
    }
    throw new LedgerContentionError(message.accountId, this.#maxAttempts, { cause: lastError });
  }

  #accountUpdate(account: Account, message: PaymentMessage, decision: Decision, sequenceNumber?: string): TransactWriteItem {
    const key = accountKey(message.accountId);
    const names: Record<string, string> = {
      '#balance': 'balance',
      '#applied': 'applied',
      '#rejected': 'rejected',
      '#version': 'version',
      '#accountId': 'accountId',
    };
    const values: Record<string, AttributeValue> = {
      ':zero': { N: '0' },
      ':one': { N: '1' },
      ':nextVersion': { N: String(account.version + 1) },
      ':accountId': { S: message.accountId },
    };
    const set = ['#version = :nextVersion', '#accountId = :accountId'];
    const conditions: string[] = [];

    if (account.exists) {
      conditions.push('#version = :version');
      values[':version'] = { N: String(account.version) };
    } else {
      conditions.push('attribute_not_exists(pk)');
    }

    if (decision.outcome === 'applied') {
      names['#currency'] = 'currency';
      values[':balance'] = { N: String(decision.balance) };
      values[':currency'] = { S: message.currency };
      set.push(
        '#balance = :balance',
        '#applied = if_not_exists(#applied, :zero) + :one',
        '#rejected = if_not_exists(#rejected, :zero)',
        '#currency = if_not_exists(#currency, :currency)',
      );
      // Business condition, explicit even though the version pins the state: a debit may not overdraw, and the
      // currency must match the account's.
      if (account.exists) {
        if (message.amount < 0) {
          conditions.push('#balance >= :debit');
          values[':debit'] = { N: String(-message.amount) };
        }
        conditions.push('(attribute_not_exists(#currency) OR #currency = :currency)');
      }
    } else {
      set.push(
        '#rejected = if_not_exists(#rejected, :zero) + :one',
        '#applied = if_not_exists(#applied, :zero)',
        '#balance = if_not_exists(#balance, :zero)',
      );
      // The rejection must still be true when it commits; otherwise the loop decides again.
      if (account.exists && decision.reason === 'INSUFFICIENT_FUNDS') {
        conditions.push('#balance < :debit');
        values[':debit'] = { N: String(-message.amount) };
      }
      if (account.exists && decision.reason === 'CURRENCY_MISMATCH') {
        names['#currency'] = 'currency';
        conditions.push('#currency <> :currency');
        values[':currency'] = { S: message.currency };
      }
    }

    if (sequenceNumber) {
      // The zombie fence: refuse a commit for a message older than one the account already took.
      names['#lastSequence'] = 'lastSequence';
      values[':seq'] = { N: sequenceNumber };
      set.push('#lastSequence = :seq');
      conditions.push('(attribute_not_exists(#lastSequence) OR #lastSequence < :seq)');
    }

    return {
      Update: {
        TableName: this.#tableName,
        Key: { pk: { S: key.pk }, sk: { S: key.sk } },
        UpdateExpression: `SET ${set.join(', ')}`,
        ConditionExpression: conditions.join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  #outboxPut(message: PaymentMessage, decision: Decision, now: Date): TransactWriteItem {
    const event = paymentEvent(message, decision, now);
    const key = outboxKey(event.eventId);
    return {
      Put: {
        TableName: this.#tableName,
        Item: {
          pk: { S: key.pk },
          sk: { S: key.sk },
          eventId: { S: event.eventId },
          eventType: { S: event.eventType },
          accountId: { S: event.accountId },
          event: { S: JSON.stringify(event) },
          expiresAt: { N: String(Math.floor(now.getTime() / 1000) + this.#ttlSeconds) },
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
  }
}

/** Creates the atomic strategy (registry entry point, see ./index.ts). */
export function createAtomicStrategy(options: AtomicLedgerOptions): AtomicLedgerStrategy {
  return new AtomicLedgerStrategy(options);
}

export default createAtomicStrategy;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
