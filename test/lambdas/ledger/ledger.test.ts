import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSBatchResponse, SQSEvent, Context } from 'aws-lambda';
import { afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { fromAttributeMap } from '../../../lambdas/shared/attribute-values.js';
import { accountKey, outboxKey } from '../../../lambdas/shared/ledger-keys.js';
import { eventIdFor, PaymentEventSchema } from '../../../lambdas/shared/payments-model.js';
import { AtomicLedgerStrategy } from '../../../lambdas/ledger/strategies/atomic.js';
import { loadLedgerStrategy } from '../../../lambdas/ledger/strategies/index.js';
import { processLedgerBatch } from '../../../lambdas/ledger/consumer.js';
import { createObservability } from '../../../lambdas/shared/observability.js';
import { InjectedFault } from '../../../lambdas/shared/faults.js';
import { createLedgerTable, localAwsEnv, localDynamoDb, uniqueName } from '../../fixtures/tables.js';
import { lambdaContext, nextSequenceNumber, paymentMessage, paymentRecord, sqsEvent, sqsRecord } from '../../fixtures/events.js';

let client: DynamoDBClient;
let tableName: string;
let handler: (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

beforeAll(async () => {
  client = localDynamoDb(inject('ddbEndpoint'));
  tableName = await createLedgerTable(client);
  Object.assign(process.env, localAwsEnv({ dynamodb: inject('ddbEndpoint'), sqs: inject('sqsEndpoint') }), {
    LEDGER_TABLE_NAME: tableName,
    DEDUP_TTL_SECONDS: '3600',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  ({ handler } = await import('../../../lambdas/ledger/handler.js'));
});

afterEach(() => {
  vi.restoreAllMocks();
});

async function account(accountId: string) {
  const key = accountKey(accountId);
  const { Item } = await client.send(
    new GetItemCommand({ TableName: tableName, Key: { pk: { S: key.pk }, sk: { S: key.sk } }, ConsistentRead: true }),
  );
  return Item ? fromAttributeMap(Item) : undefined;
}

async function outboxEvent(paymentId: string) {
  const key = outboxKey(eventIdFor(paymentId));
  const { Item } = await client.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: key.pk }, sk: { S: key.sk } } }));
  return Item?.event?.S ? PaymentEventSchema.parse(JSON.parse(Item.event.S)) : undefined;
}

