import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { faultPoint, zombiePoint } from '../../shared/faults.js';
import { accountKey, outboxKey } from '../../shared/ledger-keys.js';
import { eventIdFor, type PaymentEvent, type PaymentMessage } from '../../shared/payments-model.js';
import type { LedgerOutcome, LedgerStrategy, PaymentDelivery } from '../strategy.js';

/** Dependencies of the non-transactional strategies (`at-least-once`, `powertools`). */
export interface PlainLedgerDeps {
  /** A DynamoDB client, or a document client built on one (the faults middleware may already be on it). */
  readonly dynamodb: DynamoDBClient | DynamoDBDocumentClient;
  /** Ledger table name (`LEDGER_TABLE_NAME`). */
  readonly tableName: string;
  /** Lifetime of outbox items, in seconds. @default 1209600 (14 days) */
  readonly outboxTtlSeconds?: number;
  /** Clock. @default () => new Date() */
  readonly now?: () => Date;
}

/** How the event id of a delivery is chosen: stable per payment, or a fresh one per delivery (so duplicates show). */
export type EventIdPolicy = 'stable' | 'per-delivery';

const DEFAULT_OUTBOX_TTL_SECONDS = 14 * 24 * 3600;

function documentClient(dynamodb: DynamoDBClient | DynamoDBDocumentClient): DynamoDBDocumentClient {
  return dynamodb instanceof DynamoDBDocumentClient
    ? dynamodb
    : DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
}

/**
 * The business write WITHOUT any dedup: one conditional UpdateItem on the account (credit, or a debit that may not
 * overdraw; the currency must match), then one PutItem of the outbox event. Two separate writes: a crash between them
 * applies the payment and loses its event, and every re-run applies it again. Used by the `at-least-once` baseline and
 * inside the `powertools` strategy (which adds a separate idempotency record around it).
 */
export async function applyPaymentWithoutDedup(
  deps: PlainLedgerDeps,
  message: PaymentMessage,
  eventId: string,
): Promise<LedgerOutcome> {
  const ddb = documentClient(deps.dynamodb);
  const now = (deps.now ?? (() => new Date()))();
  const key = accountKey(message.accountId);
  let outcome: { status: 'applied' | 'rejected'; balance: number; reason?: PaymentEvent['reason'] };
  try {
    // An account without a currency (none yet, or only rejections so far) takes the payment's.
    const condition =
      message.amount > 0
        ? 'attribute_not_exists(currency) OR currency = :cur'
        : 'attribute_exists(pk) AND (attribute_not_exists(currency) OR currency = :cur) AND balance >= :abs';
    const result = await ddb.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: key,
        UpdateExpression:
          'SET balance = if_not_exists(balance, :zero) + :amt, currency = if_not_exists(currency, :cur), ' +
          'applied = if_not_exists(applied, :zero) + :one, rejected = if_not_exists(rejected, :zero), ' +
          'version = if_not_exists(version, :zero) + :one',
        ConditionExpression: condition,
        ExpressionAttributeValues: {
          ':amt': message.amount,
          ':cur': message.currency,
          ':zero': 0,
          ':one': 1,
          ...(message.amount > 0 ? {} : { ':abs': -message.amount }),
        },
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    outcome = { status: 'applied', balance: Number(result.Attributes?.balance) };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    // A rejection is an outcome too: count it on the account (creating it if needed) and emit PaymentRejected.
    const old = error.Item as Record<string, { S?: string; N?: string }> | undefined;
    const mismatch = old?.currency?.S !== undefined && old.currency.S !== message.currency;
    const result = await ddb.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: key,
        // No currency here: only an applied payment fixes the account's currency (issue 11 #4).
        UpdateExpression:
          'SET balance = if_not_exists(balance, :zero), ' +
          'applied = if_not_exists(applied, :zero), rejected = if_not_exists(rejected, :zero) + :one, ' +
          'version = if_not_exists(version, :zero) + :one',
        ExpressionAttributeValues: { ':zero': 0, ':one': 1 },
        ReturnValues: 'ALL_NEW',
      }),
    );
    outcome = {
      status: 'rejected',
      balance: Number(result.Attributes?.balance),
      reason: mismatch ? 'CURRENCY_MISMATCH' : 'INSUFFICIENT_FUNDS',
    };
  }
  const event: PaymentEvent = {
    eventId,
    eventType: outcome.status === 'applied' ? 'PaymentApplied' : 'PaymentRejected',
    paymentId: message.paymentId,
    idempotencyKey: message.idempotencyKey,
    accountId: message.accountId,
    amount: message.amount,
    currency: message.currency,
    balance: outcome.balance,
    ...(outcome.reason ? { reason: outcome.reason } : {}),
    occurredAt: now.toISOString(),
  };
  await ddb.send(
    new PutCommand({
      TableName: deps.tableName,
      Item: {
        ...outboxKey(eventId),
        accountId: message.accountId,
        eventType: event.eventType,
        event: JSON.stringify(event),
        expiresAt: Math.floor(now.getTime() / 1000) + (deps.outboxTtlSeconds ?? DEFAULT_OUTBOX_TTL_SECONDS),
      },
    }),
  );
  return { status: outcome.status, paymentId: message.paymentId, eventId, balance: outcome.balance };
}

/**
 * The `at-least-once` baseline (benchmarks, and the chaos harness's negative control): no dedup at all. Every delivery
 * applies the payment and writes an outbox event under a NEW random event id, so every duplicate delivery shows up
 * downstream as a double effect and an extra event: the checker must report it.
 */
export function createAtLeastOnceStrategy(deps: PlainLedgerDeps): LedgerStrategy & { registerLambdaContext(context: Context): void } {
  let context: Context | undefined;
  return {
    name: 'at-least-once',
    registerLambdaContext: (next) => {
      context = next;
    },
    async apply(delivery: PaymentDelivery) {
      // The chaos harness's fault points, at the same places as in the other strategies.
      await zombiePoint(context);
      faultPoint('ledger.beforeCommit');
      const eventId = `${eventIdFor(delivery.message.paymentId)}_${randomUUID().slice(0, 8)}`;
      const outcome = await applyPaymentWithoutDedup(deps, delivery.message, eventId);
      faultPoint('ledger.afterCommit');
      return outcome;
    },
  };
}

export default createAtLeastOnceStrategy;
