import {
  BatchGetItemCommand,
  DescribeTableCommand,
  GetItemCommand,
  TransactWriteItemsCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { AtomicLedgerStrategy, LEDGER_SCOPE, ledgerMarkerKey } from '../../../lambdas/ledger/strategies/atomic.js';
import { LedgerReadThrottledError, PoisonMessageError } from '../../../lambdas/ledger/errors.js';
import { RetryableError } from '../../../lambdas/shared/errors.js';
import { fromAttributeMap } from '../../../lambdas/shared/attribute-values.js';
import { accountKey, dedupKey, outboxKey } from '../../../lambdas/shared/ledger-keys.js';
import { eventIdFor } from '../../../lambdas/shared/payments-model.js';
import { itemSize } from '../../../scripts/bench/capacity.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/emulators.js';
import { createLedgerTable, localDynamoDb, uniqueName } from '../../fixtures/tables.js';
import { nextSequenceNumber, paymentMessage } from '../../fixtures/events.js';

/**
 * The atomic ledger's cost shape (issue 5: ≤ 4 WU per applied payment, outbox included): the outbox item carries the
 * dedup marker, so an applied or rejected payment is ONE transaction of TWO items, read first with ONE eventually
 * consistent BatchGetItem; a duplicate costs that read and no write. Against DynamoDB Local, counting the requests
 * the strategy sends through a spy on the real client.
 */
let client: DynamoDBClient;
let tableName: string;

beforeAll(async () => {
  client = localDynamoDb(inject('ddbEndpoint'));
  tableName = await createLedgerTable(client);
});

afterEach(() => {
  vi.restoreAllMocks();
});

type SentCommand = { constructor: { name: string }; input: Record<string, unknown> };

/** Spies on the real client's `send` (calls go through) and returns the commands sent so far. */
function recordCommands(target: DynamoDBClient): () => SentCommand[] {
  const spy = vi.spyOn(target, 'send');
  return () => spy.mock.calls.map((call) => call[0] as unknown as SentCommand);
}

function delivery(message: ReturnType<typeof paymentMessage>, receiveCount = 1) {
  return { message, messageId: uniqueName('m'), sequenceNumber: nextSequenceNumber(), receiveCount };
}

async function getItem(key: { pk: string; sk: string }): Promise<Record<string, AttributeValue> | undefined> {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: tableName, Key: { pk: { S: key.pk }, sk: { S: key.sk } }, ConsistentRead: true }),
  );
  return Item;
}

