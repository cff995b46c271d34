import { GetItemCommand, PutItemCommand, type DynamoDBClient, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import {
  AtomicIdempotency,
  BusinessConditionFailedError,
  InvalidCommitError,
  RetryableCommitError,
  clientRequestToken,
} from '../../../lambdas/shared/atomic-idempotency/index.js';
import { dedupKey } from '../../../lambdas/shared/ledger-keys.js';
import { createLedgerTable, localDynamoDb, uniqueName } from '../../fixtures/tables.js';

/** A counter increment: the effect whose double application the core must prevent. */
function increment(tableName: string, counterId: string): TransactWriteItem {
  return {
    Update: {
      TableName: tableName,
      Key: { pk: { S: `COUNTER#${counterId}` }, sk: { S: 'COUNTER' } },
      UpdateExpression: 'ADD #n :one',
      ExpressionAttributeNames: { '#n': 'n' },
      ExpressionAttributeValues: { ':one': { N: '1' } },
    },
  };
}

async function counter(client: DynamoDBClient, tableName: string, counterId: string): Promise<number> {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: tableName, Key: { pk: { S: `COUNTER#${counterId}` }, sk: { S: 'COUNTER' } }, ConsistentRead: true }),
  );
  return Item?.n?.N ? Number(Item.n.N) : 0;
}

