import { GetItemCommand, PutItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { fromAttributeMap } from '../../../lambdas/shared/attribute-values.js';
import { accountKey, outboxKey } from '../../../lambdas/shared/ledger-keys.js';
import { eventIdFor, paymentIdFor, PaymentEventSchema, type PaymentMessage } from '../../../lambdas/shared/payments-model.js';
import { RetryableError } from '../../../lambdas/shared/errors.js';
import { InjectedFault, setFaultPlanForTests } from '../../../lambdas/shared/faults.js';
import { AtomicIdempotencyError, RetryableCommitError } from '../../../lambdas/shared/atomic-idempotency/index.js';
import { LedgerContentionError, PoisonMessageError, SequenceFencedError } from '../../../lambdas/ledger/errors.js';
import createDefault, {
  AtomicLedgerStrategy,
  createAtomicStrategy,
  LEDGER_SCOPE,
  ledgerMarkerKey,
  type AtomicLedgerOptions,
} from '../../../lambdas/ledger/strategies/atomic.js';
import { loadLedgerStrategy } from '../../../lambdas/ledger/strategies/index.js';
import type { PaymentDelivery } from '../../../lambdas/ledger/strategy.js';
import { createLedgerTable, localDynamoDb, uniqueName } from '../../fixtures/tables.js';
import { lambdaContext, nextSequenceNumber, paymentMessage } from '../../fixtures/events.js';

/**
 * The atomic ledger strategy seen from outside (issue 11 #8): what `apply` answers and what it leaves in the ledger
 * table on DynamoDB Local, for every path of the strategy. One table for the whole file and a fresh account and key
 * per test, so the file runs in seconds (Stryker re-runs it for each mutant of `lambdas/ledger/strategies/atomic.ts`).
 * Faults DynamoDB Local cannot produce on demand (throttling, conflicts, a stale read, a cancellation AWS would
 * send) are injected by a client that wraps the real one; everything else is the emulator's own answer.
 */

let ddb: DynamoDBClient;
let tableName: string;

const QUEUE = 'arn:aws:sqs:us-east-1:000000000000:payments.fifo';
const OTHER_QUEUE = 'arn:aws:sqs:us-east-1:000000000000:payments-v2.fifo';

beforeAll(async () => {
  ddb = localDynamoDb(inject('ddbEndpoint'));
  tableName = await createLedgerTable(ddb);
});

afterEach(() => setFaultPlanForTests(null));

type Command = { constructor: { name: string }; input: Record<string, unknown> };
interface Sent {
  readonly name: string;
  readonly input: Record<string, unknown>;
}

/**
 * A client that forwards to DynamoDB Local and records what was sent. `around` may throw instead of sending (a fault
 * the emulator cannot produce), or act after the real answer (another delivery committing meanwhile).
 */
function recordingClient(
  around?: (sent: Sent, index: number, send: () => Promise<unknown>) => Promise<unknown>,
): { client: DynamoDBClient; sent: Sent[]; names: () => string[] } {
  const sent: Sent[] = [];
  const client = {
    send: async (command: Command) => {
      const entry = { name: command.constructor.name, input: command.input };
      sent.push(entry);
      const send = () => ddb.send(command as never);
      return around ? around(entry, sent.length - 1, send) : send();
    },
  } as unknown as DynamoDBClient;
  return { client, sent, names: () => sent.map((s) => s.name) };
}

function strategy(overrides: Partial<AtomicLedgerOptions> = {}): AtomicLedgerStrategy {
  return new AtomicLedgerStrategy({ client: ddb, tableName, dedupTtlSeconds: 3600, ...overrides });
}

function delivery(message: PaymentMessage, overrides: Partial<PaymentDelivery> = {}): PaymentDelivery {
  return { message, messageId: uniqueName('msg'), sequenceNumber: nextSequenceNumber(), queueArn: QUEUE, receiveCount: 1, ...overrides };
}

function payment(accountId: string, amount: number, currency: PaymentMessage['currency'] = 'EUR'): PaymentMessage {
  return paymentMessage(uniqueName('key'), { accountId, amount, currency });
}

async function getItem(key: { pk: string; sk: string }) {
  const { Item } = await ddb.send(
    new GetItemCommand({ TableName: tableName, Key: { pk: { S: key.pk }, sk: { S: key.sk } }, ConsistentRead: true }),
  );
  return Item ? fromAttributeMap(Item) : undefined;
}

const accountItem = (accountId: string) => getItem(accountKey(accountId));
const outboxItem = (paymentId: string) => getItem(outboxKey(eventIdFor(paymentId)));

/** Bumps the account's version behind the strategy's back (another writer committing meanwhile). */
async function touchAccount(accountId: string): Promise<void> {
  const key = accountKey(accountId);
  await ddb.send(
    new UpdateItemCommand({
      TableName: tableName,
      Key: { pk: { S: key.pk }, sk: { S: key.sk } },
      UpdateExpression: 'SET #version = #version + :one',
      ExpressionAttributeNames: { '#version': 'version' },
      ExpressionAttributeValues: { ':one': { N: '1' } },
    }),
  );
}

const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' });
const cancelled = (code: string) =>
  Object.assign(new Error(`Transaction cancelled [${code}, None]`), {
    name: 'TransactionCanceledException',
    CancellationReasons: [{ Code: code }, { Code: 'None' }],
  });

const readConsistency = (sent: Sent[]) =>
  sent
    .filter((s) => s.name === 'BatchGetItemCommand')
    .map((s) => (s.input.RequestItems as Record<string, { ConsistentRead?: boolean }>)[tableName]!.ConsistentRead);

describe('atomic strategy: options', () => {
  it.each([0, -5, 1.5, Number.NaN])('refuses dedupTtlSeconds %s, naming the value and the rule', (ttl) => {
    expect(() => strategy({ dedupTtlSeconds: ttl })).toThrow(
      new RangeError(`dedupTtlSeconds (${ttl}) must be a positive integer number of seconds`),
    );
  });

  it('accepts a TTL of one second and keeps the outbox item (the marker) live for exactly the TTL from its clock', async () => {
    const now = new Date('2030-01-02T03:04:05.678Z');
    const message = payment(uniqueName('acc'), 10);

    await strategy({ dedupTtlSeconds: 1, now: () => now }).apply(delivery(message));

    const item = await outboxItem(message.paymentId);
    expect(item?.expiresAt).toBe(Math.floor(now.getTime() / 1000) + 1);
    expect(PaymentEventSchema.parse(JSON.parse(String(item?.event))).occurredAt).toBe(now.toISOString());
  });

  it('dates the event with the real clock when no clock is given', async () => {
    const message = payment(uniqueName('acc'), 10);
    const before = Date.now();

    await strategy().apply(delivery(message));

    const item = await outboxItem(message.paymentId);
    const occurredAt = Date.parse(PaymentEventSchema.parse(JSON.parse(String(item?.event))).occurredAt);
    expect(occurredAt).toBeGreaterThanOrEqual(before - 1000);
    expect(occurredAt).toBeLessThanOrEqual(Date.now() + 1000);
    expect(item?.expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) + 3600);
  });

  it('reads eventually consistent first by default, strongly consistent when consistentRead is on', async () => {
    const byDefault = recordingClient();
    const consistent = recordingClient();

    await strategy({ client: byDefault.client }).apply(delivery(payment(uniqueName('acc'), 1)));
    await strategy({ client: consistent.client, consistentRead: true }).apply(delivery(payment(uniqueName('acc'), 1)));

    expect(readConsistency(byDefault.sent)).toEqual([false]);
    expect(readConsistency(consistent.sent)).toEqual([true]);
  });

  it('is the registry entry "atomic": the named export, the default export and loadLedgerStrategy all apply payments', async () => {
    const options = { client: ddb, tableName, dedupTtlSeconds: 60 };
    const accountId = uniqueName('acc');
    const loaded = await loadLedgerStrategy('atomic', { client: ddb, tableName, dedupTtlSeconds: 60 } as never);

    for (const created of [createAtomicStrategy(options), createDefault(options), loaded]) {
      expect(created.name).toBe('atomic');
      expect((await created.apply(delivery(payment(accountId, 1)))).status).toBe('applied');
    }
    expect(await accountItem(accountId)).toMatchObject({ balance: 3, applied: 3 });
  });
});

