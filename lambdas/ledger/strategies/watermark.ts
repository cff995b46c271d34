import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { fromAttributeMap } from '../../shared/attribute-values.js';
import { accountKey } from '../../shared/ledger-keys.js';
import { eventIdFor, type PaymentMessage } from '../../shared/payments-model.js';
import { accountFromItem, decide, emptyAccount, paymentEvent, type Account, type Decision } from '../ledger.js';
import type { LedgerOutcome, LedgerStrategy, PaymentDelivery } from '../strategy.js';

/**
 * The cheaper safe ledger strategy: a per-account sequence high-watermark on the account item.
 *
 * FIFO only (group = accountId). Each message is ONE conditional UpdateItem on `ACCOUNT#<id>` that sets the new
 * balance/counters, `lastSequence` = the message's SQS SequenceNumber and `lastEvent` = the PaymentEvent as JSON, on
 * the condition `lastSequence < :seq AND version = :expected` (+ the business condition for a debit). There is no
 * dedup marker and no outbox item: the account item's own stream record carries the event (the relay publishes
 * `lastEvent` from ACCOUNT records — an INSERT for an account's first payment, a MODIFY afterwards).
 *
 * Cost on AWS: 1 write unit per payment while the account item stays under 1 KB (applied and rejected alike), versus
 * 3 transactional items × 2 = 6 for the atomic strategy. A duplicate costs 0 writes when this container already saw
 * the higher watermark, else 1 failed conditional write (charged) whose `ALL_OLD` image settles it.
 *
 * Which duplicates it catches:
 * - SQS redelivery (visibility timeout, a crash after the write but before the batch response, a batch retried after
 *   a partial failure, a zombie invocation that outlived its timeout): the redelivered message keeps its
 *   SequenceNumber, which is ≤ the watermark, so the condition fails and the delivery is reported `duplicate`.
 * - A producer re-send inside the 5-minute FIFO deduplication window: SQS accepts it but never delivers it.
 *
 * Which it does NOT catch (use the `atomic` strategy, keyed by the producer's idempotency key, when these matter):
 * - A producer re-send AFTER the 5-minute window: SQS assigns a NEW, higher SequenceNumber, so it is applied twice —
 *   unless the API's own idempotency (Powertools, keyed by Idempotency-Key, 1 h by default) answered it first.
 * - A message redriven from the DLQ after it had been applied (e.g. applied, then its deletes failed
 *   maxReceiveCount times): redrive re-sends it with a new SequenceNumber.
 * - Any consumer that processes a FIFO group past a failed message (breaking S10): the skipped message's later
 *   retry has a LOWER sequence than the watermark and would be dropped as a duplicate — the ledger handler must stop
 *   the group at the first failure (it does).
 *
 * Where the blueprint uses it: `ledgerStrategy=watermark` in CDK context (the stack then adds the account-item
 * stream filter to the relay); the default is `atomic`. The benchmarks (BENCHMARKS.md) compare both.
 *
 * The state it computes from is cached per container (bounded LRU); a stale or missing cache entry costs one failed
 * conditional write, whose ALL_OLD image refreshes the cache at no read cost, then the write is retried.
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_Message.html (SequenceNumber)
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/using-messagededuplicationid-property.html
 */
export class WatermarkStrategy implements LedgerStrategy {
  readonly name = 'watermark' as const;
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly clock: () => Date;
  private readonly cache: AccountCache;
  private readonly maxAttempts: number;

  constructor(options: WatermarkStrategyOptions) {
    this.client = options.dynamodb;
    this.tableName = options.tableName;
    this.clock = options.clock ?? (() => new Date());
    this.cache = new AccountCache(options.cacheSize ?? 10_000);
    this.maxAttempts = options.maxAttempts ?? 5;
  }