describe('AtomicIdempotency.commitOnce', () => {
  let client: DynamoDBClient;
  let tableName: string;
  let core: AtomicIdempotency;

  beforeAll(async () => {
    client = localDynamoDb(inject('ddbEndpoint'));
    tableName = await createLedgerTable(client);
    core = new AtomicIdempotency({ client, tableName });
  });

  it('commits the business items once and reports a second delivery of the key as a duplicate with the stored marker', async () => {
    // Prepare
    const key = uniqueName('key');
    const input = { scope: 'test', key, ttlSeconds: 3600, items: [increment(tableName, key)], marker: { outcome: 'applied' } };

    // Act
    const first = await core.commitOnce(input);
    const second = await core.commitOnce(input);
    const third = await core.commitOnce({ ...input, now: new Date(Date.now() + 1000) });

    // Assess
    expect(first).toEqual({ status: 'committed' });
    expect(second.status).toBe('duplicate');
    expect(third.status).toBe('duplicate');
    expect(second.status === 'duplicate' && second.marker).toMatchObject({ outcome: 'applied', idempotencyKey: key, scope: 'test' });
    expect(await counter(client, tableName, key)).toBe(1);
  });

  it('keeps scopes apart: two consumers of one key each commit once', async () => {
    const key = uniqueName('key');
    const a = await core.commitOnce({ scope: 'a', key, ttlSeconds: 60, items: [increment(tableName, key)] });
    const b = await core.commitOnce({ scope: 'b', key, ttlSeconds: 60, items: [increment(tableName, key)] });
    expect([a.status, b.status]).toEqual(['committed', 'committed']);
    expect(await counter(client, tableName, key)).toBe(2);
  });

  it('treats an expired marker that TTL has not deleted yet as absent (F6)', async () => {
    // Prepare: a marker whose expiresAt is in the past, still present in the table.
    const key = uniqueName('key');
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          pk: { S: dedupKey('test', key).pk },
          sk: { S: 'DEDUP' },
          expiresAt: { N: String(Math.floor(Date.now() / 1000) - 10) },
        },
      }),
    );

    // Act
    const result = await core.commitOnce({ scope: 'test', key, ttlSeconds: 60, items: [increment(tableName, key)] });

    // Assess
    expect(result).toEqual({ status: 'committed' });
    expect(await counter(client, tableName, key)).toBe(1);
  });

  it('rejects with BusinessConditionFailedError naming the item and the stored item, and writes nothing', async () => {
    // Prepare: item 1's condition cannot hold.
    const key = uniqueName('key');
    const failing: TransactWriteItem = {
      Update: {
        TableName: tableName,
        Key: { pk: { S: `LIMIT#${key}` }, sk: { S: 'LIMIT' } },
        UpdateExpression: 'SET #v = :v',
        ConditionExpression: 'attribute_exists(#v)',
        ExpressionAttributeNames: { '#v': 'v' },
        ExpressionAttributeValues: { ':v': { N: '1' } },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };

    // Act
    const error = await core
      .commitOnce({ scope: 'test', key, ttlSeconds: 60, items: [increment(tableName, key), failing] })
      .catch((e: unknown) => e);

    // Assess: typed error with the index; the marker was not written, so the key can still commit another outcome.
    expect(error).toBeInstanceOf(BusinessConditionFailedError);
    expect((error as BusinessConditionFailedError).itemIndex).toBe(1);
    expect((error as Error).cause).toBeDefined();
    expect(await counter(client, tableName, key)).toBe(0);
    const retry = await core.commitOnce({ scope: 'test', key, ttlSeconds: 60, items: [increment(tableName, key)] });
    expect(retry.status).toBe('committed');
  });

  it('rejects more than 99 business items with a message naming the count and the limit', async () => {
    const items = Array.from({ length: 100 }, (_, i) => increment(tableName, `c${i}`));
    await expect(core.commitOnce({ scope: 'test', key: 'k-123456', ttlSeconds: 60, items })).rejects.toThrow(
      /items has 100 actions; a transaction holds at most 99 business items/,
    );
  });

  it('rejects two actions on the same item, and an item that is the marker itself', async () => {
    const key = uniqueName('key');
    await expect(
      core.commitOnce({ scope: 'test', key, ttlSeconds: 60, items: [increment(tableName, key), increment(tableName, key)] }),
    ).rejects.toThrow(/item 1 targets the same item as item 0/);
    const markerTouch: TransactWriteItem = {
      ConditionCheck: {
        TableName: tableName,
        Key: { pk: { S: dedupKey('test', key).pk }, sk: { S: 'DEDUP' } },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
    await expect(core.commitOnce({ scope: 'test', key, ttlSeconds: 60, items: [markerTouch] })).rejects.toThrow(
      /same item as the dedup marker/,
    );
  });

  it('rejects a non-positive TTL and a reserved marker attribute', async () => {
    await expect(core.commitOnce({ scope: 'test', key: 'k-123456', ttlSeconds: 0, items: [] })).rejects.toThrow(InvalidCommitError);
    await expect(
      core.commitOnce({ scope: 'test', key: 'k-123456', ttlSeconds: 60, items: [], marker: { expiresAt: 1 } }),
    ).rejects.toThrow(/marker attribute "expiresAt" is reserved/);
  });

  it('fails with RetryableCommitError on a transaction conflict (mocked: DynamoDB Local cannot be made to conflict on demand)', async () => {
    const conflict = Object.assign(new Error('Transaction cancelled'), {
      name: 'TransactionCanceledException',
      CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }],
    });
    const fake = { send: async () => Promise.reject(conflict) } as unknown as DynamoDBClient;
    const mocked = new AtomicIdempotency({ client: fake, tableName: 't' });
    const error = await mocked.commitOnce({ scope: 's', key: 'k-123456', ttlSeconds: 60, items: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableCommitError);
    expect((error as RetryableCommitError).reasons).toEqual(['None', 'TransactionConflict']);
    expect((error as Error).cause).toBe(conflict);
  });

  it('derives the ClientRequestToken from key and content: an SDK resend matches, a redelivery does not', () => {
    const items = [increment('t', 'x')];
    const a = clientRequestToken('s', 'key-1', items);
    expect(a).toHaveLength(36);
    expect(clientRequestToken('s', 'key-1', items)).toBe(a);
    expect(clientRequestToken('s', 'key-2', items)).not.toBe(a);
    expect(clientRequestToken('s', 'key-1', [increment('t', 'y')])).not.toBe(a);
  });
});
