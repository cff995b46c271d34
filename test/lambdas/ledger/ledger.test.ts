import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSBatchResponse, SQSEvent, SQSRecord, Context } from 'aws-lambda';
import { ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { fromAttributeMap } from '../../../lambdas/shared/attribute-values.js';
import { accountKey, outboxKey } from '../../../lambdas/shared/ledger-keys.js';
import { eventIdFor, PaymentEventSchema } from '../../../lambdas/shared/payments-model.js';
import { AtomicLedgerStrategy } from '../../../lambdas/ledger/strategies/atomic.js';
import { loadLedgerStrategy } from '../../../lambdas/ledger/strategies/index.js';
import { parseDelivery, processLedgerBatch } from '../../../lambdas/ledger/consumer.js';
import { createSqsDeadLetterSender, DEAD_LETTER_ATTRIBUTES } from '../../../lambdas/ledger/dead-letter.js';
import { createObservability, METRIC } from '../../../lambdas/shared/observability.js';
import { InjectedFault } from '../../../lambdas/shared/faults.js';
import { PoisonMessageError, SequenceFencedError } from '../../../lambdas/ledger/errors.js';
import { AtomicIdempotencyError, RetryableCommitError } from '../../../lambdas/shared/atomic-idempotency/index.js';
import { createLedgerTable, createQueue, localAwsEnv, localDynamoDb, localSqs, uniqueName } from '../../fixtures/tables.js';
import { lambdaContext, nextSequenceNumber, paymentMessage, paymentRecord, sqsEvent, sqsRecord } from '../../fixtures/events.js';

let client: DynamoDBClient;
let sqs: SQSClient;
let tableName: string;
let handler: (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

beforeAll(async () => {
  client = localDynamoDb(inject('ddbEndpoint'));
  sqs = localSqs(inject('sqsEndpoint'));
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

/** A strategy whose first read is followed by `meanwhile` (another delivery committing) before it goes on. */
function racingStrategy(meanwhile: () => Promise<unknown>) {
  let raced = false;
  let transactions = 0;
  const racingClient = {
    send: async (command: { constructor: { name: string } }) => {
      if (command.constructor.name === 'TransactWriteItemsCommand') transactions++;
      const response = await client.send(command as never);
      if (command.constructor.name === 'BatchGetItemCommand' && !raced) {
        raced = true;
        await meanwhile();
      }
      return response;
    },
  } as unknown as DynamoDBClient;
  return { strategy: new AtomicLedgerStrategy({ client: racingClient, tableName, dedupTtlSeconds: 60 }), transactions: () => transactions };
}

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

  it('fails a message behind the sequence fence whose payment was never applied (SequenceFencedError, nothing written)', async () => {
    // Prepare: a newer message (seq2) of the group is already applied; the older one (seq1) never was.
    const accountId = uniqueName('acc');
    const strategy = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 60 });
    const seq1 = nextSequenceNumber();
    const seq2 = nextSequenceNumber();
    const newer = paymentMessage(uniqueName('key-newer'), { accountId, amount: 50 });
    const older = paymentMessage(uniqueName('key-older'), { accountId, amount: 20 });
    await strategy.apply({ message: newer, messageId: 'm2', sequenceNumber: seq2, receiveCount: 1 });

    // Act
    const outcome = strategy.apply({ message: older, messageId: 'm1', sequenceNumber: seq1, receiveCount: 1 });

    // Assess: refused, naming both sequence numbers; nothing written (no outbox item, which is also the marker).
    await expect(outcome).rejects.toThrow(SequenceFencedError);
    await expect(outcome).rejects.toThrow(new RegExp(`SequenceNumber ${seq1} is not above .*lastSequence ${BigInt(seq2)}`));
    expect(await account(accountId)).toMatchObject({ balance: 50, applied: 1, lastSequence: Number(seq2) });
    expect(await outboxEvent(older.paymentId)).toBeUndefined();
  });

  it('fails a commit whose read came before a newer message committed, when its payment was never applied (the fence in the transaction)', async () => {
    // Prepare: the stalled invocation reads the account, then a newer message of the group commits.
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
    const outcome = zombie.apply({ message: older, messageId: 'm1', sequenceNumber: seq1, receiveCount: 1 });

    // Assess: one transaction tried and cancelled, a consistent read finds no marker → never applied → refused.
    await expect(outcome).rejects.toThrow(SequenceFencedError);
    expect(sent).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand', 'BatchGetItemCommand']);
    expect(await account(accountId)).toMatchObject({ balance: 50, applied: 1, version: 1, lastSequence: Number(seq2) });
    expect(await outboxEvent(older.paymentId)).toBeUndefined();
  });

  it('reports a zombie copy of an applied payment behind the fence as a fenced duplicate (its marker is live)', async () => {
    // Prepare: m1 and m2 applied; the zombie's first read is stale and misses m1's outbox item (an eventually
    // consistent read may; DynamoDB Local never returns a stale read, so the response is edited).
    const accountId = uniqueName('acc');
    const seq1 = nextSequenceNumber();
    const seq2 = nextSequenceNumber();
    const m1 = paymentMessage(uniqueName('key-m1'), { accountId, amount: 10 });
    const m2 = paymentMessage(uniqueName('key-m2'), { accountId, amount: 5 });
    const strategy = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 60 });
    await strategy.apply({ message: m1, messageId: 'm1', sequenceNumber: seq1, receiveCount: 1 });
    await strategy.apply({ message: m2, messageId: 'm2', sequenceNumber: seq2, receiveCount: 1 });
    let stale = true;
    const staleClient = {
      send: async (command: { constructor: { name: string }; input: { RequestItems?: Record<string, { ConsistentRead?: boolean }> } }) => {
        const response = (await client.send(command as never)) as { Responses?: Record<string, Array<Record<string, { S?: string }>>> };
        if (command.constructor.name === 'BatchGetItemCommand' && stale) {
          stale = false;
          expect(command.input.RequestItems?.[tableName]?.ConsistentRead).toBe(false);
          response.Responses![tableName] = response.Responses![tableName]!.filter((item) => !item.pk!.S!.startsWith('OUTBOX#'));
        }
        return response;
      },
    } as unknown as DynamoDBClient;
    const zombie = new AtomicLedgerStrategy({ client: staleClient, tableName, dedupTtlSeconds: 60 });

    // Act
    const outcome = await zombie.apply({ message: m1, messageId: 'm1', sequenceNumber: seq1, receiveCount: 2 });

    // Assess
    expect(outcome).toMatchObject({ status: 'duplicate', fenced: true });
    expect(await account(accountId)).toMatchObject({ balance: 15, applied: 2, version: 2 });
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

  it('fails at once, without retrying, on a transaction cancellation that can never succeed (mocked: AWS\'s ValidationError cancellation)', async () => {
    // Prepare: every transaction is cancelled with a non-retryable code; reads go to DynamoDB Local.
    let transactions = 0;
    const failing = {
      send: async (command: { constructor: { name: string } }) => {
        if (command.constructor.name !== 'TransactWriteItemsCommand') return client.send(command as never);
        transactions++;
        throw Object.assign(new Error('cancelled'), {
          name: 'TransactionCanceledException',
          CancellationReasons: [{ Code: 'ValidationError' }, { Code: 'None' }],
        });
      },
    } as unknown as DynamoDBClient;
    const strategy = new AtomicLedgerStrategy({ client: failing, tableName, dedupTtlSeconds: 60 });
    const message = paymentMessage(uniqueName('key-invalid'), { accountId: uniqueName('acc'), amount: 9 });

    // Act
    const error = await strategy.apply({ message, messageId: 'm', sequenceNumber: nextSequenceNumber(), receiveCount: 1 }).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(AtomicIdempotencyError);
    expect(error).not.toBeInstanceOf(RetryableCommitError);
    expect(transactions).toBe(1);
  });

  it('re-decides when the account changed between the read and the commit: two credits racing both count (version condition)', async () => {
    // Prepare: 100 in the account; A (+10) reads, then B (+20) commits before A's transaction. Standard-queue
    // deliveries (no sequence numbers), so only the version condition protects the absolute balance A computed.
    const accountId = uniqueName('acc');
    const base = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 60 });
    await base.apply({ message: paymentMessage(uniqueName('key-base'), { accountId, amount: 100 }), messageId: 'b0', receiveCount: 1 });
    const racing = racingStrategy(() => base.apply({ message: paymentMessage(uniqueName('key-b'), { accountId, amount: 20 }), messageId: 'b', receiveCount: 1 }));

    // Act
    const outcome = await racing.strategy.apply({ message: paymentMessage(uniqueName('key-a'), { accountId, amount: 10 }), messageId: 'a', receiveCount: 1 });

    // Assess: A's first transaction was refused, it decided again on the fresh account: 130, not 110
    expect(outcome).toMatchObject({ status: 'applied', balance: 130 });
    expect(racing.transactions()).toBe(2);
    expect(await account(accountId)).toMatchObject({ balance: 130, applied: 3, version: 3 });
  });

  it('re-decides two debits racing that each fit alone but not together: the second is rejected', async () => {
    const accountId = uniqueName('acc');
    const base = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 60 });
    await base.apply({ message: paymentMessage(uniqueName('key-base'), { accountId, amount: 100 }), messageId: 'b0', receiveCount: 1 });
    const racing = racingStrategy(() => base.apply({ message: paymentMessage(uniqueName('key-d1'), { accountId, amount: -80 }), messageId: 'd1', receiveCount: 1 }));

    const outcome = await racing.strategy.apply({ message: paymentMessage(uniqueName('key-d2'), { accountId, amount: -80 }), messageId: 'd2', receiveCount: 1 });

    expect(outcome).toMatchObject({ status: 'rejected', reason: 'INSUFFICIENT_FUNDS', balance: 20 });
    expect(await account(accountId)).toMatchObject({ balance: 20, applied: 2, rejected: 1 });
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