describe('ledger handler (atomic strategy, DynamoDB Local)', () => {
  it('applies a payment once when the same message is delivered twice (SQS redelivery)', async () => {
    // Prepare
    const accountId = uniqueName('acc');
    const message = paymentMessage(uniqueName('key-redelivery'), { accountId, amount: 500 });
    const record = paymentRecord(message);

    // Act
    const first = await handler(sqsEvent(record));
    const second = await handler(sqsEvent({ ...record, attributes: { ...record.attributes, ApproximateReceiveCount: '2' } }));

    // Assess
    expect(first.batchItemFailures).toEqual([]);
    expect(second.batchItemFailures).toEqual([]);
    expect(await account(accountId)).toMatchObject({ balance: 500, applied: 1, rejected: 0, currency: 'EUR', version: 1 });
    expect(await outboxEvent(message.paymentId)).toMatchObject({ eventType: 'PaymentApplied', balance: 500, amount: 500 });
  });

  it('applies a payment once when the producer re-sends it with a new messageId and sequence number (same key)', async () => {
    const accountId = uniqueName('acc');
    const message = paymentMessage(uniqueName('key-resend'), { accountId, amount: 300 });

    await handler(sqsEvent(paymentRecord(message)));
    const resent = await handler(sqsEvent(paymentRecord({ ...message, requestedAt: new Date().toISOString() })));

    expect(resent.batchItemFailures).toEqual([]);
    expect(await account(accountId)).toMatchObject({ balance: 300, applied: 1 });
  });

  it('records an overdraft as exactly one rejection, even when delivered three times', async () => {
    // Prepare: 100 in the account, then a debit of 250.
    const accountId = uniqueName('acc');
    await handler(sqsEvent(paymentRecord(paymentMessage(uniqueName('key-credit'), { accountId, amount: 100 }))));
    const debit = paymentMessage(uniqueName('key-overdraft'), { accountId, amount: -250 });
    const record = paymentRecord(debit);

    // Act
    for (let i = 0; i < 3; i++) {
      const response = await handler(sqsEvent(record));
      expect(response.batchItemFailures).toEqual([]);
    }

    // Assess
    expect(await account(accountId)).toMatchObject({ balance: 100, applied: 1, rejected: 1 });
    expect(await outboxEvent(debit.paymentId)).toMatchObject({
      eventType: 'PaymentRejected',
      reason: 'INSUFFICIENT_FUNDS',
      balance: 100,
      amount: -250,
    });
  });

  it('applies a debit the balance covers and carries the new balance in the event', async () => {
    const accountId = uniqueName('acc');
    await handler(sqsEvent(paymentRecord(paymentMessage(uniqueName('key-c'), { accountId, amount: 1000 }))));
    const debit = paymentMessage(uniqueName('key-d'), { accountId, amount: -400 });
    await handler(sqsEvent(paymentRecord(debit)));
    expect(await account(accountId)).toMatchObject({ balance: 600, applied: 2, rejected: 0 });
    expect(await outboxEvent(debit.paymentId)).toMatchObject({ eventType: 'PaymentApplied', balance: 600 });
  });

  it('rejects a payment in another currency than the account once, with reason CURRENCY_MISMATCH', async () => {
    const accountId = uniqueName('acc');
    await handler(sqsEvent(paymentRecord(paymentMessage(uniqueName('key-eur'), { accountId, amount: 10, currency: 'EUR' }))));
    const usd = paymentMessage(uniqueName('key-usd'), { accountId, amount: 10, currency: 'USD' });
    await handler(sqsEvent(paymentRecord(usd)));
    await handler(sqsEvent(paymentRecord(usd)));
    expect(await account(accountId)).toMatchObject({ balance: 10, applied: 1, rejected: 1, currency: 'EUR' });
    expect(await outboxEvent(usd.paymentId)).toMatchObject({ eventType: 'PaymentRejected', reason: 'CURRENCY_MISMATCH' });
  });

  it('reports a poison message alone with its reason logged: later messages of its group and other groups go on', async () => {
    // Prepare: group A = [poison, valid], group B = [valid]; plus a body that is not JSON in group C.
    const a = uniqueName('acc');
    const b = uniqueName('acc');
    const poison = sqsRecord({ body: { accountId: a, amount: 1.5, currency: 'XXX' }, groupId: a });
    const notJson = sqsRecord({ body: '{not json', groupId: 'group-c' });
    const laterA = paymentRecord(paymentMessage(uniqueName('key-a'), { accountId: a, amount: 5 }));
    const okB = paymentRecord(paymentMessage(uniqueName('key-b'), { accountId: b, amount: 7 }));
    const errors: unknown[][] = [];
    const strategy = await loadLedgerStrategy('atomic', { client, tableName, dedupTtlSeconds: 60 });
    const observability = createObservability('ledger');
    vi.spyOn(observability.logger, 'error').mockImplementation((...args: unknown[]) => void errors.push(args));

    // Act
    const response = await processLedgerBatch(sqsEvent(poison, okB, notJson, laterA), undefined, { strategy, observability });

    // Assess: only the poison messages are reported; the later valid message of the poison's group and group B went
    // on (a poison carries no effect to keep in order, and holding its group would dead-letter valid payments).
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: poison.messageId }, { itemIdentifier: notJson.messageId }]);
    expect(await account(b)).toMatchObject({ balance: 7 });
    expect(await account(a)).toMatchObject({ balance: 5 });
    const poisonLog = errors.find((args) => (args[1] as { messageId?: string })?.messageId === poison.messageId);
    expect(poisonLog?.[0]).toMatch(/Poison message/);
    const reasons = (poisonLog?.[1] as { reasons: string[] }).reasons.join('\n');
    expect(reasons).toMatch(/amount/);
    expect(reasons).toMatch(/currency/);
    expect(reasons).toMatch(/paymentId/);
    const notJsonLog = errors.find((args) => (args[1] as { messageId?: string })?.messageId === notJson.messageId);
    expect((notJsonLog?.[1] as { reasons: string[] }).reasons[0]).toMatch(/not JSON/);
  });

  it('refuses a late commit with a lower sequence number than the account took (zombie fence)', async () => {
    // Prepare: a newer message (seq2) of the group is already applied.
    const accountId = uniqueName('acc');
    const strategy = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 60 });
    const seq1 = nextSequenceNumber();
    const seq2 = nextSequenceNumber();
    const newer = paymentMessage(uniqueName('key-newer'), { accountId, amount: 50 });
    const older = paymentMessage(uniqueName('key-older'), { accountId, amount: 20 });
    await strategy.apply({ message: newer, messageId: 'm2', sequenceNumber: seq2, receiveCount: 1 });

    // Act: the zombie commits the older message late.
    const outcome = await strategy.apply({ message: older, messageId: 'm1', sequenceNumber: seq1, receiveCount: 1 });

    // Assess: refused by the fence, nothing written (no outbox item, which is also the marker).
    expect(outcome).toMatchObject({ status: 'duplicate', fenced: true });
    expect(await account(accountId)).toMatchObject({ balance: 50, applied: 1, lastSequence: Number(seq2) });
    expect(await outboxEvent(older.paymentId)).toBeUndefined();
  });

  it('refuses a late commit whose read came before a newer message committed (the fence in the transaction)', async () => {
    // Prepare: the zombie reads the account, then stalls while a newer message of the group commits.
    const accountId = uniqueName('acc');
    const seq1 = nextSequenceNumber();
    const seq2 = nextSequenceNumber();
    const newer = paymentMessage(uniqueName('key-newer'), { accountId, amount: 50 });
    const older = paymentMessage(uniqueName('key-older'), { accountId, amount: 20 });
    const other = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 60 });
    const sent: string[] = [];
    let stalled = false;
    const zombieClient = {
      send: async (command: { constructor: { name: string } }) => {
        sent.push(command.constructor.name);
        const response = await client.send(command as never);
        if (command.constructor.name === 'BatchGetItemCommand' && !stalled) {
          stalled = true;
          await other.apply({ message: newer, messageId: 'm2', sequenceNumber: seq2, receiveCount: 1 });
        }
        return response;
      },
    } as unknown as DynamoDBClient;
    const zombie = new AtomicLedgerStrategy({ client: zombieClient, tableName, dedupTtlSeconds: 60 });

    // Act
    const outcome = await zombie.apply({ message: older, messageId: 'm1', sequenceNumber: seq1, receiveCount: 1 });

    // Assess: one transaction tried and cancelled by the fence; the newer message's effect stands alone.
    expect(outcome).toMatchObject({ status: 'duplicate', fenced: true });
    expect(sent).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand']);
    expect(await account(accountId)).toMatchObject({ balance: 50, applied: 1, version: 1, lastSequence: Number(seq2) });
    expect(await outboxEvent(older.paymentId)).toBeUndefined();
  });

  it('reports a redelivery of the committed message as a duplicate through the marker, not the fence', async () => {
    const strategy = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 60 });
    const message = paymentMessage(uniqueName('key-marker'), { accountId: uniqueName('acc'), amount: 1 });
    const delivery = { message, messageId: 'm', sequenceNumber: nextSequenceNumber(), receiveCount: 1 };
    expect(await strategy.apply(delivery)).toMatchObject({ status: 'applied', balance: 1 });
    const again = await strategy.apply({ ...delivery, receiveCount: 2 });
    expect(again.status).toBe('duplicate');
    expect(again.fenced).toBeUndefined();
  });

  it('retries a throttled read and a conflicted transaction, then applies once (mocked: DynamoDB Local neither throttles nor conflicts on demand)', async () => {
    // Prepare: the first BatchGetItem is throttled past the SDK's retries, the first transaction hits a conflict.
    const failures = new Map<string, Error>([
      ['BatchGetItemCommand', Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' })],
      [
        'TransactWriteItemsCommand',
        Object.assign(new Error('cancelled'), {
          name: 'TransactionCanceledException',
          CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }],
        }),
      ],
    ]);
    const flaky = {
      send: async (command: { constructor: { name: string } }) => {
        const failure = failures.get(command.constructor.name);
        failures.delete(command.constructor.name);
        if (failure) throw failure;
        return client.send(command as never);
      },
    } as unknown as DynamoDBClient;
    const strategy = new AtomicLedgerStrategy({ client: flaky, tableName, dedupTtlSeconds: 60 });
    const accountId = uniqueName('acc');
    const message = paymentMessage(uniqueName('key-flaky'), { accountId, amount: 9 });

    // Act
    const outcome = await strategy.apply({ message, messageId: 'm', sequenceNumber: nextSequenceNumber(), receiveCount: 1 });

    // Assess
    expect(failures.size).toBe(0);
    expect(outcome).toMatchObject({ status: 'applied', balance: 9 });
    expect(await account(accountId)).toMatchObject({ balance: 9, applied: 1 });
  });

  it('crashes the whole invocation on an injected fault instead of reporting one record', async () => {
    const strategy = {
      name: 'atomic' as const,
      apply: async () => {
        throw new InjectedFault('ledger.beforeCommit');
      },
    };
    const record = paymentRecord(paymentMessage(uniqueName('key-crash')));
    await expect(
      processLedgerBatch(sqsEvent(record), undefined, { strategy, observability: createObservability('ledger') }),
    ).rejects.toThrow(InjectedFault);
  });
});