describe('atomic strategy: outcomes and what they leave in the table', () => {
  it('applies a first credit: the account item and the outbox event as the relay reads them, marker under ledgerMarkerKey', async () => {
    const accountId = uniqueName('acc');
    const message = payment(accountId, 250, 'USD');
    const d = delivery(message);
    const eventId = eventIdFor(message.paymentId);

    const outcome = await strategy().apply(d);

    expect(outcome).toStrictEqual({ status: 'applied', paymentId: message.paymentId, eventId, balance: 250 });
    expect(await accountItem(accountId)).toEqual({
      pk: accountKey(accountId).pk,
      sk: accountKey(accountId).sk,
      accountId,
      balance: 250,
      applied: 1,
      rejected: 0,
      currency: 'USD',
      version: 1,
      lastSequence: Number(d.sequenceNumber),
      lastSequenceQueue: QUEUE,
    });
    const item = await getItem(ledgerMarkerKey(message.idempotencyKey));
    expect(item).toMatchObject({
      ...outboxKey(eventId),
      eventId,
      eventType: 'PaymentApplied',
      accountId,
      groupKey: accountId,
      scope: 'ledger',
    });
    expect(LEDGER_SCOPE).toBe('ledger');
    expect(JSON.parse(String(item?.event))).toMatchObject({
      eventId,
      eventType: 'PaymentApplied',
      paymentId: message.paymentId,
      accountId,
      amount: 250,
      currency: 'USD',
      balance: 250,
    });
  });

  it('applies payments of one account in turn: counters, balance and version move with each, one event each', async () => {
    const accountId = uniqueName('acc');
    const s = strategy();
    const credit = payment(accountId, 100);
    const debit = payment(accountId, -60);
    const exact = payment(accountId, -40);

    expect((await s.apply(delivery(credit))).balance).toBe(100);
    expect(await s.apply(delivery(debit))).toMatchObject({ status: 'applied', balance: 40 });
    expect(await s.apply(delivery(exact))).toMatchObject({ status: 'applied', balance: 0 });

    expect(await accountItem(accountId)).toMatchObject({ balance: 0, applied: 3, rejected: 0, version: 3, currency: 'EUR' });
    for (const m of [credit, debit, exact]) expect((await outboxItem(m.paymentId))?.eventType).toBe('PaymentApplied');
  });

  it('rejects a debit on an account that does not exist yet, leaving a zero balance and no currency', async () => {
    const accountId = uniqueName('acc');
    const debit = payment(accountId, -5, 'USD');

    const outcome = await strategy().apply(delivery(debit));

    expect(outcome).toEqual({
      status: 'rejected',
      paymentId: debit.paymentId,
      eventId: eventIdFor(debit.paymentId),
      balance: 0,
      reason: 'INSUFFICIENT_FUNDS',
    });
    const account = await accountItem(accountId);
    expect(account).toMatchObject({ balance: 0, applied: 0, rejected: 1, version: 1 });
    expect(account?.currency).toBeUndefined();
    expect(JSON.parse(String((await outboxItem(debit.paymentId))?.event))).toMatchObject({
      eventType: 'PaymentRejected',
      reason: 'INSUFFICIENT_FUNDS',
      balance: 0,
    });
    // The rejected debit fixed no currency (issue 11 #4): a credit in another currency applies.
    expect(await strategy().apply(delivery(payment(accountId, 7, 'EUR')))).toMatchObject({ status: 'applied', balance: 7 });
    expect(await accountItem(accountId)).toMatchObject({ currency: 'EUR', applied: 1, rejected: 1, version: 2 });
  });

  it('rejects an overdraft on an existing account once, then still applies a debit the balance covers', async () => {
    const accountId = uniqueName('acc');
    const s = strategy();
    await s.apply(delivery(payment(accountId, 100)));
    const overdraft = payment(accountId, -101);

    const rejected = await s.apply(delivery(overdraft));
    const again = await s.apply(delivery(overdraft));
    const covered = await s.apply(delivery(payment(accountId, -100)));

    expect(rejected).toMatchObject({ status: 'rejected', balance: 100, reason: 'INSUFFICIENT_FUNDS' });
    expect(again.status).toBe('duplicate');
    expect(covered).toMatchObject({ status: 'applied', balance: 0 });
    expect(await accountItem(accountId)).toMatchObject({ balance: 0, applied: 2, rejected: 1, version: 3 });
  });

  it.each([
    ['a credit', 30],
    ['a debit the balance would cover', -10],
  ])('rejects %s in another currency than the account with CURRENCY_MISMATCH, balance unchanged', async (_, amount) => {
    const accountId = uniqueName('acc');
    const s = strategy();
    await s.apply(delivery(payment(accountId, 50, 'GBP')));
    const other = payment(accountId, amount, 'JPY');

    const outcome = await s.apply(delivery(other));

    expect(outcome).toMatchObject({ status: 'rejected', balance: 50, reason: 'CURRENCY_MISMATCH' });
    expect(await accountItem(accountId)).toMatchObject({ balance: 50, applied: 1, rejected: 1, currency: 'GBP', version: 2 });
    expect((await outboxItem(other.paymentId))?.eventType).toBe('PaymentRejected');
  });

  it('refuses a message whose paymentId is not derived from its idempotency key (poison), naming both, writing nothing', async () => {
    const accountId = uniqueName('acc');
    const message = { ...payment(accountId, 10), paymentId: paymentIdFor('another-key-123') };
    const { client, sent } = recordingClient();

    const error = await strategy({ client }).apply(delivery(message, { messageId: 'm-poison' })).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PoisonMessageError);
    expect((error as PoisonMessageError).messageId).toBe('m-poison');
    expect((error as Error).message).toContain(
      `paymentId (${message.paymentId}) must be ${paymentIdFor(message.idempotencyKey)}, derived from the idempotencyKey`,
    );
    expect(sent).toEqual([]);
    expect(await accountItem(accountId)).toBeUndefined();
  });
});

