import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { OUTBOX_PREFIX } from '../ledger-keys.js';
import { OUTBOX_ATTRIBUTES } from './constants.js';
import type { OutboxItem } from './types.js';

/**
 * Reads an outbox item (a stream NewImage or a table item) into an {@link OutboxItem}, or `null` when the item is not
 * an outbox item. Items written before the shared format (payments' `OUTBOX#` items without `groupKey`) still read:
 * the missing fields are `undefined` and the relay fills them from the event's registration.
 * @returns `null` for an item whose `pk` does not start with `OUTBOX#`.
 */
export function readOutboxItem(image: Record<string, AttributeValue> | undefined): OutboxItem | null {
  const pk = image?.pk?.S;
  if (image === undefined || pk === undefined || !pk.startsWith(OUTBOX_PREFIX)) return null;
  const text = (name: string) => image[name]?.S;
  return {
    eventId: text(OUTBOX_ATTRIBUTES.eventId) ?? pk.slice(OUTBOX_PREFIX.length),
    eventType: text(OUTBOX_ATTRIBUTES.eventType),
    groupKey: text(OUTBOX_ATTRIBUTES.groupKey),
    payload: text(OUTBOX_ATTRIBUTES.payload),
    createdAt: text(OUTBOX_ATTRIBUTES.createdAt),
    publishedAt: text(OUTBOX_ATTRIBUTES.publishedAt),
    rejectedAt: text(OUTBOX_ATTRIBUTES.rejectedAt),
  };
}