describe('FIFO stop-at-first-failure (processLedgerBatch with a fake strategy)', () => {
  it('reports the failed message and every later message of its group, and goes on with the other group', async () => {
    // Prepare: A1 ok, B1 ok, A2 fails, B2 ok, A3 ok (must be reported, not processed), B3 ok.
    const [a1, a2, a3] = [1, 2, 3].map((i) => paymentRecord(paymentMessage(`key-a-${i}-xyz`, { accountId: 'group-a' })));
    const [b1, b2, b3] = [1, 2, 3].map((i) => paymentRecord(paymentMessage(`key-b-${i}-xyz`, { accountId: 'group-b' })));
    const processed: string[] = [];
    const strategy = {
      name: 'atomic' as const,
      apply: async (delivery: { message: { idempotencyKey: string; paymentId: string } }) => {
        if (delivery.message.idempotencyKey === 'key-a-2-xyz') throw new Error('transient failure');
        processed.push(delivery.message.idempotencyKey);
        return { status: 'applied' as const, paymentId: delivery.message.paymentId, eventId: 'e' };
      },
    };

    // Act
    const response = await processLedgerBatch(sqsEvent(a1!, b1!, a2!, b2!, a3!, b3!), undefined, {
      strategy,
      observability: createObservability('ledger'),
    });

    // Assess
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([a2!.messageId, a3!.messageId]);
    expect(processed).toEqual(['key-a-1-xyz', 'key-b-1-xyz', 'key-b-2-xyz', 'key-b-3-xyz']);
  });
});

