import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { outboxPut, RetryableCommitError, type AtomicIdempotency } from '../shared/atomic-idempotency/index.js';
import { formatIssues } from '../shared/errors.js';
import { PaymentEventSchema, type PaymentEvent } from '../shared/payments-model.js';
import { InvalidLoyaltyMessageError, LoyaltyRetryableError } from './errors.js';
import { LOYALTY_POINTS_AWARDED, loyaltyEventIdFor, type LoyaltyPointsAwarded } from './events.js';

/*
 * The second example consumer: loyalty points, fed by the payment events the relay fans out to its queue. For each
 * applied credit it adds points to the account (1 point per 100 minor units) and emits LoyaltyPointsAwarded through
 * the outbox — the points and the event commit with the dedup marker in ONE transaction, keyed by the payment's event
 * id, so a relay re-publish, an SQS redelivery or a redrive never awards twice.
 */

/** Dedup scope: markers are `DEDUP#loyalty#<paymentEventId>` in the ledger table. */
export const LOYALTY_SCOPE = 'loyalty';

/** Minor units per point. */
export const MINOR_UNITS_PER_POINT = 100;

/** Key of an account's points item. */
export const loyaltyPointsKey = (accountId: string) => ({ pk: `LOYALTY#${accountId}`, sk: 'POINTS' });

/**
 * Parses a message body: a payment event as the relay publishes it.
 * @throws InvalidLoyaltyMessageError with one reason per problem.
 */
export function parseLoyaltyMessage(body: string): PaymentEvent {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new InvalidLoyaltyMessageError([`body is not JSON (${(error as Error).message})`], { cause: error });
  }
  const parsed = PaymentEventSchema.safeParse(json);
  if (!parsed.success) throw new InvalidLoyaltyMessageError(formatIssues(parsed.error.issues), { cause: parsed.error });
  return parsed.data;
}

/** Points a payment event earns (0: nothing to award). */
export function pointsFor(event: PaymentEvent): number {
  return event.eventType === 'PaymentApplied' && event.amount > 0 ? Math.floor(event.amount / MINOR_UNITS_PER_POINT) : 0;
}

/** Ports of {@link awardPoints}. */
export interface LoyaltyDeps {
  readonly core: AtomicIdempotency;
  readonly tableName: string;
  /** Marker lifetime (DEDUP_TTL_SECONDS, validated by the construct against the queue windows). */
  readonly ttlSeconds: number;
  /** Clock. @default () => new Date() */
  readonly now?: () => Date;
}

/** What happened to one payment event. */
export interface LoyaltyOutcome {
  readonly status: 'awarded' | 'duplicate' | 'ignored';
  readonly points: number;
}

/**
 * Awards the points of one payment event exactly once: points item (ADD) + LoyaltyPointsAwarded outbox item + marker
 * in one transaction, keyed by the payment event's id.
 * @throws LoyaltyRetryableError when DynamoDB refused the transaction for now.
 */
export async function awardPoints(event: PaymentEvent, deps: LoyaltyDeps): Promise<LoyaltyOutcome> {
  const points = pointsFor(event);
  if (points === 0) return { status: 'ignored', points: 0 };
  const now = deps.now?.() ?? new Date();
  const key = loyaltyPointsKey(event.accountId);
  const award: LoyaltyPointsAwarded = {
    eventId: loyaltyEventIdFor(event.eventId),
    eventType: LOYALTY_POINTS_AWARDED,
    paymentEventId: event.eventId,
    accountId: event.accountId,
    points,
    occurredAt: now.toISOString(),
  };
  const items: TransactWriteItem[] = [
    {
      Update: {
        TableName: deps.tableName,
        Key: { pk: { S: key.pk }, sk: { S: key.sk } },
        UpdateExpression: 'ADD #points :points, #awards :one',
        ExpressionAttributeNames: { '#points': 'points', '#awards': 'awards' },
        ExpressionAttributeValues: { ':points': { N: String(points) }, ':one': { N: '1' } },
      },
    },
    outboxPut({ tableName: deps.tableName, eventId: award.eventId, eventType: award.eventType, groupKey: event.accountId, payload: award, now }),
  ];
  try {
    const result = await deps.core.commitOnce({
      scope: LOYALTY_SCOPE,
      key: event.eventId,
      ttlSeconds: deps.ttlSeconds,
      items,
      marker: { accountId: event.accountId, points },
      now,
    });
    return { status: result.status === 'committed' ? 'awarded' : 'duplicate', points };
  } catch (error) {
    if (error instanceof RetryableCommitError) {
      throw new LoyaltyRetryableError(`Transaction for ${event.eventId} refused, retry later`, { cause: error });
    }
    throw error;
  }
}
