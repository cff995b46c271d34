import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { AtomicIdempotency, outboxPut, readOutboxItem } from '../../../lambdas/shared/atomic-idempotency/index.js';
import { createLedgerTable, localDynamoDb } from '../../fixtures/tables.js';

let client: DynamoDBClient;
let tableName: string;
beforeAll(async () => {
  client = localDynamoDb(inject('ddbEndpoint'));
  tableName = await createLedgerTable(client);
});

const now = new Date('2026-12-01T12:00:00.000Z');

describe('outboxPut (the outbox item every consumer shares)', () => {
  it('writes the shared format, conditioned on absence, with createdAt and a TTL', () => {
    const put = outboxPut({ tableName: 't', eventId: 'evt_orders_1', eventType: 'OrderPlaced', groupKey: 'o-1', payload: { a: 1 }, now, ttlSeconds: 60 }).Put!;
    expect(put.ConditionExpression).toBe('attribute_not_exists(pk)');
    expect(readOutboxItem(put.Item)).toEqual({
      eventId: 'evt_orders_1',
      eventType: 'OrderPlaced',
      groupKey: 'o-1',
      payload: '{"a":1}',
      createdAt: now.toISOString(),
      publishedAt: undefined,
      rejectedAt: undefined,
    });
    expect(put.Item?.expiresAt?.N).toBe(String(now.getTime() / 1000 + 60));
  });

  it('can carry the dedup marker: commitOnce adds createdAt, the TTL and the condition, and a duplicate is reported', async () => {
    const core = new AtomicIdempotency({ client, tableName });
    const items = [outboxPut({ tableName, eventId: 'evt_carried_1', eventType: 'OrderPlaced', groupKey: 'o-2', payload: { b: 2 }, now, carriesMarker: true })];
    const first = await core.commitOnce({ scope: 'orders', key: 'k-carried', ttlSeconds: 3600, items, markerItem: 0, now });
    // A redelivery builds its transaction at a later time (the same request would be a ClientRequestToken replay).
    const later = new Date(now.getTime() + 1000);
    const again = await core.commitOnce({ scope: 'orders', key: 'k-carried', ttlSeconds: 3600, items, markerItem: 0, now: later });
    expect([first.status, again.status]).toEqual(['committed', 'duplicate']);
    const { Item } = await client.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: 'OUTBOX#evt_carried_1' }, sk: { S: 'OUTBOX' } } }));
    expect(readOutboxItem(Item)).toMatchObject({ eventType: 'OrderPlaced', groupKey: 'o-2', createdAt: now.toISOString() });
  });

  it('throws naming the field for an empty id, type or group key, and for a payload that is not JSON', () => {
    const base = { tableName: 't', eventId: 'e', eventType: 'T', groupKey: 'g', payload: {}, now };
    expect(() => outboxPut({ ...base, groupKey: '' })).toThrow(/outbox groupKey \(""\) must be a non-empty string/);
    expect(() => outboxPut({ ...base, eventType: '' })).toThrow(/outbox eventType/);
    expect(() => outboxPut({ ...base, payload: { n: 1n } })).toThrow(/outbox payload of e is not JSON-serialisable/);
    expect(() => outboxPut({ ...base, payload: undefined })).toThrow(/outbox payload of e is undefined/);
    expect(readOutboxItem({ pk: { S: 'ACCOUNT#a' } })).toBeNull();
  });
});
