import {
  BatchGetItemCommand,
  GetItemCommand,
  type AttributeValue,
  type BatchGetItemCommandOutput,
  type DynamoDBClient,
  type KeysAndAttributes,
} from '@aws-sdk/client-dynamodb';
import { fromAttributeMap } from '../shared/attribute-values.js';
import { accountKey, LEDGER_KEYS, outboxKey } from '../shared/ledger-keys.js';
import { eventIdFor, type PaymentEvent, type PaymentMessage } from '../shared/payments-model.js';
import { LedgerReadThrottledError } from './errors.js';

/**
 * Ledger domain: the account aggregate and the rule that decides a payment's outcome. Pure functions plus one read;
 * the strategies turn a decision into writes.
 */

/** The account item (`ACCOUNT#<id>` / `ACCOUNT`), as the ledger reads it. */
export interface Account {
  readonly accountId: string;
  readonly balance: number;
  readonly applied: number;
  readonly rejected: number;
  /** Set by the account's first payment; later payments must match it. */
  readonly currency?: string;
  /** Optimistic-concurrency version, bumped by every write. 0 when the account does not exist yet. */
  readonly version: number;
  /** Highest FIFO SequenceNumber committed for this account (the zombie fence), as a decimal string. */
  readonly lastSequence?: string;
  /** The queue (`eventSourceARN`) `lastSequence` came from: sequence numbers of two queues are not comparable. */
  readonly lastSequenceQueue?: string;
  readonly exists: boolean;
}

/** A payment's outcome, decided from the account state before it. */
export type Decision =
  | { readonly outcome: 'applied'; readonly balance: number }
  | { readonly outcome: 'rejected'; readonly balance: number; readonly reason: 'INSUFFICIENT_FUNDS' | 'CURRENCY_MISMATCH' };

/** An account that has never received a payment. */
export function emptyAccount(accountId: string): Account {
  return { accountId, balance: 0, applied: 0, rejected: 0, version: 0, exists: false };
}

/** Converts a stored account item (plain values) to an {@link Account}. */
export function accountFromItem(accountId: string, item: Record<string, unknown> | undefined): Account {
  if (!item || Object.keys(item).length === 0) return emptyAccount(accountId);
  return {
    accountId,
    balance: Number(item.balance ?? 0),
    applied: Number(item.applied ?? 0),
    rejected: Number(item.rejected ?? 0),
    currency: typeof item.currency === 'string' ? item.currency : undefined,
    version: Number(item.version ?? 0),
    lastSequence: item.lastSequence === undefined ? undefined : String(item.lastSequence),
    lastSequenceQueue: typeof item.lastSequenceQueue === 'string' ? item.lastSequenceQueue : undefined,
    exists: true,
  };
}

/** Reads an account with a strongly consistent read (the decision must see the latest committed state). */
export async function readAccount(client: DynamoDBClient, tableName: string, accountId: string): Promise<Account> {
  const key = accountKey(accountId);
  const { Item } = await client.send(
    new GetItemCommand({
      TableName: tableName,
      Key: { pk: { S: key.pk }, sk: { S: key.sk } },
      ConsistentRead: true,
    }),
  );
  return accountFromItem(accountId, Item ? fromAttributeMap(Item) : undefined);
}

/** What a payment's decision reads: its account, and its outbox item (the atomic strategy's dedup marker). */
export interface PaymentState {
  readonly account: Account;
  /** The payment's outbox item, when one is stored; `expiresAt` in epoch seconds (TTL deletes late, F6). */
  readonly outbox?: { readonly expiresAt?: number };
}

/** Options of {@link readPaymentState}. */
export interface ReadPaymentStateOptions {
  /**
   * Strongly consistent read (1 read unit per item instead of 0.5).
   * @default false
   */
  readonly consistent?: boolean;
  /**
   * BatchGetItem calls made while DynamoDB leaves keys unprocessed (throttling), with a short backoff between them.
   * @default 4
   */
  readonly maxCalls?: number;
}

/**
 * Reads an account and a payment's outbox item in ONE BatchGetItem (both items under 4 KB: 0.5 + 0.5 read units when
 * eventually consistent).
 *
 * An eventually consistent read is safe for the atomic strategy: a stale account fails the transaction's version
 * condition and a stale "no outbox item" fails the outbox item's marker condition, so staleness costs a retry, never
 * a wrong effect.
 * @throws LedgerReadThrottledError when keys are still unprocessed after `maxCalls` calls.
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
 */
export async function readPaymentState(
  client: DynamoDBClient,
  tableName: string,
  accountId: string,
  eventId: string,
  options: ReadPaymentStateOptions = {},
): Promise<PaymentState> {
  const accountPk = accountKey(accountId).pk;
  const keys = [accountKey(accountId), outboxKey(eventId)].map((k) => ({ pk: { S: k.pk }, sk: { S: k.sk } }));
  const maxCalls = options.maxCalls ?? 4;
  let pending: KeysAndAttributes | undefined = { Keys: keys, ConsistentRead: options.consistent ?? false };
  const items: Record<string, AttributeValue>[] = [];
  for (let call = 1; pending?.Keys?.length; call++) {
    if (call > maxCalls) throw new LedgerReadThrottledError(accountId, pending.Keys.length, maxCalls);
    if (call > 1) await sleep(Math.random() * 25 * 2 ** call);
    const response: BatchGetItemCommandOutput = await client.send(new BatchGetItemCommand({ RequestItems: { [tableName]: pending } }));
    items.push(...(response.Responses?.[tableName] ?? []));
    pending = response.UnprocessedKeys?.[tableName];
  }
  const accountItem = items.find((item) => item[LEDGER_KEYS.partitionKey]?.S === accountPk);
  const outboxItem = items.find((item) => item[LEDGER_KEYS.partitionKey]?.S !== accountPk);
  const expiresAt = outboxItem?.[LEDGER_KEYS.ttlAttribute]?.N;
  return {
    account: accountFromItem(accountId, accountItem ? fromAttributeMap(accountItem) : undefined),
    ...(outboxItem ? { outbox: expiresAt === undefined ? {} : { expiresAt: Number(expiresAt) } } : {}),
  };
}

/**
 * Decides a payment: a credit is always applied; a debit only if the balance covers it; a payment in another
 * currency than the account's is rejected.
 */
export function decide(account: Account, message: PaymentMessage): Decision {
  if (account.currency !== undefined && account.currency !== message.currency) {
    return { outcome: 'rejected', balance: account.balance, reason: 'CURRENCY_MISMATCH' };
  }
  const balance = account.balance + message.amount;
  if (balance < 0) return { outcome: 'rejected', balance: account.balance, reason: 'INSUFFICIENT_FUNDS' };
  return { outcome: 'applied', balance };
}

/** The outbox event for a decided payment (one per payment: its id is derived from the payment id). */
export function paymentEvent(message: PaymentMessage, decision: Decision, occurredAt: Date): PaymentEvent {
  return {
    eventId: eventIdFor(message.paymentId),
    eventType: decision.outcome === 'applied' ? 'PaymentApplied' : 'PaymentRejected',
    paymentId: message.paymentId,
    idempotencyKey: message.idempotencyKey,
    accountId: message.accountId,
    amount: message.amount,
    currency: message.currency,
    balance: decision.balance,
    ...(decision.outcome === 'rejected' ? { reason: decision.reason } : {}),
    occurredAt: occurredAt.toISOString(),
  };
}

/** Compares two FIFO sequence numbers (decimal strings of up to 20 digits, beyond 2^53). */
export function compareSequence(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
