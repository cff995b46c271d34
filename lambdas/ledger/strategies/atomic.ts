import { type AttributeValue, type DynamoDBClient, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import {
  AtomicIdempotency,
  BusinessConditionFailedError,
  RETRYABLE_EXCEPTION_NAMES,
  RetryableCommitError,
} from '../../shared/atomic-idempotency/index.js';
import { RetryableError } from '../../shared/errors.js';
import { faultPoint, zombiePoint } from '../../shared/faults.js';
import { accountKey, outboxKey } from '../../shared/ledger-keys.js';
import { eventIdFor, paymentIdFor, type PaymentMessage } from '../../shared/payments-model.js';
import { LedgerContentionError, PoisonMessageError, SequenceFencedError } from '../errors.js';
import {
  accountFromItem,
  compareSequence,
  decide,
  paymentEvent,
  readPaymentState,
  type Account,
  type Decision,
  type PaymentState,
} from '../ledger.js';
import type { LedgerOutcome, LedgerStrategy, PaymentDelivery } from '../strategy.js';

/** Position of the outbox Put in the transaction's items: it carries the dedup marker. */
const OUTBOX_ITEM = 1;

/**
 * Marker scope of the ledger consumer. The marker is carried by the payment's outbox item
 * (`OUTBOX#evt_<sha256(idempotencyKey)>`, see {@link ledgerMarkerKey}), whose `scope` attribute holds this value.
 */
export const LEDGER_SCOPE = 'ledger';

/**
 * Key of the item that records "this idempotency key was processed" for the ledger: the payment's outbox item, since
 * paymentId = paymentIdFor(key) and eventId = eventIdFor(paymentId). Live while its `expiresAt` is in the future.
 */
export function ledgerMarkerKey(idempotencyKey: string): { pk: string; sk: string } {
  return outboxKey(eventIdFor(paymentIdFor(idempotencyKey)));
}

/** Options of {@link AtomicLedgerStrategy}. */
export interface AtomicLedgerOptions {
  /** DynamoDB client (created once at module scope by the handler). */
  readonly client: DynamoDBClient;
  /** Ledger table name. */
  readonly tableName: string;
  /** How long the outbox item (the dedup marker) stays live, in seconds. */
  readonly dedupTtlSeconds: number;
  /** Clock. @default () => new Date() */
  readonly now?: () => Date;
  /** Attempts when the account changes between the read and the commit (a race or a conflict). @default 5 */
  readonly maxAttempts?: number;
  /**
   * Read account + outbox item strongly consistent on the first attempt too (2 read units instead of 1). A stale
   * eventually consistent read is safe but costs a cancelled transaction (4 write units, charged) and a second one:
   * worth switching on if more than about 5 % of first reads come back stale (0.5 RU saved vs 4 WU lost), e.g. for
   * accounts that receive payments back to back. Retries always read strongly consistent.
   * @default false
   */
  readonly consistentRead?: boolean;
}

/** What the atomic strategy reports: a {@link LedgerOutcome}, plus whether a late commit was refused by the fence. */
export interface AtomicLedgerOutcome extends LedgerOutcome {
  /** True when the account's sequence watermark was already past this message: a zombie's late commit, refused. */
  readonly fenced?: boolean;
  /** The rejection reason, for a rejected payment. */
  readonly reason?: string;
  /** True for a duplicate recognised by an outbox item that expired but that TTL has not deleted yet. */
  readonly expiredMarker?: boolean;
}

/**
 * The product's ledger strategy: per message, ONE TransactWriteItems of two items — the account update and the
 * outbox event — where the outbox item IS the dedup marker (its key derives from the producer's idempotency key).
 * On AWS: 2 × 2 = 4 write units per applied or rejected payment, plus 1 read unit for the read before it.
 *
 * Before deciding, one eventually consistent BatchGetItem reads the account and the payment's outbox item: a live
 * outbox item means an earlier delivery recorded the outcome, so a duplicate costs that read and no write. The read
 * may be stale; the transaction re-checks everything: the outbox Put is conditioned on the item being absent (a
 * duplicate that raced in is reported as one), and the account update on the version read (so the decision — applied
 * or rejected, and the balance the event carries — is still true when it commits; a race re-decides on the item the
 * failed transaction returned) and, for FIFO messages, on the fence `lastSequence < :seq` (same queue): a zombie
 * invocation that wakes up after a newer message of the group committed cannot commit its stale decision.
 * A rejection is an outcome too: account `rejected` counter + PaymentRejected event, recorded once.
 *
 * A message behind the fence is a duplicate only when its outbox item exists (a zombie's copy of an applied payment);
 * without one it was never applied and is refused with {@link SequenceFencedError}, for the consumer to dead-letter.
 *
 * An outbox item that expired but that TTL has not deleted yet (F6) still counts as present: it proves the payment was
 * applied, and a re-application would carry the same paymentId and eventId, which downstream dedup would drop. The
 * key is processed again only once TTL has deleted the item (README, "The guarantee, and its limits").
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
  readonly #consistentRead: boolean;
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
    this.#consistentRead = options.consistentRead ?? false;
    // An expired outbox item still proves the payment was applied: never re-apply while it is present (issue 11).
    this.#core = new AtomicIdempotency({ client: options.client, tableName: options.tableName, reuseExpiredMarkers: false });
  }

  /** Lets the zombie fault cap its stall at the invocation's deadline (chaos runs only). */
  registerLambdaContext(context: Context): void {
    this.#context = context;
  }

  /**
   * Applies or rejects one payment, once.
   * @throws PoisonMessageError when the message's paymentId is not the one derived from its idempotency key.
   * @throws LedgerContentionError when the account kept changing for `maxAttempts` attempts.
   * @throws RetryableCommitError / AtomicIdempotencyError from the core on conflicts or unexpected failures.
   */
  async apply(delivery: PaymentDelivery): Promise<AtomicLedgerOutcome> {
    const { message, sequenceNumber } = delivery;
    const paymentId = paymentIdFor(message.idempotencyKey);
    if (message.paymentId !== paymentId) {
      // The outbox item is the dedup marker only because its key derives from the idempotency key: refuse a message
      // whose event would be stored under another key.
      throw new PoisonMessageError(delivery.messageId, [
        `paymentId (${message.paymentId}) must be ${paymentId}, derived from the idempotencyKey (paymentIdFor)`,
      ]);
    }
    const eventId = eventIdFor(paymentId);
    const queue = delivery.queueArn ?? UNKNOWN_QUEUE;
    let lastError: unknown;
    // undefined = read (again) before the next attempt; the first read is eventually consistent, later ones strong.
    let state: PaymentState | undefined;
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      if (!state) {
        try {
          const consistent = this.#consistentRead || attempt > 1;
          state = await readPaymentState(this.#client, this.#tableName, message.accountId, eventId, { consistent });
        } catch (error) {
          // Throttling that outlasted the SDK's own retries: back off and try again while attempts remain.
          if (attempt < this.#maxAttempts && (error instanceof RetryableError || RETRYABLE_EXCEPTION_NAMES.has((error as Error).name))) {
            lastError = error;
            await sleep(Math.random() * 50 * attempt);
            continue;
          }
          throw error;
        }
      }
      const { account } = state;
      const now = this.#now();
      const nowSeconds = Math.floor(now.getTime() / 1000);
      if (state.outbox) {
        // Live, or expired but not yet deleted by TTL (F6): either way it proves the payment was applied (or
        // rejected) once. Re-applying an expired one would repeat the effect under the same paymentId and eventId,
        // which the notifier and the receiver deduplicate away: never re-apply while it is present.
        const expiresAt = state.outbox.expiresAt ?? Number.POSITIVE_INFINITY;
        return { status: 'duplicate', paymentId, eventId, ...(expiresAt < nowSeconds ? { expiredMarker: true } : {}) };
      }
      if (isFenced(account, sequenceNumber, queue)) return this.#fenced(delivery, eventId, paymentId);
      const decision = decide(account, message);
      await zombiePoint(this.#context);
      faultPoint('ledger.beforeCommit');
      try {
        const result = await this.#core.commitOnce({
          scope: LEDGER_SCOPE,
          key: message.idempotencyKey,
          ttlSeconds: this.#ttlSeconds,
          now,
          items: [this.#accountUpdate(account, message, decision, sequenceNumber, queue), this.#outboxPut(message, decision, now)],
          markerItem: OUTBOX_ITEM,
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
          // The account changed since the read. The failed transaction returned it (ALL_OLD, no read cost): check
          // the fence, then decide again on that fresh state.
          const current = error.item ? accountFromItem(message.accountId, error.item) : undefined;
          if (current && isFenced(current, sequenceNumber, queue)) return this.#fenced(delivery, eventId, paymentId);
          state = current ? { account: current } : undefined;
          lastError = error;
          continue;
        }
        if (error instanceof RetryableCommitError && attempt < this.#maxAttempts) {
          lastError = error;
          state = undefined;
          await sleep(Math.random() * 50 * attempt);
          continue;
        }
        throw error;
      }
    }
    throw new LedgerContentionError(message.accountId, this.#maxAttempts, { cause: lastError });
  }

  /**
   * A message behind the account's sequence fence. A strongly consistent read tells the two cases apart: its outbox
   * item (the marker) exists → a zombie's late copy of an applied payment, a duplicate; absent → the payment was never
   * applied and later ones of its group were: {@link SequenceFencedError} (dead-letter it, never acknowledge it).
   */
  async #fenced(delivery: PaymentDelivery, eventId: string, paymentId: string): Promise<AtomicLedgerOutcome> {
    const { message, sequenceNumber } = delivery;
    const confirmed = await readPaymentState(this.#client, this.#tableName, message.accountId, eventId, { consistent: true });
    if (confirmed.outbox) return { status: 'duplicate', paymentId, eventId, fenced: true };
    throw new SequenceFencedError(
      delivery.messageId,
      message.accountId,
      sequenceNumber!,
      confirmed.account.lastSequence ?? 'unknown',
    );
  }

  #accountUpdate(account: Account, message: PaymentMessage, decision: Decision, sequenceNumber: string | undefined, queue: string): TransactWriteItem {
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
      // The zombie fence: refuse a commit for a message older than one the account already took from the same queue
      // (sequence numbers of another queue, e.g. a replaced one, are not comparable: the watermark moves to it).
      names['#lastSequence'] = 'lastSequence';
      names['#lastSequenceQueue'] = 'lastSequenceQueue';
      values[':seq'] = { N: sequenceNumber };
      values[':queue'] = { S: queue };
      set.push('#lastSequence = :seq', '#lastSequenceQueue = :queue');
      conditions.push('(attribute_not_exists(#lastSequence) OR #lastSequence < :seq OR NOT (#lastSequenceQueue = :queue))');
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

  /** The outbox event; the core adds the marker condition, attributes and `expiresAt` (it carries the marker). */
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
          groupKey: { S: event.accountId }, // the shared outbox format (outboxPut): FIFO group downstream
          event: { S: JSON.stringify(event) },
        },
      },
    };
  }
}

/** Creates the atomic strategy (registry entry point, see ./index.ts). */
export function createAtomicStrategy(options: AtomicLedgerOptions): AtomicLedgerStrategy {
  return new AtomicLedgerStrategy(options);
}

export default createAtomicStrategy;

/** Queue recorded with `lastSequence` when a delivery does not say where it came from (direct calls, tests). */
const UNKNOWN_QUEUE = 'unknown';

/**
 * True when the account already took a message of the group at or after this sequence number from the same queue
 * (the zombie fence). A `lastSequence` stored without its queue (before the queue was recorded) fences nothing.
 */
function isFenced(account: Account, sequenceNumber: string | undefined, queue: string): boolean {
  return (
    sequenceNumber !== undefined &&
    account.lastSequence !== undefined &&
    account.lastSequenceQueue === queue &&
    compareSequence(account.lastSequence, sequenceNumber) >= 0
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
