import { PutItemCommand, type DynamoDBClient, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import {
  AtomicIdempotency,
  AtomicIdempotencyError,
  InvalidCommitError,
  RetryableCommitError,
} from '../../../lambdas/shared/atomic-idempotency/index.js';
import { dedupKey } from '../../../lambdas/shared/ledger-keys.js';
import { createLedgerTable, localDynamoDb, uniqueName } from '../../fixtures/tables.js';

/**
 * AtomicIdempotency's contract at its edges (issue 11 #8): what a caller is told for each way DynamoDB can refuse
 * (the error class decides retry or not), which inputs are refused before anything is sent and how the message says
 * to fix them, and the strict marker mode the ledger uses. Faults DynamoDB Local cannot produce go through a fake
 * client that answers the way DynamoDB does; everything else runs on DynamoDB Local.
 */

/** A client that records what would be sent and answers with `answer` (a rejection, or success). */
function fakeClient(answer?: unknown): { client: DynamoDBClient; sent: number } {
  const state = { sent: 0 };
  const client = {
    send: async () => {
      state.sent += 1;
      if (answer !== undefined) throw answer;
      return {};
    },
  } as unknown as DynamoDBClient;
  return {
    client,
    get sent() {
      return state.sent;
    },
  };
}

const put = (table: string, pk: string, sk = 'A'): TransactWriteItem => ({ Put: { TableName: table, Item: { pk: { S: pk }, sk: { S: sk } } } });
const input = { scope: 's', key: 'k-123456', ttlSeconds: 60 };

describe('AtomicIdempotency: what the caller is told when DynamoDB refuses', () => {
  it.each(['ProvisionedThroughputExceededException', 'ThrottlingException', 'TransactionInProgressException'])(
    'fails with a RetryableCommitError naming %s when the request itself is throttled or in progress',
    async (name) => {
      const refusal = Object.assign(new Error('refused'), { name });
      const core = new AtomicIdempotency({ client: fakeClient(refusal).client, tableName: 't' });

      const error = (await core.commitOnce({ ...input, items: [] }).catch((e: unknown) => e)) as RetryableCommitError;

      expect(error).toBeInstanceOf(RetryableCommitError);
      expect(error.message).toBe(`Transaction refused, retry later (${name})`);
      expect(error.reasons).toEqual([name]);
      expect(error.cause).toBe(refusal);
    },
  );

  it('fails with a non-retryable error naming the failure, or "unknown error" for one without a name, keeping it as cause', async () => {
    const named = Object.assign(new Error('bad'), { name: 'ResourceNotFoundException' });
    const a = (await new AtomicIdempotency({ client: fakeClient(named).client, tableName: 't' }).commitOnce({ ...input, items: [] }).catch((e: unknown) => e)) as Error;
    const b = (await new AtomicIdempotency({ client: fakeClient(null).client, tableName: 't' }).commitOnce({ ...input, items: [] }).catch((e: unknown) => e)) as Error;

    expect(a).toBeInstanceOf(AtomicIdempotencyError);
    expect(a).not.toBeInstanceOf(RetryableCommitError);
    expect(a.message).toBe('Transaction failed (ResourceNotFoundException)');
    expect(a.cause).toBe(named);
    expect(b.message).toBe('Transaction failed (unknown error)');
  });

  it('lists the cancellation codes in the error, "None" for a reason without code, and keeps the cancellation as cause', async () => {
    const conflict = Object.assign(new Error('cancelled'), { name: 'TransactionCanceledException', CancellationReasons: [{}, { Code: 'TransactionConflict' }] });
    const noReasons = Object.assign(new Error('cancelled'), { name: 'TransactionCanceledException' });

    const retry = (await new AtomicIdempotency({ client: fakeClient(conflict).client, tableName: 't' }).commitOnce({ ...input, items: [] }).catch((e: unknown) => e)) as RetryableCommitError;
    const plain = (await new AtomicIdempotency({ client: fakeClient(noReasons).client, tableName: 't' }).commitOnce({ ...input, items: [] }).catch((e: unknown) => e)) as Error;

    expect(retry).toBeInstanceOf(RetryableCommitError);
    expect(retry.message).toBe('Transaction cancelled, retry later (None, TransactionConflict)');
    expect(retry.reasons).toEqual(['None', 'TransactionConflict']);
    expect(retry.cause).toBe(conflict);
    expect(plain).not.toBeInstanceOf(RetryableCommitError);
    expect(plain.message).toBe('Transaction cancelled ()');
    expect(plain.cause).toBe(noReasons);
  });
});

describe('AtomicIdempotency: inputs refused before anything is sent', () => {
  it('rejects a missing table name at construction', () => {
    expect(() => new AtomicIdempotency({ client: fakeClient().client, tableName: '' })).toThrow(
      new InvalidCommitError('tableName is required: pass the table that holds the markers'),
    );
  });

  it('names a fractional TTL in the message', async () => {
    const fake = fakeClient();
    await expect(new AtomicIdempotency({ client: fake.client, tableName: 't' }).commitOnce({ ...input, ttlSeconds: 1.5, items: [] })).rejects.toThrow(
      'ttlSeconds (1.5) must be a positive integer number of seconds',
    );
    expect(fake.sent).toBe(0);
  });

  it('accepts 99 business items with a separate marker and 100 with a carried one (the transaction limit is 100 actions)', async () => {
    const fake = fakeClient();
    const core = new AtomicIdempotency({ client: fake.client, tableName: 't' });
    const items = (n: number) => Array.from({ length: n }, (_, i) => put('t', `ITEM#${i}`));

    expect(await core.commitOnce({ ...input, items: items(99) })).toEqual({ status: 'committed' });
    expect(await core.commitOnce({ ...input, items: items(100), markerItem: 0 })).toEqual({ status: 'committed' });
    await expect(core.commitOnce({ ...input, items: items(101), markerItem: 0 })).rejects.toThrow(/items has 101 actions; a transaction holds at most 100/);
    expect(fake.sent).toBe(2);
  });

  it.each([-1, 0.5])('rejects markerItem %s: it must be the index of a Put', async (markerItem) => {
    const core = new AtomicIdempotency({ client: fakeClient().client, tableName: 't' });
    await expect(core.commitOnce({ ...input, items: [put('t', 'ITEM#1')], markerItem })).rejects.toThrow(
      `markerItem (${markerItem}) must be the index of a Put in items (0 to 0)`,
    );
  });

  it('rejects a carrying Put without its partition key, and names every marker attribute it already holds', async () => {
    const core = new AtomicIdempotency({ client: fakeClient().client, tableName: 't' });
    const keyless: TransactWriteItem = { Put: { TableName: 't', Item: { sk: { S: 'A' } } } };
    const withTwo: TransactWriteItem = { Put: { TableName: 't', Item: { pk: { S: 'P' }, scope: { S: 'x' }, expiresAt: { N: '1' } } } };
    const withOne: TransactWriteItem = { Put: { TableName: 't', Item: { pk: { S: 'P' }, scope: { S: 'x' } } } };

    await expect(core.commitOnce({ ...input, items: [keyless], markerItem: 0 })).rejects.toThrow(
      'items[0] has no "pk" attribute: the item that carries the marker must hold its key',
    );
    await expect(core.commitOnce({ ...input, items: [withTwo], markerItem: 0 })).rejects.toThrow(
      /^items\[0\] already has "expiresAt", "scope", which the marker writes: drop them from the item/,
    );
    await expect(core.commitOnce({ ...input, items: [withOne], markerItem: 0 })).rejects.toThrow(
      /^items\[0\] already has "scope", which the marker writes: drop it from the item/,
    );
  });

  it('recognises one item whatever the order of its key attributes, and keeps items of two tables apart', async () => {
    const fake = fakeClient();
    const core = new AtomicIdempotency({ client: fake.client, tableName: 't' });
    const update: TransactWriteItem = {
      Update: { TableName: 't', Key: { sk: { S: 'A' }, pk: { S: 'ITEM#1' } }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': { N: '1' } } },
    };

    await expect(core.commitOnce({ ...input, items: [put('t', 'ITEM#1'), update] })).rejects.toThrow(/item 1 targets the same item as item 0/);
    expect(await core.commitOnce({ ...input, items: [put('t', 'ITEM#1'), put('other', 'ITEM#1')] })).toEqual({ status: 'committed' });
  });
});

describe('AtomicIdempotency with reuseExpiredMarkers: false (the ledger mode, DynamoDB Local)', () => {
  let client: DynamoDBClient;
  let tableName: string;

  beforeAll(async () => {
    client = localDynamoDb(inject('ddbEndpoint'));
    tableName = await createLedgerTable(client);
  });

  it('reports a key whose marker expired but is still present as a duplicate, and commits a fresh key', async () => {
    const core = new AtomicIdempotency({ client, tableName, reuseExpiredMarkers: false });
    const key = uniqueName('key');
    const marker = dedupKey('strict', key);
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: { pk: { S: marker.pk }, sk: { S: marker.sk }, expiresAt: { N: String(Math.floor(Date.now() / 1000) - 10) }, outcome: { S: 'applied' } },
      }),
    );

    const expired = await core.commitOnce({ scope: 'strict', key, ttlSeconds: 60, items: [put(tableName, `ITEM#${key}`)] });
    const fresh = await core.commitOnce({ scope: 'strict', key: uniqueName('key'), ttlSeconds: 60, items: [] });

    expect(expired).toMatchObject({ status: 'duplicate', marker: { outcome: 'applied' } });
    expect(fresh).toEqual({ status: 'committed' });
  });
});