  /**
   * Applies one FIFO delivery exactly once per sequence number.
   * @throws MissingSequenceNumberError when the delivery has no FIFO SequenceNumber (standard queue).
   * @throws WatermarkContentionError when the account item keeps changing under us (another writer on the group).
   */
  async apply(delivery: PaymentDelivery): Promise<LedgerOutcome> {
    const sequence = parseSequence(delivery);
    const message = delivery.message;
    const eventId = eventIdFor(message.paymentId);
    let state = this.cache.get(message.accountId);

    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      if (state !== undefined && state.lastSequence >= sequence) {
        return { status: 'duplicate', paymentId: message.paymentId, eventId };
      }
      const account = state?.account ?? emptyAccount(message.accountId);
      const decision = decide(account, message);
      try {
        const result = await this.client.send(this.buildUpdate(account, message, sequence, decision));
        this.cache.set(message.accountId, stateFrom(message.accountId, result.Attributes));
        return { status: decision.outcome, paymentId: message.paymentId, eventId, balance: decision.balance };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        // ALL_OLD rides back on the failure at no read cost: it is the current state of the account.
        state = stateFrom(message.accountId, error.Item);
        this.cache.set(message.accountId, state);
      }
    }
    throw new WatermarkContentionError(message.accountId, sequence, this.maxAttempts);
  }

  private buildUpdate(account: Account, message: PaymentMessage, sequence: bigint, decision: Decision): UpdateItemCommand {
    const key = accountKey(message.accountId);
    const event = paymentEvent(message, decision, this.clock());
    const values: Record<string, AttributeValue> = {
      ':balance': { N: String(decision.balance) },
      ':applied': { N: String(account.applied + (decision.outcome === 'applied' ? 1 : 0)) },
      ':rejected': { N: String(account.rejected + (decision.outcome === 'rejected' ? 1 : 0)) },
      ':version': { N: String(account.version + 1) },
      ':seq': { N: sequence.toString() },
      ':event': { S: JSON.stringify(event) },
    };
    // The account's currency is fixed by its first APPLIED payment: a rejection leaves it as it was (unset on a new
    // account), or a later payment in another currency would be judged against a currency no payment ever had.
    const set = ['balance = :balance', 'applied = :applied', 'rejected = :rejected', '#version = :version', 'lastSequence = :seq', 'lastEvent = :event'];
    if (decision.outcome === 'applied' && account.currency === undefined) {
      set.push('currency = :currency');
      values[':currency'] = { S: message.currency };
    }
    const conditions: string[] = [];
    if (!account.exists) {
      conditions.push('attribute_not_exists(pk)');
    } else {
      // The version pins the state the decision was computed from; the watermark is the dedup check itself.
      conditions.push('#version = :expected', '(attribute_not_exists(lastSequence) OR lastSequence < :seq)');
      values[':expected'] = { N: String(account.version) };
      if (decision.outcome === 'applied' && message.amount < 0) {
        conditions.push('balance >= :debit');
        values[':debit'] = { N: String(-message.amount) };
      }
    }
    return new UpdateItemCommand({
      TableName: this.tableName,
      Key: { pk: { S: key.pk }, sk: { S: key.sk } },
      UpdateExpression: `SET ${set.join(', ')}`,
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: { '#version': 'version' },
      ExpressionAttributeValues: values,
      // Both are free on AWS (no read units): the new image refreshes the cache, the old one settles a failure.
      ReturnValues: 'ALL_NEW',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  }
}

/** Options for {@link WatermarkStrategy}. */
export interface WatermarkStrategyOptions {
  /** DynamoDB client (created once at module scope by the handler). */
  readonly dynamodb: DynamoDBClient;
  /** Ledger table name. */
  readonly tableName: string;
  /** Clock for `occurredAt`. @default () => new Date() */
  readonly clock?: () => Date;
  /** Accounts whose state is cached per container. @default 10000 */
  readonly cacheSize?: number;
  /** Conditional-write attempts before giving up on a contended account. @default 5 */
  readonly maxAttempts?: number;
}

/** Creates the watermark strategy (see {@link WatermarkStrategy}). */
export function createWatermarkStrategy(options: WatermarkStrategyOptions): WatermarkStrategy {
  return new WatermarkStrategy(options);
}

export default createWatermarkStrategy;

/** Base class of the watermark strategy's errors. */
export class WatermarkError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'WatermarkError';
  }
}

/** The delivery came from a standard queue (or a FIFO record without SequenceNumber): the watermark needs FIFO. */
export class MissingSequenceNumberError extends WatermarkError {
  constructor(readonly messageId: string) {
    super(
      `Message ${messageId} has no FIFO SequenceNumber: the watermark strategy works only on a FIFO queue ` +
        '(use LEDGER_STRATEGY=atomic for a standard queue)',
    );
    this.name = 'MissingSequenceNumberError';
  }
}

/** The account item changed under every attempt: another writer is processing the same group. */
export class WatermarkContentionError extends WatermarkError {
  constructor(
    readonly accountId: string,
    readonly sequence: bigint,
    readonly attempts: number,
  ) {
    super(
      `Account ${accountId} changed during each of ${attempts} conditional writes for sequence ${sequence}: ` +
        'another consumer is writing the same FIFO group; the message will be retried',
    );
    this.name = 'WatermarkContentionError';
  }
}

interface AccountState {
  readonly account: Account;
  /** -1 for an account that another strategy wrote first: every sequence is newer. */
  readonly lastSequence: bigint;
}

function parseSequence(delivery: PaymentDelivery): bigint {
  const raw = delivery.sequenceNumber;
  if (raw === undefined || !/^\d{1,40}$/.test(raw)) throw new MissingSequenceNumberError(delivery.messageId);
  return BigInt(raw);
}

function stateFrom(accountId: string, item: Record<string, AttributeValue> | undefined): AccountState | undefined {
  if (item === undefined || Object.keys(item).length === 0) return undefined;
  const account = accountFromItem(accountId, fromAttributeMap(item));
  const raw = item.lastSequence?.N;
  return { account, lastSequence: raw === undefined ? -1n : BigInt(raw) };
}

/** Bounded insertion-order LRU: a container serves many groups, memory must not grow with them. */
class AccountCache {
  private readonly entries = new Map<string, AccountState>();
  constructor(private readonly capacity: number) {}

  get(accountId: string): AccountState | undefined {
    const value = this.entries.get(accountId);
    if (value !== undefined) {
      this.entries.delete(accountId);
      this.entries.set(accountId, value);
    }
    return value;
  }

  /** Stores `state`, or forgets the account when `state` is undefined (it does not exist yet). */
  set(accountId: string, state: AccountState | undefined): void {
    this.entries.delete(accountId);
    if (state === undefined) return;
    this.entries.set(accountId, state);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
