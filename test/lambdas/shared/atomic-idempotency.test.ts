import { GetItemCommand, PutItemCommand, type DynamoDBClient, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import {
  AtomicIdempotency,
  AtomicIdempotencyError,
  BusinessConditionFailedError,
  InvalidCommitError,
  RetryableCommitError,
  clientRequestToken,
} from '../../../lambdas/shared/atomic-idempotency/index.js';
import { fromAttributeMap } from '../../../lambdas/shared/attribute-values.js';
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

  it('rejects two Puts on one item, and a Put on the marker item', async () => {
    // Prepare
    const key = uniqueName('key');
    const put = (pk: string, sk: string): TransactWriteItem => ({ Put: { TableName: tableName, Item: { pk: { S: pk }, sk: { S: sk }, v: { N: '1' } } } });
    const marker = dedupKey('test', key);

    // Act / Assess: refused before anything is sent, so nothing is written
    await expect(
      core.commitOnce({ scope: 'test', key, ttlSeconds: 60, items: [put(`ITEM#${key}`, 'A'), put(`ITEM#${key}`, 'A')] }),
    ).rejects.toThrow(/item 1 targets the same item as item 0/);
    await expect(core.commitOnce({ scope: 'test', key, ttlSeconds: 60, items: [put(marker.pk, marker.sk)] })).rejects.toThrow(
      /item 0 targets the same item as the dedup marker/,
    );
    // Two Puts on different sort keys of one partition are distinct items.
    expect(await core.commitOnce({ scope: 'test', key, ttlSeconds: 60, items: [put(`ITEM#${key}`, 'A'), put(`ITEM#${key}`, 'B')] })).toEqual({
      status: 'committed',
    });
  });

  it("rejects a scope with '#' (scope a#b + key c would share the marker of scope a + key b#c), and an empty scope or key", async () => {
    // Prepare: scope s + key b#c is committed
    const scope = `s${uniqueName('x').replace(/-/g, '')}`;
    const first = await core.commitOnce({ scope, key: 'b#c-123', ttlSeconds: 60, items: [increment(tableName, scope)] });
    expect(first).toEqual({ status: 'committed' });

    // Act / Assess: scope s#b + key c-123 names the same marker item, DEDUP#s#b#c-123: refused, not a "duplicate"
    await expect(core.commitOnce({ scope: `${scope}#b`, key: 'c-123', ttlSeconds: 60, items: [increment(tableName, scope)] })).rejects.toThrow(
      new RegExp(`scope \\("${scope}#b"\\) must be a non-empty string without '#'`),
    );
    await expect(core.commitOnce({ scope: '', key: 'k-123456', ttlSeconds: 60, items: [] })).rejects.toThrow(/scope \(""\) must be a non-empty/);
    await expect(core.commitOnce({ scope: 'test', key: '', ttlSeconds: 60, items: [] })).rejects.toThrow(/key must be a non-empty idempotency key/);
    expect(await counter(client, tableName, scope)).toBe(1);
  });

  it('fails at once with a non-retryable AtomicIdempotencyError when the cancellation can never succeed (ValidationError)', async () => {
    // Prepare: the counter holds a string, so ADD fails every time (DynamoDB cancels with ValidationError)
    const key = uniqueName('key');
    await client.send(
      new PutItemCommand({ TableName: tableName, Item: { pk: { S: `COUNTER#${key}` }, sk: { S: 'COUNTER' }, n: { S: 'not a number' } } }),
    );

    // Act
    const error = await core.commitOnce({ scope: 'test', key, ttlSeconds: 60, items: [increment(tableName, key)] }).catch((e: unknown) => e);

    // Assess: DynamoDB Local answers ValidationException for the whole request (AWS cancels the transaction, below)
    expect(error).toBeInstanceOf(AtomicIdempotencyError);
    expect(error).not.toBeInstanceOf(RetryableCommitError);
    expect((error as Error).message).toMatch(/ValidationException/);
    expect(await counter(client, tableName, key)).toBe(0);
  });

  it.each(['ValidationError', 'ItemCollectionSizeLimitExceeded'])(
    'fails with a non-retryable AtomicIdempotencyError on a transaction cancelled with %s (mocked: AWS\'s shape, which DynamoDB Local does not produce)',
    async (code) => {
      const cancelled = Object.assign(new Error('Transaction cancelled'), {
        name: 'TransactionCanceledException',
        CancellationReasons: [{ Code: 'None' }, { Code: code }],
      });
      const fake = { send: async () => Promise.reject(cancelled) } as unknown as DynamoDBClient;
      const mocked = new AtomicIdempotency({ client: fake, tableName: 't' });

      const error = await mocked.commitOnce({ scope: 's', key: 'k-123456', ttlSeconds: 60, items: [] }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(AtomicIdempotencyError);
      expect(error).not.toBeInstanceOf(RetryableCommitError);
      expect((error as Error).message).toBe(`Transaction cancelled (None, ${code})`);
    },
  );

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

  describe('with the marker carried by one of the caller\'s Puts (markerItem)', () => {
    /** A Put keyed by the idempotency key: the kind of item that may carry the marker. */
    function receipt(key: string, note = 'first'): TransactWriteItem {
      return { Put: { TableName: tableName, Item: { pk: { S: `RECEIPT#${key}` }, sk: { S: 'RECEIPT' }, note: { S: note } } } };
    }

    async function stored(key: string) {
      const { Item } = await client.send(
        new GetItemCommand({ TableName: tableName, Key: { pk: { S: `RECEIPT#${key}` }, sk: { S: 'RECEIPT' } }, ConsistentRead: true }),
      );
      return Item;
    }

    it('commits without a separate marker item and reports a second delivery as a duplicate through the carrying item', async () => {
      // Prepare
      const key = uniqueName('key');
      const sent: Array<{ TransactItems?: TransactWriteItem[] }> = [];
      const spying = {
        send: (command: { input: { TransactItems?: TransactWriteItem[] } }) => {
          sent.push(command.input);
          return client.send(command as never);
        },
      } as unknown as DynamoDBClient;
      const carrying = new AtomicIdempotency({ client: spying, tableName });
      const input = { scope: 'test', key, ttlSeconds: 3600, items: [increment(tableName, key), receipt(key)], markerItem: 1, marker: { outcome: 'applied' } };

      // Act
      const first = await carrying.commitOnce(input);
      const second = await carrying.commitOnce({ ...input, items: [increment(tableName, key), receipt(key, 'second')], now: new Date(Date.now() + 1000) });

      // Assess: two actions per transaction (no DEDUP item); the duplicate sees the carrying item as stored (ALL_OLD).
      expect(first).toEqual({ status: 'committed' });
      expect(second.status).toBe('duplicate');
      expect(second.status === 'duplicate' && second.marker).toMatchObject({ note: 'first', outcome: 'applied', scope: 'test', idempotencyKey: key });
      expect(sent.map((input) => input.TransactItems?.length)).toEqual([2, 2]);
      expect(await counter(client, tableName, key)).toBe(1);
      expect(fromAttributeMap((await stored(key))!)).toMatchObject({ note: 'first', scope: 'test', idempotencyKey: key, outcome: 'applied' });
      expect(Number((await stored(key))!.expiresAt!.N)).toBeGreaterThan(Date.now() / 1000 + 3500);
      const separate = await client.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: dedupKey('test', key).pk }, sk: { S: 'DEDUP' } } }));
      expect(separate.Item).toBeUndefined();
    });

    it('treats an expired carrying item that TTL has not deleted yet as absent (F6)', async () => {
      // Prepare: the item exists, expired on the commit's clock (an hour ahead) but not on DynamoDB Local's TTL sweeper.
      const key = uniqueName('key');
      const later = new Date(Date.now() + 3_600_000);
      await client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: { pk: { S: `RECEIPT#${key}` }, sk: { S: 'RECEIPT' }, expiresAt: { N: String(Math.floor(Date.now() / 1000) + 60) } },
        }),
      );

      // Act
      const result = await core.commitOnce({ scope: 'test', key, ttlSeconds: 60, items: [receipt(key, 'again'), increment(tableName, key)], markerItem: 0, now: later });

      // Assess
      expect(result).toEqual({ status: 'committed' });
      expect(await counter(client, tableName, key)).toBe(1);
      expect((await stored(key))?.note?.S).toBe('again');
    });

    it('rejects with BusinessConditionFailedError indexed in the caller\'s items when another item fails', async () => {
      const key = uniqueName('key');
      const failing: TransactWriteItem = {
        ConditionCheck: {
          TableName: tableName,
          Key: { pk: { S: `ABSENT#${key}` }, sk: { S: 'ABSENT' } },
          ConditionExpression: 'attribute_exists(pk)',
        },
      };

      const error = await core
        .commitOnce({ scope: 'test', key, ttlSeconds: 60, items: [failing, receipt(key)], markerItem: 1 })
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(BusinessConditionFailedError);
      expect((error as BusinessConditionFailedError).itemIndex).toBe(0);
      expect(await stored(key)).toBeUndefined();
    });

    it('rejects a markerItem that is out of range or not a Put', async () => {
      const key = uniqueName('key');
      await expect(core.commitOnce({ scope: 'test', key, ttlSeconds: 60, items: [receipt(key)], markerItem: 1 })).rejects.toThrow(
        /markerItem \(1\) must be the index of a Put in items \(0 to 0\)/,
      );
      await expect(core.commitOnce({ scope: 'test', key, ttlSeconds: 60, items: [increment(tableName, key)], markerItem: 0 })).rejects.toThrow(
        /markerItem \(0\) names an action of type Update; only a Put can carry the marker/,
      );
    });

    it('rejects a carrying Put with its own condition, or with an attribute the marker writes', async () => {
      const key = uniqueName('key');
      const conditioned = receipt(key);
      conditioned.Put!.ConditionExpression = 'attribute_not_exists(pk)';
      await expect(core.commitOnce({ scope: 'test', key, ttlSeconds: 60, items: [conditioned], markerItem: 0 })).rejects.toThrow(
        /items\[0\] has its own condition or expression attributes/,
      );
      const withTtl = receipt(key);
      withTtl.Put!.Item!.expiresAt = { N: '1' };
      await expect(core.commitOnce({ scope: 'test', key, ttlSeconds: 60, items: [withTtl], markerItem: 0 })).rejects.toThrow(
        /items\[0\] already has "expiresAt", which the marker writes/,
      );
      await expect(
        core.commitOnce({ scope: 'test', key, ttlSeconds: 60, items: [receipt(key)], markerItem: 0, marker: { note: 'x' } }),
      ).rejects.toThrow(/items\[0\] already has "note"/);
    });

    it('rejects more than 100 actions (no separate marker takes a slot)', async () => {
      const items = [receipt('k-123456'), ...Array.from({ length: 100 }, (_, i) => increment(tableName, `c${i}`))];
      await expect(core.commitOnce({ scope: 'test', key: 'k-123456', ttlSeconds: 60, items, markerItem: 0 })).rejects.toThrow(
        /items has 101 actions; a transaction holds at most 100/,
      );
    });

    it('fails with RetryableCommitError on a conflict on the carrying item (mocked: DynamoDB Local cannot conflict on demand)', async () => {
      const conflict = Object.assign(new Error('Transaction cancelled'), {
        name: 'TransactionCanceledException',
        CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }],
      });
      const fake = { send: async () => Promise.reject(conflict) } as unknown as DynamoDBClient;
      const mocked = new AtomicIdempotency({ client: fake, tableName: 't' });
      const items = [increment('t', 'x'), { Put: { TableName: 't', Item: { pk: { S: 'R#1' }, sk: { S: 'R' } } } }];
      await expect(mocked.commitOnce({ scope: 's', key: 'k-123456', ttlSeconds: 60, items, markerItem: 1 })).rejects.toThrow(RetryableCommitError);
    });
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