describe('atomic strategy: duplicates by the marker', () => {
  it('answers a redelivery from its live marker with one read and no write', async () => {
    const accountId = uniqueName('acc');
    const message = payment(accountId, 5);
    const d = delivery(message);
    await strategy().apply(d);
    const { client, names } = recordingClient();

    const outcome = await strategy({ client }).apply({ ...d, receiveCount: 2 });

    expect(outcome).toEqual({ status: 'duplicate', paymentId: message.paymentId, eventId: eventIdFor(message.paymentId) });
    expect(names()).toEqual(['BatchGetItemCommand']);
    expect(await accountItem(accountId)).toMatchObject({ balance: 5, applied: 1, version: 1 });
  });

  it('answers a re-send with a new sequence number from another queue as a duplicate too (the key decides)', async () => {
    const accountId = uniqueName('acc');
    const message = payment(accountId, 5);
    await strategy().apply(delivery(message));

    const outcome = await strategy().apply(delivery(message, { queueArn: OTHER_QUEUE }));

    expect(outcome.status).toBe('duplicate');
    expect(await accountItem(accountId)).toMatchObject({ balance: 5, applied: 1 });
  });

  it('marks a duplicate whose marker expired (but TTL has not deleted it yet) as expiredMarker, never re-applying', async () => {
    const accountId = uniqueName('acc');
    const message = payment(accountId, 100);
    const t0 = new Date('2030-01-01T00:00:00.000Z');
    await strategy({ dedupTtlSeconds: 60, now: () => t0 }).apply(delivery(message));
    const expiresAt = Math.floor(t0.getTime() / 1000) + 60;

    const atExpiry = await strategy({ now: () => new Date(expiresAt * 1000) }).apply(delivery(message));
    const afterExpiry = await strategy({ now: () => new Date((expiresAt + 1) * 1000) }).apply(delivery(message));

    expect(atExpiry).toEqual({ status: 'duplicate', paymentId: message.paymentId, eventId: eventIdFor(message.paymentId) });
    expect(afterExpiry).toEqual({
      status: 'duplicate',
      paymentId: message.paymentId,
      eventId: eventIdFor(message.paymentId),
      expiredMarker: true,
    });
    expect(await accountItem(accountId)).toMatchObject({ balance: 100, applied: 1, version: 1 });
  });

  it('never overwrites an expired outbox item in the transaction either, when a stale read missed it', async () => {
    const accountId = uniqueName('acc');
    const message = payment(accountId, 100);
    const t0 = new Date('2030-01-01T00:00:00.000Z');
    await strategy({ dedupTtlSeconds: 60, now: () => t0 }).apply(delivery(message, { sequenceNumber: undefined }));
    const { client } = recordingClient(async (_sent, index, send) => {
      const response = (await send()) as { Responses: Record<string, Array<Record<string, { S?: string }>>> };
      if (index === 0) response.Responses[tableName] = response.Responses[tableName]!.filter((i) => !i.pk!.S!.startsWith('OUTBOX#'));
      return response;
    });
    const later = new Date(t0.getTime() + 3600_000);

    const outcome = await strategy({ client, now: () => later }).apply(delivery(message, { sequenceNumber: undefined }));

    expect(outcome.status).toBe('duplicate');
    expect(await accountItem(accountId)).toMatchObject({ balance: 100, applied: 1, version: 1 });
    expect((await outboxItem(message.paymentId))?.expiresAt).toBe(Math.floor(t0.getTime() / 1000) + 60);
  });

  it('treats an outbox item without expiresAt as a live marker (never expired)', async () => {
    const accountId = uniqueName('acc');
    const message = payment(accountId, 100);
    const key = outboxKey(eventIdFor(message.paymentId));
    await ddb.send(new PutItemCommand({ TableName: tableName, Item: { pk: { S: key.pk }, sk: { S: key.sk } } }));

    const outcome = await strategy().apply(delivery(message));

    expect(outcome).toEqual({ status: 'duplicate', paymentId: message.paymentId, eventId: eventIdFor(message.paymentId) });
    expect(await accountItem(accountId)).toBeUndefined();
  });

  it('reports a duplicate that a stale read missed through the outbox item\'s own condition, writing nothing', async () => {
    const accountId = uniqueName('acc');
    const message = payment(accountId, 5);
    await strategy().apply(delivery(message, { sequenceNumber: undefined }));
    // An eventually consistent read may miss the outbox item; DynamoDB Local never reads stale, so the answer is edited.
    const { client, names } = recordingClient(async (_sent, index, send) => {
      const response = (await send()) as { Responses: Record<string, Array<Record<string, { S?: string }>>> };
      if (index === 0) response.Responses[tableName] = response.Responses[tableName]!.filter((i) => !i.pk!.S!.startsWith('OUTBOX#'));
      return response;
    });

    const outcome = await strategy({ client }).apply(delivery(message, { sequenceNumber: undefined }));

    expect(outcome).toEqual({ status: 'duplicate', paymentId: message.paymentId, eventId: eventIdFor(message.paymentId) });
    expect(names()).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand']);
    expect(await accountItem(accountId)).toMatchObject({ balance: 5, applied: 1, version: 1 });
  });
});

