import { ScanCommand, type DynamoDBClient, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import { OUTBOX_ATTRIBUTES } from '../shared/atomic-idempotency/constants.js';
import { readOutboxItem } from '../shared/atomic-idempotency/readOutboxItem.js';
import type { OutboxItem } from '../shared/atomic-idempotency/types.js';
import { OUTBOX_PREFIX } from '../shared/ledger-keys.js';

/** Which outbox items to find. */
export interface OutboxItemFilter {
  /** Only items never published (no `publishedAt`). @default true */
  readonly unpublishedOnly?: boolean;
  /** Also items the relay rejected (`rejectedAt`). @default false */
  readonly includeRejected?: boolean;
  /** Only this event type. @default - every type */
  readonly eventType?: string;
  /** Only items created at or after this time. @default - no lower bound */
  readonly createdFrom?: Date;
  /** Only items created before this time. @default - no upper bound */
  readonly createdBefore?: Date;
}

/**
 * Finds outbox items with a paged, filtered Scan of the effects table.
 *
 * A Scan reads (and bills) the whole table: 0.5 read unit per 4 KB, eventually consistent, whatever the filter keeps.
 * That is the price of the sweeper's +0 write units per event (BENCHMARKS.md, "Outbox recovery"): no index entry is
 * written per event to make unpublished items queryable.
 * @returns the items, oldest first (items without `createdAt` first: their age is unknown).
 */
export async function findOutboxItems(client: Pick<DynamoDBClient, 'send'>, tableName: string, filter: OutboxItemFilter = {}): Promise<OutboxItem[]> {
  const conditions = ['begins_with(pk, :outbox)'];
  const values: Record<string, { S: string }> = { ':outbox': { S: OUTBOX_PREFIX } };
  const names: Record<string, string> = {};
  if (filter.unpublishedOnly ?? true) {
    conditions.push('attribute_not_exists(#publishedAt)');
    names['#publishedAt'] = OUTBOX_ATTRIBUTES.publishedAt;
  }
  if (!filter.includeRejected) {
    conditions.push('attribute_not_exists(#rejectedAt)');
    names['#rejectedAt'] = OUTBOX_ATTRIBUTES.rejectedAt;
  }
  if (filter.eventType) {
    conditions.push('#eventType = :eventType');
    names['#eventType'] = OUTBOX_ATTRIBUTES.eventType;
    values[':eventType'] = { S: filter.eventType };
  }
  // ISO-8601 UTC strings compare in time order.
  if (filter.createdFrom) {
    conditions.push('#createdAt >= :from');
    names['#createdAt'] = OUTBOX_ATTRIBUTES.createdAt;
    values[':from'] = { S: filter.createdFrom.toISOString() };
  }
  if (filter.createdBefore) {
    conditions.push('#createdAt < :before');
    names['#createdAt'] = OUTBOX_ATTRIBUTES.createdAt;
    values[':before'] = { S: filter.createdBefore.toISOString() };
  }
  const items: OutboxItem[] = [];
  let start: ScanCommandOutput['LastEvaluatedKey'];
  do {
    const page: ScanCommandOutput = await client.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: conditions.join(' AND '),
        ExpressionAttributeNames: Object.keys(names).length ? names : undefined,
        ExpressionAttributeValues: values,
        ExclusiveStartKey: start,
      }),
    );
    for (const raw of page.Items ?? []) {
      const item = readOutboxItem(raw);
      if (item) items.push(item);
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return items.sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? ''));
}