describe('deadline guard (processLedgerBatch with a fake strategy)', () => {
  it('stops starting records when the invocation is close to its timeout and reports the rest for retry', async () => {
    // Prepare: 800 ms left, below the 1 s margin, in a batch of three.
    const records = [1, 2, 3].map((i) => paymentRecord(paymentMessage(`key-deadline-${i}`, { accountId: `g${i}` })));
    const processed: string[] = [];
    const strategy = {
      name: 'atomic' as const,
      apply: async (delivery: { message: { idempotencyKey: string; paymentId: string } }) => {
        processed.push(delivery.message.idempotencyKey);
        return { status: 'applied' as const, paymentId: delivery.message.paymentId, eventId: 'e' };
      },
    };

    // Act
    const response = await processLedgerBatch(sqsEvent(...records), lambdaContext(800), {
      strategy,
      observability: createObservability('ledger'),
    });

    // Assess: the first record always runs; the others go back to the queue untouched.
    expect(processed).toEqual(['key-deadline-1']);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([records[1]!.messageId, records[2]!.messageId]);
  });
});

describe('ledger strategy registry', () => {
  it('throws Unknown ledger strategy naming the allowed values', async () => {
    await expect(loadLedgerStrategy('exactly-twice', { client, tableName, dedupTtlSeconds: 60 })).rejects.toThrow(
      /Unknown ledger strategy "exactly-twice": set LEDGER_STRATEGY to one of atomic, powertools, at-least-once, watermark/,
    );
  });

  it('loads every registered strategy by name', async () => {
    for (const name of ['atomic', 'powertools', 'at-least-once', 'watermark']) {
      const strategy = await loadLedgerStrategy(name, { client, tableName, dedupTtlSeconds: 60, idempotencyTableName: 'idem' });
      expect(strategy.name).toBe(name);
    }
  });

  it('throws when powertools is chosen without an idempotency table', async () => {
    await expect(loadLedgerStrategy('powertools', { client, tableName, dedupTtlSeconds: 60 })).rejects.toThrow(
      /IDEMPOTENCY_TABLE_NAME is required/,
    );
  });
});