describe('atomic strategy: the sequence fence', () => {
  it('fails a message behind the fence whose payment was never applied: SequenceFencedError with both sequence numbers', async () => {
    const accountId = uniqueName('acc');
    const seq1 = nextSequenceNumber();
    const seq2 = nextSequenceNumber();
    const older = payment(accountId, 20);
    await strategy().apply(delivery(payment(accountId, 50), { sequenceNumber: seq2 }));
    const { client, sent } = recordingClient();

    const error = await strategy({ client })
      .apply(delivery(older, { sequenceNumber: seq1, messageId: 'm-old' }))
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SequenceFencedError);
    expect(error).toMatchObject({ messageId: 'm-old', accountId, sequenceNumber: seq1, lastSequence: String(BigInt(seq2)) });
    // The second read is strongly consistent (is there really no marker?), and nothing is written.
    expect(sent.map((s) => s.name)).toEqual(['BatchGetItemCommand', 'BatchGetItemCommand']);
    expect(readConsistency(sent)).toEqual([false, true]);
    expect(await outboxItem(older.paymentId)).toBeUndefined();
    expect(await accountItem(accountId)).toMatchObject({ balance: 50, version: 1 });
  });

  it('fences at an equal sequence number from the same queue, and lets the next one through', async () => {
    const accountId = uniqueName('acc');
    const seq = nextSequenceNumber();
    await strategy().apply(delivery(payment(accountId, 1), { sequenceNumber: seq }));

    await expect(strategy().apply(delivery(payment(accountId, 2), { sequenceNumber: seq }))).rejects.toThrow(SequenceFencedError);
    expect(await strategy().apply(delivery(payment(accountId, 4)))).toMatchObject({ status: 'applied', balance: 5 });
  });

  it('compares sequence numbers as numbers beyond 2^53 (20 digits), not as text or doubles', async () => {
    const accountId = uniqueName('acc');
    await strategy().apply(delivery(payment(accountId, 1), { sequenceNumber: '18446744073709551600' }));

    const next = await strategy().apply(delivery(payment(accountId, 2), { sequenceNumber: '18446744073709551601' }));

    expect(next).toMatchObject({ status: 'applied', balance: 3 });
    await expect(strategy().apply(delivery(payment(accountId, 4), { sequenceNumber: '18446744073709551599' }))).rejects.toThrow(
      SequenceFencedError,
    );
  });

  it("does not fence a message from another queue with the old queue's sequence numbers, and moves the watermark to it", async () => {
    const accountId = uniqueName('acc');
    await strategy().apply(delivery(payment(accountId, 1)));
    await strategy().apply(delivery(payment(accountId, 1)));
    const low = '00000000000000000001';

    const outcome = await strategy().apply(delivery(payment(accountId, 2), { queueArn: OTHER_QUEUE, sequenceNumber: low }));

    expect(outcome).toMatchObject({ status: 'applied', balance: 4 });
    expect(await accountItem(accountId)).toMatchObject({ lastSequence: 1, lastSequenceQueue: OTHER_QUEUE });
    // From now on the new queue's numbers are the fence.
    await expect(strategy().apply(delivery(payment(accountId, 8), { queueArn: OTHER_QUEUE, sequenceNumber: low }))).rejects.toThrow(
      SequenceFencedError,
    );
  });

  it('fences deliveries that do not say their queue against each other (queue "unknown")', async () => {
    const accountId = uniqueName('acc');
    const seq = nextSequenceNumber();
    await strategy().apply(delivery(payment(accountId, 1), { sequenceNumber: seq, queueArn: undefined }));

    expect(await accountItem(accountId)).toMatchObject({ lastSequenceQueue: 'unknown', lastSequence: Number(seq) });
    await expect(
      strategy().apply(delivery(payment(accountId, 1), { sequenceNumber: seq, queueArn: undefined })),
    ).rejects.toThrow(SequenceFencedError);
  });

  it('applies a standard-queue delivery (no sequence number) to an account with a watermark, leaving the watermark', async () => {
    const accountId = uniqueName('acc');
    const seq = nextSequenceNumber();
    await strategy().apply(delivery(payment(accountId, 1), { sequenceNumber: seq }));

    const outcome = await strategy().apply(delivery(payment(accountId, 2), { sequenceNumber: undefined }));

    expect(outcome).toMatchObject({ status: 'applied', balance: 3 });
    expect(await accountItem(accountId)).toMatchObject({ lastSequence: Number(seq), lastSequenceQueue: QUEUE, version: 2 });
  });

  it('records no watermark for a standard-queue delivery, so a later FIFO message of any number applies', async () => {
    const accountId = uniqueName('acc');
    await strategy().apply(delivery(payment(accountId, 1), { sequenceNumber: undefined }));

    const account = await accountItem(accountId);
    expect(account?.lastSequence).toBeUndefined();
    expect(account?.lastSequenceQueue).toBeUndefined();
    expect(await strategy().apply(delivery(payment(accountId, 1), { sequenceNumber: '00000000000000000001' }))).toMatchObject({
      status: 'applied',
    });
  });

  it('reports a zombie copy of an applied payment behind the fence as a fenced duplicate when a stale read missed its marker', async () => {
    const accountId = uniqueName('acc');
    const m1 = payment(accountId, 10);
    const seq1 = nextSequenceNumber();
    await strategy().apply(delivery(m1, { sequenceNumber: seq1 }));
    await strategy().apply(delivery(payment(accountId, 5)));
    const { client, sent } = recordingClient(async (_, index, send) => {
      const response = (await send()) as { Responses: Record<string, Array<Record<string, { S?: string }>>> };
      if (index === 0) response.Responses[tableName] = response.Responses[tableName]!.filter((i) => !i.pk!.S!.startsWith('OUTBOX#'));
      return response;
    });

    const outcome = await strategy({ client }).apply(delivery(m1, { sequenceNumber: seq1, receiveCount: 2 }));

    expect(outcome).toEqual({ status: 'duplicate', paymentId: m1.paymentId, eventId: eventIdFor(m1.paymentId), fenced: true });
    expect(readConsistency(sent)).toEqual([false, true]);
    expect(await accountItem(accountId)).toMatchObject({ balance: 15, applied: 2, version: 2 });
  });

  it('fails a commit whose read came before a newer message of the group committed (the fence in the transaction)', async () => {
    const accountId = uniqueName('acc');
    await strategy().apply(delivery(payment(accountId, 100)));
    const seq1 = nextSequenceNumber();
    const seq2 = nextSequenceNumber();
    const older = payment(accountId, 20);
    const { client, names } = recordingClient(async (_sent, index, send) => {
      const response = await send();
      if (index === 0) await strategy().apply(delivery(payment(accountId, 50), { sequenceNumber: seq2 }));
      return response;
    });

    const error = await strategy({ client }).apply(delivery(older, { sequenceNumber: seq1 })).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SequenceFencedError);
    expect(names()).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand', 'BatchGetItemCommand']);
    expect(await accountItem(accountId)).toMatchObject({ balance: 150, applied: 2, version: 2 });
    expect(await outboxItem(older.paymentId)).toBeUndefined();
  });
});