describe('atomic ledger cost shape (DynamoDB Local)', () => {
  it('applies a payment with one eventually consistent BatchGetItem and ONE transaction of exactly two items', async () => {
    // Prepare
    const strategy = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 3600 });
    const message = paymentMessage(uniqueName('key-shape'), { accountId: uniqueName('acc'), amount: 700 });
    const sent = recordCommands(client);

    // Act
    const outcome = await strategy.apply(delivery(message));

    // Assess: the request shape that AWS bills as 2 × 2 WU + 2 × 0.5 RU.
    expect(outcome).toMatchObject({ status: 'applied', balance: 700 });
    const commands = sent();
    expect(commands.map((c) => c.constructor.name)).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand']);
    const read = commands[0]!.input as { RequestItems: Record<string, { Keys: unknown[]; ConsistentRead?: boolean }> };
    expect(read.RequestItems[tableName]!.Keys).toHaveLength(2);
    expect(read.RequestItems[tableName]!.ConsistentRead).toBe(false);
    const transaction = commands[1]!.input as { TransactItems: Array<{ Update?: { Key: Record<string, AttributeValue> }; Put?: { Item: Record<string, AttributeValue>; ConditionExpression?: string } }> };
    expect(transaction.TransactItems).toHaveLength(2);
    expect(transaction.TransactItems[0]!.Update?.Key.pk).toEqual({ S: accountKey(message.accountId).pk });
    expect(transaction.TransactItems[1]!.Put?.Item.pk).toEqual({ S: outboxKey(eventIdFor(message.paymentId)).pk });
    // Absent only: an expired outbox item still proves the payment was applied (issue 11 #2).
    expect(transaction.TransactItems[1]!.Put?.ConditionExpression).toBe('attribute_not_exists(#pk)');

    // The outbox item is the marker: it holds the marker attributes; no separate DEDUP item exists.
    const outbox = await getItem(ledgerMarkerKey(message.idempotencyKey));
    expect(outbox && fromAttributeMap(outbox)).toMatchObject({ scope: LEDGER_SCOPE, idempotencyKey: message.idempotencyKey, eventType: 'PaymentApplied' });
    expect(Number(outbox?.expiresAt?.N)).toBeGreaterThan(Date.now() / 1000 + 3500);
    expect(await getItem(dedupKey(LEDGER_SCOPE, message.idempotencyKey))).toBeUndefined();
  });

  it('reads strongly consistent when consistentRead is on, with the same two-item transaction', async () => {
    const strategy = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 3600, consistentRead: true });
    const sent = recordCommands(client);

    await strategy.apply(delivery(paymentMessage(uniqueName('key-consistent'), { accountId: uniqueName('acc'), amount: 3 })));

    const [read, transaction] = sent();
    expect((read!.input.RequestItems as Record<string, { ConsistentRead?: boolean }>)[tableName]!.ConsistentRead).toBe(true);
    expect((transaction!.input.TransactItems as unknown[]).length).toBe(2);
  });

  it('records a rejection with the same shape: one transaction of two items (account counter + PaymentRejected)', async () => {
    const strategy = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 3600 });
    const debit = paymentMessage(uniqueName('key-reject'), { accountId: uniqueName('acc'), amount: -5 });
    const sent = recordCommands(client);

    const outcome = await strategy.apply(delivery(debit));

    expect(outcome).toMatchObject({ status: 'rejected', reason: 'INSUFFICIENT_FUNDS' });
    const transactions = sent().filter((c) => c instanceof TransactWriteItemsCommand);
    expect(transactions).toHaveLength(1);
    expect((transactions[0]!.input.TransactItems as unknown[]).length).toBe(2);
  });

  it('skips a redelivery with one BatchGetItem and no write at all', async () => {
    // Prepare
    const strategy = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 3600 });
    const message = paymentMessage(uniqueName('key-dup'), { accountId: uniqueName('acc'), amount: 40 });
    await strategy.apply(delivery(message));
    const sent = recordCommands(client);

    // Act: the same message again, and a producer re-send (new messageId and sequence number, same key).
    const again = await strategy.apply(delivery(message, 2));
    const resent = await strategy.apply(delivery({ ...message, requestedAt: new Date().toISOString() }));

    // Assess
    expect([again.status, resent.status]).toEqual(['duplicate', 'duplicate']);
    expect(sent().map((c) => c.constructor.name)).toEqual(['BatchGetItemCommand', 'BatchGetItemCommand']);
    expect(fromAttributeMap((await getItem(accountKey(message.accountId)))!)).toMatchObject({ balance: 40, applied: 1, version: 1 });
  });

  it('reports a duplicate that a stale read missed through the outbox item\'s own condition, writing nothing', async () => {
    // Prepare: the payment is applied; the redelivery's read does not see the outbox item yet (eventual consistency).
    const message = paymentMessage(uniqueName('key-stale'), { accountId: uniqueName('acc'), amount: 25 });
    await new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 3600 }).apply(delivery(message));
    const sent: string[] = [];
    const staleClient = {
      send: async (command: SentCommand) => {
        sent.push(command.constructor.name);
        const response = (await client.send(command as never)) as { Responses?: Record<string, Array<Record<string, AttributeValue>>> };
        if (command instanceof BatchGetItemCommand) {
          response.Responses![tableName] = response.Responses![tableName]!.filter((item) => !item.pk?.S?.startsWith('OUTBOX#'));
        }
        return response;
      },
    } as unknown as DynamoDBClient;
    const strategy = new AtomicLedgerStrategy({ client: staleClient, tableName, dedupTtlSeconds: 3600 });

    // Act
    const outcome = await strategy.apply(delivery(message, 2));

    // Assess: the transaction was tried, cancelled by the outbox item's marker condition, and reported a duplicate.
    expect(outcome).toMatchObject({ status: 'duplicate' });
    expect(outcome).not.toHaveProperty('fenced');
    expect(sent).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand']);
    expect(fromAttributeMap((await getItem(accountKey(message.accountId)))!)).toMatchObject({ balance: 25, applied: 1, version: 1 });
  });

  it('re-decides on the account a failed transaction returned (ALL_OLD) after a stale read, without reading again', async () => {
    // Prepare: the account holds 100; the next payment's read comes back without it (stale: "no account yet").
    const accountId = uniqueName('acc');
    await new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 3600 }).apply(
      delivery(paymentMessage(uniqueName('key-first'), { accountId, amount: 100 })),
    );
    const sent: string[] = [];
    const staleClient = {
      send: async (command: SentCommand) => {
        sent.push(command.constructor.name);
        const response = (await client.send(command as never)) as { Responses?: Record<string, Array<Record<string, AttributeValue>>> };
        if (command instanceof BatchGetItemCommand) response.Responses![tableName] = [];
        return response;
      },
    } as unknown as DynamoDBClient;
    const strategy = new AtomicLedgerStrategy({ client: staleClient, tableName, dedupTtlSeconds: 3600 });
    const debit = paymentMessage(uniqueName('key-second'), { accountId, amount: -60 });

    // Act: on the stale state the debit would be rejected; on the real one it is applied.
    const outcome = await strategy.apply(delivery(debit));

    // Assess
    expect(outcome).toMatchObject({ status: 'applied', balance: 40 });
    expect(sent).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand', 'TransactWriteItemsCommand']);
    expect(fromAttributeMap((await getItem(accountKey(accountId)))!)).toMatchObject({ balance: 40, applied: 2, rejected: 0, version: 2 });
  });

  it('never re-applies a key while its expired outbox item is still present (issue 11 #2: balance stays 100, one event)', async () => {
    // Prepare: a payment of 100 applied; later, its outbox item (the marker) has expired on the strategy's clock (20
    // days on) but TTL has not deleted it yet (F6; DynamoDB Local's sweeper follows its own clock, so it stays).
    const table = await createLedgerTable(client);
    const accountId = uniqueName('acc');
    const message = paymentMessage(uniqueName('key-expired'), { accountId, amount: 100 });
    const first = new AtomicLedgerStrategy({ client, tableName: table, dedupTtlSeconds: 3600 });
    expect(await first.apply(delivery(message))).toMatchObject({ status: 'applied', balance: 100 });
    const key = ledgerMarkerKey(message.idempotencyKey);
    const before = await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: key.pk }, sk: { S: key.sk } }, ConsistentRead: true }));
    const later = new AtomicLedgerStrategy({ client, tableName: table, dedupTtlSeconds: 3600, now: () => new Date(Date.now() + 20 * 86_400_000) });
    const sent = recordCommands(client);

    // Act: the same key again (a late redrive of the dead-lettered copy, or a producer re-send)
    const outcome = await later.apply(delivery(message));

    // Assess: a duplicate, nothing written; the account and the one event are unchanged.
    expect(outcome).toMatchObject({ status: 'duplicate', expiredMarker: true });
    expect(sent().map((c) => c.constructor.name)).toEqual(['BatchGetItemCommand']);
    const { Item } = await client.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: key.pk }, sk: { S: key.sk } }, ConsistentRead: true }),
    );
    expect(Item).toEqual(before.Item);
    expect(fromAttributeMap((await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: accountKey(accountId).pk }, sk: { S: 'ACCOUNT' } }, ConsistentRead: true }))).Item!)).toMatchObject({ balance: 100, applied: 1 });
    expect(await streamEventNames(table, key.pk)).toEqual(['INSERT']);
  });

  it('never overwrites an expired outbox item in the transaction either, when the read missed it (stale read)', async () => {
    // Prepare: as above, but the strategy's read does not see the outbox item (an eventually consistent read may miss
    // it; DynamoDB Local never returns a stale read, so the response is edited).
    const accountId = uniqueName('acc');
    const message = paymentMessage(uniqueName('key-expired-tx'), { accountId, amount: 100 });
    await new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 3600 }).apply(delivery(message));
    let hide = true;
    const staleClient = {
      send: async (command: SentCommand) => {
        const response = (await client.send(command as never)) as { Responses?: Record<string, Array<Record<string, { S?: string }>>> };
        if (command.constructor.name === 'BatchGetItemCommand' && hide) {
          hide = false;
          response.Responses![tableName] = response.Responses![tableName]!.filter((item) => !item.pk!.S!.startsWith('OUTBOX#'));
        }
        return response;
      },
    } as unknown as DynamoDBClient;
    const later = new AtomicLedgerStrategy({ client: staleClient, tableName, dedupTtlSeconds: 3600, now: () => new Date(Date.now() + 20 * 86_400_000) });

    // Act
    const outcome = await later.apply({ message, messageId: uniqueName('m'), receiveCount: 1 });

    // Assess: the marker condition (absent only, not "absent or expired") reports it as a duplicate.
    expect(outcome.status).toBe('duplicate');
    expect(fromAttributeMap((await getItem(accountKey(accountId)))!)).toMatchObject({ balance: 100, applied: 1 });
  });

  it('reads again the keys a BatchGetItem left unprocessed, then applies once (mocked: DynamoDB Local never throttles)', async () => {
    // Prepare: the first read comes back with both keys unprocessed, as a throttled BatchGetItem does.
    const sent: string[] = [];
    const throttlingOnce = {
      send: async (command: SentCommand) => {
        sent.push(command.constructor.name);
        if (command instanceof BatchGetItemCommand && sent.length === 1) {
          const requested = (command.input.RequestItems as Record<string, unknown>)[tableName];
          return { Responses: { [tableName]: [] }, UnprocessedKeys: { [tableName]: requested } };
        }
        return client.send(command as never);
      },
    } as unknown as DynamoDBClient;
    const strategy = new AtomicLedgerStrategy({ client: throttlingOnce, tableName, dedupTtlSeconds: 3600 });
    const message = paymentMessage(uniqueName('key-unprocessed'), { accountId: uniqueName('acc'), amount: 12 });

    // Act
    const outcome = await strategy.apply(delivery(message));

    // Assess
    expect(outcome).toMatchObject({ status: 'applied', balance: 12 });
    expect(sent).toEqual(['BatchGetItemCommand', 'BatchGetItemCommand', 'TransactWriteItemsCommand']);
  });

  it('fails with LedgerReadThrottledError (retryable) when the keys stay unprocessed, writing nothing (mocked)', async () => {
    const sent: string[] = [];
    const alwaysThrottled = {
      send: async (command: SentCommand) => {
        sent.push(command.constructor.name);
        const requested = (command.input.RequestItems as Record<string, unknown>)[tableName];
        return { Responses: { [tableName]: [] }, UnprocessedKeys: { [tableName]: requested } };
      },
    } as unknown as DynamoDBClient;
    const strategy = new AtomicLedgerStrategy({ client: alwaysThrottled, tableName, dedupTtlSeconds: 3600, maxAttempts: 1 });

    const error = await strategy.apply(delivery(paymentMessage(uniqueName('key-throttled')))).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(LedgerReadThrottledError);
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as Error).message).toMatch(/left 2 key\(s\) unprocessed after 4 BatchGetItem calls/);
    expect(sent).toEqual(Array(4).fill('BatchGetItemCommand'));
  });

  it('rejects a message whose paymentId is not derived from its idempotency key (poison), writing nothing', async () => {
    const strategy = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 3600 });
    const message = paymentMessage(uniqueName('key-mismatch'), { accountId: uniqueName('acc'), paymentId: 'pay_not_derived' });
    const sent = recordCommands(client);

    await expect(strategy.apply(delivery(message))).rejects.toThrow(PoisonMessageError);
    expect(sent()).toEqual([]);
  });

  it('keeps both items of the largest payment under 1 KB, so each costs 2 WU in a transaction', async () => {
    // Prepare: the longest key and account id the schemas allow, 13-digit amounts, and a rejection (it adds a reason).
    const accountId = `a${'x'.repeat(63)}`;
    const strategy = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 1_209_600 });
    await strategy.apply(delivery(paymentMessage(`k${'0'.repeat(127)}`.replace(/0$/, '1'), { accountId, amount: 999_999_999_999 })));
    const largest = paymentMessage(`k${'9'.repeat(127)}`, { accountId, amount: -1_000_000_000_000 });

    // Act
    const outcome = await strategy.apply(delivery(largest));

    // Assess: sizes by DynamoDB's rules (the benchmark's own calculator).
    expect(outcome.status).toBe('rejected');
    const outbox = await getItem(ledgerMarkerKey(largest.idempotencyKey));
    const account = await getItem(accountKey(accountId));
    expect(itemSize(outbox as never)).toBeLessThanOrEqual(1024);
    expect(itemSize(account as never)).toBeLessThanOrEqual(1024);
  });
});

/** eventName of every stream record of the item `pk` in `table`, in order (DynamoDB Local's stream). */
async function streamEventNames(table: string, pk: string): Promise<string[]> {
  const streams = new DynamoDBStreamsClient({ endpoint: inject('ddbEndpoint'), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
  const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: Table!.LatestStreamArn! }));
  const names: string[] = [];
  for (const shard of StreamDescription?.Shards ?? []) {
    let { ShardIterator: iterator } = await streams.send(
      new GetShardIteratorCommand({ StreamArn: Table!.LatestStreamArn!, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    while (iterator) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
      for (const record of page.Records ?? []) {
        if (record.dynamodb?.Keys?.pk?.S === pk) names.push(record.eventName!);
      }
      if (!page.Records?.length) break;
      iterator = page.NextShardIterator;
    }
  }
  streams.destroy();
  return names;
}
