import { UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { OUTBOX_ATTRIBUTES } from '../shared/atomic-idempotency/constants.js';
import { outboxKey } from '../shared/ledger-keys.js';

/** How many UpdateItem calls run at once when marking a batch. */
const MARK_CONCURRENCY = 10;

/** Records on the outbox items what became of their events: published, or rejected for good. */
export interface OutboxMarks {
  /**
   * Sets `publishedAt` (kept if already set) on each item, one UpdateItem each (1 write unit per item ≤ 1 KB).
   * @returns the event ids whose mark failed (their items stay unpublished: the sweeper publishes them again later).
   */
  markPublished(eventIds: readonly string[], now: Date): Promise<string[]>;
  /**
   * Sets `rejectedAt` and `rejectReason` on one item, so the sweeper leaves it and an operator finds it.
   * @throws the SDK error when the write fails (the caller retries the record rather than lose the reason).
   */
  markRejected(eventId: string, reason: string, now: Date): Promise<void>;
}

/** {@link OutboxMarks} on a DynamoDB table. An item already deleted by TTL is not re-created (condition on `pk`). */
export function dynamoDbOutboxMarks(client: Pick<DynamoDBClient, 'send'>, tableName: string): OutboxMarks {
  const update = async (eventId: string, expression: string, values: Record<string, string>) => {
    const key = outboxKey(eventId);
    try {
      await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { pk: { S: key.pk }, sk: { S: key.sk } },
          UpdateExpression: expression,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: Object.fromEntries(Object.keys(values).map((name) => [`#${name}`, name])),
          ExpressionAttributeValues: Object.fromEntries(Object.entries(values).map(([name, value]) => [`:${name}`, { S: value }])),
        }),
      );
    } catch (error) {
      // Gone (TTL): nothing left to mark, and nothing for the sweeper to find.
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
    }
  };
  return {
    async markPublished(eventIds, now) {
      const failed: string[] = [];
      const at = now.toISOString();
      for (let start = 0; start < eventIds.length; start += MARK_CONCURRENCY) {
        const chunk = eventIds.slice(start, start + MARK_CONCURRENCY);
        const results = await Promise.allSettled(
          chunk.map((id) =>
            update(id, `SET #${OUTBOX_ATTRIBUTES.publishedAt} = if_not_exists(#${OUTBOX_ATTRIBUTES.publishedAt}, :${OUTBOX_ATTRIBUTES.publishedAt})`, {
              [OUTBOX_ATTRIBUTES.publishedAt]: at,
            }),
          ),
        );
        results.forEach((r, i) => r.status === 'rejected' && failed.push(chunk[i]!));
      }
      return failed;
    },
    async markRejected(eventId, reason, now) {
      await update(eventId, `SET #${OUTBOX_ATTRIBUTES.rejectedAt} = :${OUTBOX_ATTRIBUTES.rejectedAt}, #${OUTBOX_ATTRIBUTES.rejectReason} = :${OUTBOX_ATTRIBUTES.rejectReason}`, {
        [OUTBOX_ATTRIBUTES.rejectedAt]: now.toISOString(),
        [OUTBOX_ATTRIBUTES.rejectReason]: reason.slice(0, 1000),
      });
    },
  };
}