describe('atomic strategy: races between the read and the commit (version condition)', () => {
  it('refuses a commit fenced by a newer message even when it was the last attempt (maxAttempts 1): fenced, not contention', async () => {
    const accountId = uniqueName('acc');
    await strategy().apply(delivery(payment(accountId, 100)));
    const seq1 = nextSequenceNumber();
    const seq2 = nextSequenceNumber();
    const { client } = recordingClient(async (_sent, index, send) => {
      const response = await send();
      if (index === 0) await strategy().apply(delivery(payment(accountId, 50), { sequenceNumber: seq2 }));
      return response;
    });

    const error = await strategy({ client, maxAttempts: 1 }).apply(delivery(payment(accountId, 20), { sequenceNumber: seq1 })).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SequenceFencedError);
  });

  it('two first credits racing on an account that does not exist yet both count', async () => {
    const accountId = uniqueName('acc');
    const { client, names } = recordingClient(async (_, index, send) => {
      const response = await send();
      if (index === 0) await strategy().apply(delivery(payment(accountId, 20), { sequenceNumber: undefined }));
      return response;
    });

    const outcome = await strategy({ client }).apply(delivery(payment(accountId, 10), { sequenceNumber: undefined }));

    expect(outcome).toMatchObject({ status: 'applied', balance: 30 });
    // The cancelled transaction returned the account (ALL_OLD): decided again on it, without a second read.
    expect(names()).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand', 'TransactWriteItemsCommand']);
    expect(await accountItem(accountId)).toMatchObject({ balance: 30, applied: 2, version: 2 });
  });

  it('two credits racing on an existing account both count', async () => {
    const accountId = uniqueName('acc');
    await strategy().apply(delivery(payment(accountId, 100)));
    const { client, names } = recordingClient(async (_, index, send) => {
      const response = await send();
      if (index === 0) await strategy().apply(delivery(payment(accountId, 20), { sequenceNumber: undefined }));
      return response;
    });

    const outcome = await strategy({ client }).apply(delivery(payment(accountId, 10), { sequenceNumber: undefined }));

    expect(outcome).toMatchObject({ status: 'applied', balance: 130 });
    expect(names()).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand', 'TransactWriteItemsCommand']);
    expect(await accountItem(accountId)).toMatchObject({ balance: 130, applied: 3, version: 3 });
  });

  it('two debits racing that each fit alone but not together: the second is rejected', async () => {
    const accountId = uniqueName('acc');
    await strategy().apply(delivery(payment(accountId, 100)));
    const { client } = recordingClient(async (_, index, send) => {
      const response = await send();
      if (index === 0) await strategy().apply(delivery(payment(accountId, -70), { sequenceNumber: undefined }));
      return response;
    });

    const outcome = await strategy({ client }).apply(delivery(payment(accountId, -60), { sequenceNumber: undefined }));

    expect(outcome).toMatchObject({ status: 'rejected', balance: 30, reason: 'INSUFFICIENT_FUNDS' });
    expect(await accountItem(accountId)).toMatchObject({ balance: 30, applied: 2, rejected: 1 });
  });

  it('a rejection that a race made untrue is decided again: an overdraft covered by a credit committed meanwhile applies', async () => {
    const accountId = uniqueName('acc');
    await strategy().apply(delivery(payment(accountId, 10)));
    const { client } = recordingClient(async (_, index, send) => {
      const response = await send();
      if (index === 0) await strategy().apply(delivery(payment(accountId, 100), { sequenceNumber: undefined }));
      return response;
    });

    const outcome = await strategy({ client }).apply(delivery(payment(accountId, -50), { sequenceNumber: undefined }));

    expect(outcome).toMatchObject({ status: 'applied', balance: 60 });
    expect(await accountItem(accountId)).toMatchObject({ balance: 60, applied: 3, rejected: 0 });
  });

  it('gives up with LedgerContentionError after maxAttempts (default 5) when the account changes before every commit', async () => {
    const accountId = uniqueName('acc');
    await strategy().apply(delivery(payment(accountId, 100)));
    const contended = () =>
      recordingClient(async (sent, _, send) => {
        if (sent.name === 'TransactWriteItemsCommand') await touchAccount(accountId);
        return send();
      });
    const byDefault = contended();
    const twice = contended();

    const error = await strategy({ client: byDefault.client }).apply(delivery(payment(accountId, 1))).catch((e: unknown) => e);
    const error2 = await strategy({ client: twice.client, maxAttempts: 2 }).apply(delivery(payment(accountId, 1))).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(LedgerContentionError);
    expect((error as Error).message).toBe(`Account ${accountId} changed during 5 attempts to commit a payment; the message will be retried`);
    expect((error as Error).cause).toBeInstanceOf(AtomicIdempotencyError);
    expect(byDefault.names().filter((n) => n === 'TransactWriteItemsCommand')).toHaveLength(5);
    expect(error2).toBeInstanceOf(LedgerContentionError);
    expect(twice.names().filter((n) => n === 'TransactWriteItemsCommand')).toHaveLength(2);
    expect(await accountItem(accountId)).toMatchObject({ balance: 100, applied: 1 });
  });
});

