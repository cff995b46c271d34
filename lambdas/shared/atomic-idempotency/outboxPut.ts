import type { AttributeValue, TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { outboxKey } from '../ledger-keys.js';
import { DEFAULT_TTL_ATTRIBUTE, OUTBOX_ATTRIBUTES } from './constants.js';
import { InvalidCommitError } from './errors.js';

/** One outbox event to write with the effect that caused it. */
export interface OutboxEventInput {
  /** Table of the effect (the outbox item must commit in the same transaction). */
  readonly tableName: string;
  /**
   * Event id, stable across retries of the same idempotency key (derive it from the key): it is the item's key and
   * the downstream dedup id. Unique across every consumer sharing the table (prefix it with the consumer's name).
   */
  readonly eventId: string;
  /** Event type: the relay routes by it and validates the payload with the schema registered for it. */
  readonly eventType: string;
  /** The entity whose order matters downstream (FIFO MessageGroupId): an account id, an order id. */
  readonly groupKey: string;
  /** The event itself (JSON-serialisable): the body of the message published downstream. */
  readonly payload: unknown;
  /** Time of the commit (the same clock as the transaction). */
  readonly now: Date;
  /**
   * The item also carries the dedup marker (`commitOnce({ markerItem })`): the core then sets `createdAt`, the TTL
   * attribute and the condition, so this helper leaves them out.
   * @default false
   */
  readonly carriesMarker?: boolean;
  /**
   * Lifetime of the outbox item in seconds (keep it at least as long as `replay-outbox` should reach back); ignored
   * when the item carries the marker (it lives as long as the marker).
   * @default 1_641_600 (19 days, the blueprint's marker lifetime)
   */
  readonly ttlSeconds?: number;
  /**
   * TTL attribute name.
   * @default 'expiresAt'
   */
  readonly ttlAttribute?: string;
}

/** Default lifetime of an outbox item that does not carry the marker: the blueprint's 19-day marker window. */
export const DEFAULT_OUTBOX_TTL_SECONDS = 19 * 86_400;

/**
 * The Put of one outbox item (`OUTBOX#<eventId>` / `OUTBOX`) in the format every consumer shares, for the same
 * `commitOnce` transaction as the effect: the event exists if and only if the effect happened, and the relay (one for
 * every consumer) publishes it to the destination its routes give the event type.
 *
 * Conditioned on the item being absent, so an event id reused by a bug cancels the transaction instead of silently
 * overwriting an event (a carried marker gets the core's live-marker condition instead).
 * @throws InvalidCommitError when an id, the type or the group key is empty, or the payload is not JSON-serialisable.
 * @example
 * items.push(outboxPut({ tableName, eventId: orderEventIdFor(key), eventType: 'OrderPlaced', groupKey: orderId, payload: event, now }));
 */
export function outboxPut(input: OutboxEventInput): TransactWriteItem {
  for (const field of ['tableName', 'eventId', 'eventType', 'groupKey'] as const) {
    if (typeof input[field] !== 'string' || input[field] === '') {
      throw new InvalidCommitError(`outbox ${field} (${JSON.stringify(input[field])}) must be a non-empty string`);
    }
  }
  let body: string | undefined;
  try {
    body = JSON.stringify(input.payload);
  } catch (error) {
    throw new InvalidCommitError(`outbox payload of ${input.eventId} is not JSON-serialisable: ${(error as Error).message}`, { cause: error });
  }
  if (body === undefined) throw new InvalidCommitError(`outbox payload of ${input.eventId} is undefined: pass the event object`);
  const key = outboxKey(input.eventId);
  const item: Record<string, AttributeValue> = {
    pk: { S: key.pk },
    sk: { S: key.sk },
    [OUTBOX_ATTRIBUTES.eventId]: { S: input.eventId },
    [OUTBOX_ATTRIBUTES.eventType]: { S: input.eventType },
    [OUTBOX_ATTRIBUTES.groupKey]: { S: input.groupKey },
    [OUTBOX_ATTRIBUTES.payload]: { S: body },
  };
  if (input.carriesMarker) return { Put: { TableName: input.tableName, Item: item } };
  const ttlSeconds = input.ttlSeconds ?? DEFAULT_OUTBOX_TTL_SECONDS;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new InvalidCommitError(`outbox ttlSeconds (${ttlSeconds}) must be a positive integer number of seconds`);
  }
  item[OUTBOX_ATTRIBUTES.createdAt] = { S: input.now.toISOString() };
  item[input.ttlAttribute ?? DEFAULT_TTL_ATTRIBUTE] = { N: String(Math.floor(input.now.getTime() / 1000) + ttlSeconds) };
  return {
    Put: {
      TableName: input.tableName,
      Item: item,
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
}