describe('deadline guard with time left, and metrics (processLedgerBatch with a fake strategy)', () => {
  const applying = (processed: string[]) => ({
    name: 'atomic' as const,
    apply: async (delivery: { message: { idempotencyKey: string; paymentId: string } }) => {
      processed.push(delivery.message.idempotencyKey);
      return { status: 'applied' as const, paymentId: delivery.message.paymentId, eventId: 'e' };
    },
  });

  it('processes the whole batch when the invocation has time left (a context with 30 s)', async () => {
    const records = [1, 2, 3].map((i) => paymentRecord(paymentMessage(`key-time-${i}`, { accountId: `t${i}` })));
    const processed: string[] = [];

    const response = await processLedgerBatch(sqsEvent(...records), lambdaContext(30_000), {
      strategy: applying(processed),
      observability: createObservability('ledger'),
    });

    expect(processed).toEqual(['key-time-1', 'key-time-2', 'key-time-3']);
    expect(response.batchItemFailures).toEqual([]);
  });

  it('publishes the counted metrics once at the end of the invocation (EMF read back)', async () => {
    // Prepare: two applied payments and one poison; the EMF document is captured when it is published.
    const observability = createObservability('ledger');
    const published: Array<ReturnType<typeof observability.metrics.serializeMetrics>> = [];
    vi.spyOn(observability.metrics, 'publishStoredMetrics').mockImplementation(function (this: typeof observability.metrics) {
      published.push(observability.metrics.serializeMetrics());
      observability.metrics.clearMetrics();
      return observability.metrics;
    });
    const records = [
      paymentRecord(paymentMessage('key-metric-1', { accountId: 'm1' })),
      sqsRecord({ body: '{not json', groupId: 'm2' }),
      paymentRecord(paymentMessage('key-metric-3', { accountId: 'm3' })),
    ];

    // Act
    await processLedgerBatch(sqsEvent(...records), undefined, { strategy: applying([]), observability });

    // Assess
    expect(published).toHaveLength(1);
    const emf = published[0] as unknown as Record<string, unknown>;
    // Powertools keeps one value per count() call of a metric in one EMF document
    expect(emf).toMatchObject({ PaymentsApplied: [1, 1], PoisonMessages: 1, layer: 'ledger' });
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

describe('issue 11 #1: the sequence fence never acknowledges a payment that was not applied (DynamoDB Local + fauxqs)', () => {
  /** The old build of a rolling deploy: the current strict schema, which refuses a field the API has started to send. */
  const oldBuild = parseDelivery;
  /** The new build: it knows the new optional field (here: drops it before the same validation). */
  const newBuild = (record: SQSRecord) => {
    const { channel: _ignored, ...body } = JSON.parse(record.body) as Record<string, unknown>;
    return parseDelivery({ ...record, body: JSON.stringify(body) });
  };

  async function fifoDlq(): Promise<string> {
    return createQueue(sqs, { fifo: true, name: uniqueName('payments-dlq') });
  }

  async function receiveAll(queueUrl: string): Promise<Message[]> {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }),
    );
    return Messages;
  }

  /** The batch: p1 (+1000) carries the new field, m2 (+50) does not; one account, one group. */
  function scenario() {
    const accountId = uniqueName('acc');
    const p1 = paymentMessage(uniqueName('key-p1'), { accountId, amount: 1000 });
    const m2 = paymentMessage(uniqueName('key-m2'), { accountId, amount: 50 });
    const seq1 = nextSequenceNumber();
    const seq2 = nextSequenceNumber();
    const p1Record = sqsRecord({ body: { ...p1, channel: 'mobile' }, groupId: accountId, sequenceNumber: seq1 });
    const m2Record = paymentRecord(m2, { sequenceNumber: seq2 });
    return { accountId, p1, m2, p1Record, m2Record, seq1, seq2 };
  }

  it('dead-letters a payment that was poison under the old build and is valid but fenced under the new one, with an alarm metric', async () => {
    // Prepare: first receive by the old build (reports the poison, its group goes on: m2 applies).
    const { accountId, p1, p1Record, m2Record, seq1, seq2 } = scenario();
    const strategy = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 60 });
    const first = await processLedgerBatch(sqsEvent(p1Record, m2Record), undefined, {
      strategy,
      observability: createObservability('ledger'),
      parse: oldBuild,
    });
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: p1Record.messageId }]);
    expect(await account(accountId)).toMatchObject({ balance: 50 });
    const dlqUrl = await fifoDlq();
    const observability = createObservability('ledger');
    const counted: string[] = [];
    vi.spyOn(observability, 'count').mockImplementation((name) => void counted.push(name));
    const errors: unknown[][] = [];
    vi.spyOn(observability.logger, 'error').mockImplementation((...args: unknown[]) => void errors.push(args));

    // Act: the next receive of p1, by the new build, which finds it valid.
    const second = await processLedgerBatch(
      sqsEvent({ ...p1Record, attributes: { ...p1Record.attributes, ApproximateReceiveCount: '2' } }),
      undefined,
      { strategy, observability, parse: newBuild, deadLetter: createSqsDeadLetterSender(sqs, dlqUrl) },
    );

    // Assess: not applied out of order, not acknowledged silently: in the DLQ with its reason, logged and counted.
    expect(second.batchItemFailures).toEqual([]);
    expect(await account(accountId)).toMatchObject({ balance: 50, applied: 1 });
    expect(await outboxEvent(p1.paymentId)).toBeUndefined();
    const dead = await receiveAll(dlqUrl);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.Body).toBe(p1Record.body);
    expect(dead[0]!.Attributes!.MessageGroupId).toBe(accountId);
    expect(dead[0]!.MessageAttributes![DEAD_LETTER_ATTRIBUTES.kind]!.StringValue).toBe('fenced');
    expect(dead[0]!.MessageAttributes![DEAD_LETTER_ATTRIBUTES.reason]!.StringValue).toMatch(
      new RegExp(`SequenceNumber ${seq1} is not above account ${accountId}'s lastSequence ${BigInt(seq2)}`),
    );
    expect(counted).toEqual(expect.arrayContaining([METRIC.FencedWithoutMarker, METRIC.DeadLetteredAtOnce]));
    expect(errors.some(([message]) => /Fenced without marker: sent to the dead-letter queue/.test(String(message)))).toBe(true);
  });

  it('reports a fenced message without a marker failed when no DLQ is wired, so it dead-letters after maxReceiveCount', async () => {
    const { accountId, p1Record, m2Record } = scenario();
    const strategy = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 60 });
    await processLedgerBatch(sqsEvent(p1Record, m2Record), undefined, { strategy, observability: createObservability('ledger'), parse: oldBuild });

    const second = await processLedgerBatch(sqsEvent(p1Record), undefined, {
      strategy,
      observability: createObservability('ledger'),
      parse: newBuild,
    });

    expect(second.batchItemFailures).toEqual([{ itemIdentifier: p1Record.messageId }]);
    expect(await account(accountId)).toMatchObject({ balance: 50 });
  });

  it('sends a poison message to the DLQ at once with its reason, and a redrive (new, higher sequence) applies it after the newer payment', async () => {
    // Prepare
    const { accountId, p1, p1Record, m2Record } = scenario();
    const strategy = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 60 });
    const dlqUrl = await fifoDlq();
    const deadLetter = createSqsDeadLetterSender(sqs, dlqUrl);

    // Act: the old build judges p1 poison and dead-letters it itself; m2 applies.
    const first = await processLedgerBatch(sqsEvent(p1Record, m2Record), undefined, {
      strategy,
      observability: createObservability('ledger'),
      parse: oldBuild,
      deadLetter,
    });

    // Assess: nothing reported (nothing re-judged), the reason rides with the message.
    expect(first.batchItemFailures).toEqual([]);
    const dead = await receiveAll(dlqUrl);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.MessageAttributes![DEAD_LETTER_ATTRIBUTES.kind]!.StringValue).toBe('poison');
    expect(dead[0]!.MessageAttributes![DEAD_LETTER_ATTRIBUTES.reason]!.StringValue).toMatch(/channel/);
    expect(await account(accountId)).toMatchObject({ balance: 50 });

    // Act: the operator redrives it after the deploy: SQS gives it a new, higher SequenceNumber.
    const redriven = sqsRecord({ body: dead[0]!.Body!, groupId: accountId, sequenceNumber: nextSequenceNumber() });
    const third = await processLedgerBatch(sqsEvent(redriven), undefined, { strategy, observability: createObservability('ledger'), parse: newBuild });

    // Assess: applied once, after m2 (out of its original order: the DLQ alarm told the operator).
    expect(third.batchItemFailures).toEqual([]);
    expect(await account(accountId)).toMatchObject({ balance: 1050, applied: 2 });
    expect(await outboxEvent(p1.paymentId)).toMatchObject({ eventType: 'PaymentApplied', balance: 1050 });
  });

  it('treats a message whose MessageGroupId is not its accountId as poison, naming both', async () => {
    const message = paymentMessage(uniqueName('key-group'), { accountId: uniqueName('acc') });
    const record = sqsRecord({ body: message, groupId: 'someone-else' });

    expect(() => parseDelivery(record)).toThrow(PoisonMessageError);
    expect(() => parseDelivery(record)).toThrow(new RegExp(`MessageGroupId \\(someone-else\\) must equal accountId \\(${message.accountId}\\)`));
    const response = await processLedgerBatch(sqsEvent(record), undefined, {
      strategy: await loadLedgerStrategy('atomic', { client, tableName, dedupTtlSeconds: 60 }),
      observability: createObservability('ledger'),
    });
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(await account(message.accountId)).toBeUndefined();
  });

  it("does not fence a message from another queue with the old queue's sequence numbers (a replaced queue)", async () => {
    // Prepare: the account took sequence 9000… from queue A.
    const accountId = uniqueName('acc');
    const strategy = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 60 });
    const high = '90000000000000000000';
    await strategy.apply({ message: paymentMessage(uniqueName('key-a'), { accountId, amount: 5 }), messageId: 'a', sequenceNumber: high, queueArn: 'arn:aws:sqs:us-east-1:000000000000:a.fifo', receiveCount: 1 });

    // Act: queue B's numbers start lower.
    const fromB = paymentMessage(uniqueName('key-b'), { accountId, amount: 7 });
    const outcome = await strategy.apply({ message: fromB, messageId: 'b', sequenceNumber: nextSequenceNumber(), queueArn: 'arn:aws:sqs:us-east-1:000000000000:b.fifo', receiveCount: 1 });

    // Assess: applied; the watermark now belongs to queue B.
    expect(outcome).toMatchObject({ status: 'applied', balance: 12 });
    expect(await account(accountId)).toMatchObject({ balance: 12, lastSequenceQueue: 'arn:aws:sqs:us-east-1:000000000000:b.fifo' });
  });

  it('fences at an equal sequence number from the same queue, and lets the next one through', async () => {
    // Prepare: the account's watermark is S from queue Q, written by an earlier payment.
    const accountId = uniqueName('acc');
    const queueArn = 'arn:aws:sqs:us-east-1:000000000000:q.fifo';
    const strategy = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 60 });
    const s = nextSequenceNumber();
    await strategy.apply({ message: paymentMessage(uniqueName('key-s'), { accountId, amount: 5 }), messageId: 's', sequenceNumber: s, queueArn, receiveCount: 1 });

    // Act + Assess: another payment carrying the same S (never applied) is fenced; S + 1 applies.
    const same = strategy.apply({ message: paymentMessage(uniqueName('key-eq'), { accountId, amount: 1 }), messageId: 'eq', sequenceNumber: s, queueArn, receiveCount: 1 });
    await expect(same).rejects.toThrow(SequenceFencedError);
    const next = await strategy.apply({ message: paymentMessage(uniqueName('key-next'), { accountId, amount: 1 }), messageId: 'n', sequenceNumber: nextSequenceNumber(), queueArn, receiveCount: 1 });
    expect(next).toMatchObject({ status: 'applied', balance: 6 });
  });

  it('applies a standard-queue delivery (no sequence number) to an account that has a watermark, and a FIFO one to an account without', async () => {
    const accountId = uniqueName('acc');
    const strategy = new AtomicLedgerStrategy({ client, tableName, dedupTtlSeconds: 60 });
    // No watermark yet: written by a delivery without a sequence number.
    expect(await strategy.apply({ message: paymentMessage(uniqueName('key-std'), { accountId, amount: 3 }), messageId: 'x', receiveCount: 1 })).toMatchObject({ status: 'applied' });
    expect(await strategy.apply({ message: paymentMessage(uniqueName('key-fifo'), { accountId, amount: 4 }), messageId: 'y', sequenceNumber: nextSequenceNumber(), receiveCount: 1 })).toMatchObject({ status: 'applied' });
    // A watermark now: a delivery without a sequence number is not compared with it.
    expect(await strategy.apply({ message: paymentMessage(uniqueName('key-std2'), { accountId, amount: 5 }), messageId: 'z', receiveCount: 1 })).toMatchObject({ status: 'applied', balance: 12 });
  });
});