describe('atomic strategy: the business conditions hold even against a write that did not bump the version', () => {
  // The account's version pins the state the decision was made on; the overdraft and currency conditions are
  // checked in the transaction as well, so a writer that changes the account without the version protocol (an
  // operator's correction, a tool) still cannot make the ledger overdraw or mix currencies.
  async function setBehindTheBack(accountId: string, values: { balance?: number; currency?: string }): Promise<void> {
    const key = accountKey(accountId);
    const names: Record<string, string> = {};
    const attributeValues: Record<string, { N: string } | { S: string }> = {};
    const set: string[] = [];
    if (values.balance !== undefined) {
      names['#balance'] = 'balance';
      attributeValues[':balance'] = { N: String(values.balance) };
      set.push('#balance = :balance');
    }
    if (values.currency !== undefined) {
      names['#currency'] = 'currency';
      attributeValues[':currency'] = { S: values.currency };
      set.push('#currency = :currency');
    }
    await ddb.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: { S: key.pk }, sk: { S: key.sk } },
        UpdateExpression: `SET ${set.join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: attributeValues,
      }),
    );
  }

  /** A strategy whose first read is followed by `meanwhile`, before it commits. */
  function afterFirstRead(meanwhile: () => Promise<void>): AtomicLedgerStrategy {
    const { client } = recordingClient(async (_sent, index, send) => {
      const response = await send();
      if (index === 0) await meanwhile();
      return response;
    });
    return strategy({ client });
  }

  it('never overdraws: a debit decided on a balance lowered meanwhile is decided again and rejected', async () => {
    const accountId = uniqueName('acc');
    await strategy().apply(delivery(payment(accountId, 100)));

    const outcome = await afterFirstRead(() => setBehindTheBack(accountId, { balance: 10 })).apply(delivery(payment(accountId, -60)));

    expect(outcome).toMatchObject({ status: 'rejected', balance: 10, reason: 'INSUFFICIENT_FUNDS' });
    expect(await accountItem(accountId)).toMatchObject({ balance: 10, applied: 1, rejected: 1 });
  });

  it('never applies a credit in a currency the account was switched away from meanwhile', async () => {
    const accountId = uniqueName('acc');
    await strategy().apply(delivery(payment(accountId, 100, 'EUR')));

    const outcome = await afterFirstRead(() => setBehindTheBack(accountId, { currency: 'USD' })).apply(delivery(payment(accountId, 5, 'EUR')));

    expect(outcome).toMatchObject({ status: 'rejected', balance: 100, reason: 'CURRENCY_MISMATCH' });
    expect(await accountItem(accountId)).toMatchObject({ balance: 100, currency: 'USD', applied: 1, rejected: 1 });
  });

  it('never records an overdraft that a balance raised meanwhile made untrue: decided again and applied', async () => {
    const accountId = uniqueName('acc');
    await strategy().apply(delivery(payment(accountId, 10)));

    const outcome = await afterFirstRead(() => setBehindTheBack(accountId, { balance: 500 })).apply(delivery(payment(accountId, -60)));

    expect(outcome).toMatchObject({ status: 'applied', balance: 440 });
    expect(await accountItem(accountId)).toMatchObject({ balance: 440, applied: 2, rejected: 0 });
  });

  it('never records a currency mismatch that a currency switched meanwhile made untrue: decided again and applied', async () => {
    const accountId = uniqueName('acc');
    await strategy().apply(delivery(payment(accountId, 10, 'EUR')));

    const outcome = await afterFirstRead(() => setBehindTheBack(accountId, { currency: 'CHF' })).apply(delivery(payment(accountId, 5, 'CHF')));

    expect(outcome).toMatchObject({ status: 'applied', balance: 15 });
    expect(await accountItem(accountId)).toMatchObject({ balance: 15, currency: 'CHF', applied: 2, rejected: 0 });
  });
});

describe('atomic strategy: failures DynamoDB Local cannot produce on demand (injected by the client wrapper)', () => {
  it.each([
    ['a throttling error past the SDK retries', throttled],
    ['a RetryableError (keys left unprocessed)', () => new RetryableError('keys left unprocessed')],
  ])('retries the read after %s, reading strongly consistent the second time, then applies once', async (_, failure) => {
    const accountId = uniqueName('acc');
    const { client, sent } = recordingClient(async (_sent, index, send) => {
      if (index === 0) throw failure();
      return send();
    });

    const outcome = await strategy({ client }).apply(delivery(payment(accountId, 9)));

    expect(outcome).toMatchObject({ status: 'applied', balance: 9 });
    expect(readConsistency(sent)).toEqual([false, true]);
    expect(await accountItem(accountId)).toMatchObject({ balance: 9, applied: 1 });
  });

  it('throws a read failure that is not retryable at once, without writing', async () => {
    const { client, names } = recordingClient(async () => {
      throw Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException' });
    });

    await expect(strategy({ client }).apply(delivery(payment(uniqueName('acc'), 9)))).rejects.toThrow('Requested resource not found');
    expect(names()).toEqual(['BatchGetItemCommand']);
  });

  it('throws the throttling error itself when the last attempt\'s read is throttled', async () => {
    const once = recordingClient(async () => {
      throw throttled();
    });
    const thrice = recordingClient(async () => {
      throw throttled();
    });

    await expect(strategy({ client: once.client, maxAttempts: 1 }).apply(delivery(payment(uniqueName('acc'), 9)))).rejects.toThrow(
      'Rate exceeded',
    );
    await expect(strategy({ client: thrice.client, maxAttempts: 3 }).apply(delivery(payment(uniqueName('acc'), 9)))).rejects.toThrow(
      'Rate exceeded',
    );
    expect(once.names()).toHaveLength(1);
    expect(thrice.names()).toHaveLength(3);
  });

  it('retries a transaction conflict with a fresh strongly consistent read, then applies once', async () => {
    const accountId = uniqueName('acc');
    await strategy().apply(delivery(payment(accountId, 1)));
    let conflicts = 1;
    const { client, sent, names } = recordingClient(async (s, _, send) => {
      if (s.name === 'TransactWriteItemsCommand' && conflicts-- > 0) throw cancelled('TransactionConflict');
      return send();
    });

    const outcome = await strategy({ client }).apply(delivery(payment(accountId, 9)));

    expect(outcome).toMatchObject({ status: 'applied', balance: 10 });
    expect(names()).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand', 'BatchGetItemCommand', 'TransactWriteItemsCommand']);
    expect(readConsistency(sent)).toEqual([false, true]);
    expect(await accountItem(accountId)).toMatchObject({ balance: 10, applied: 2, version: 2 });
  });

  it('throws the retryable commit error itself (for SQS to retry the message) when the last attempt conflicts', async () => {
    const { client, names } = recordingClient(async (s, _, send) => {
      if (s.name === 'TransactWriteItemsCommand') throw cancelled('TransactionConflict');
      return send();
    });

    const error = await strategy({ client, maxAttempts: 2 }).apply(delivery(payment(uniqueName('acc'), 9))).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RetryableCommitError);
    expect(names().filter((n) => n === 'TransactWriteItemsCommand')).toHaveLength(2);
  });

  it('fails at once, without retrying, on a cancellation that can never succeed (AWS\'s ValidationError cancellation)', async () => {
    const { client, names } = recordingClient(async (s, _, send) => {
      if (s.name === 'TransactWriteItemsCommand') throw cancelled('ValidationError');
      return send();
    });

    const error = await strategy({ client }).apply(delivery(payment(uniqueName('acc'), 9))).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AtomicIdempotencyError);
    expect(error).not.toBeInstanceOf(RetryableCommitError);
    expect(names()).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand']);
  });
});

describe('atomic strategy: chaos fault points', () => {
  it('crashes before the commit at ledger.beforeCommit, writing nothing', async () => {
    const accountId = uniqueName('acc');
    setFaultPlanForTests({ seed: 1, faults: { 'ledger.beforeCommit': 1 } });

    const error = await strategy().apply(delivery(payment(accountId, 3))).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(InjectedFault);
    expect((error as InjectedFault).point).toBe('ledger.beforeCommit');
    expect(await accountItem(accountId)).toBeUndefined();
  });

  it('crashes after the commit at ledger.afterCommit: the payment is applied, and its redelivery is a duplicate', async () => {
    const accountId = uniqueName('acc');
    const message = payment(accountId, 3);
    setFaultPlanForTests({ seed: 1, faults: { 'ledger.afterCommit': 1 } });

    const error = await strategy().apply(delivery(message)).catch((e: unknown) => e);
    setFaultPlanForTests(null);

    expect((error as InjectedFault).point).toBe('ledger.afterCommit');
    expect(await accountItem(accountId)).toMatchObject({ balance: 3, applied: 1 });
    expect((await strategy().apply(delivery(message))).status).toBe('duplicate');
  });

  it('caps a zombie stall at the registered invocation deadline, then commits', async () => {
    const accountId = uniqueName('acc');
    setFaultPlanForTests({ seed: 1, faults: { 'ledger.zombie': 1 }, zombieDelayMs: 60_000 });
    const s = strategy();
    s.registerLambdaContext(lambdaContext(300) as Context);
    const started = Date.now();

    const outcome = await s.apply(delivery(payment(accountId, 3)));

    expect(outcome.status).toBe('applied');
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
