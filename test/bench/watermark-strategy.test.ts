import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.js';
import { MissingSequenceNumberError, WatermarkStrategy } from '../../lambdas/ledger/strategies/watermark.js';
import { PaymentEventSchema } from '../../lambdas/shared/payments-model.js';
import type { PaymentDelivery } from '../../lambdas/ledger/strategy.js';
import { paymentMessage } from '../fixtures/events.js';
import { createLedgerTable } from '../fixtures/tables.js';

let client: DynamoDBClient;
let tableName: string;

beforeAll(async () => {
  client = new DynamoDBClient({ endpoint: inject('ddbEndpoint'), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  tableName = `ledger-watermark-${Date.now()}`;
  await createLedgerTable(client, tableName);
});

let counter = 0;
function delivery(accountId: string, amount: number, sequenceNumber: string | undefined, key?: string): PaymentDelivery {
  const idempotencyKey = key ?? `bench-key-${Date.now()}-${counter++}`;
  const message = paymentMessage(idempotencyKey, { accountId, amount });
  return { message, messageId: `m-${counter++}`, sequenceNumber, receiveCount: 1 };
}

async function account(accountId: string) {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: tableName, Key: { pk: { S: `ACCOUNT#${accountId}` }, sk: { S: 'ACCOUNT' } }, ConsistentRead: true }),
  );
  return Item;
}

const strategy = () => new WatermarkStrategy({ dynamodb: client, tableName });

describe('watermark strategy against DynamoDB Local', () => {
  it('applies a payment with one write and carries the event on the account item', async () => {
    // Prepare
    const accountId = `acc-${counter++}`;
    const first = delivery(accountId, 500, '18889000000000000001');
    // Act
    const outcome = await strategy().apply(first);
    // Assess
    expect(outcome).toMatchObject({ status: 'applied', balance: 500 });
    const item = await account(accountId);
    expect(item?.balance?.N).toBe('500');
    // 20-digit sequence numbers exceed 2^53: stored exactly as a DynamoDB Number.
    expect(item?.lastSequence?.N).toBe('18889000000000000001');
    const event = PaymentEventSchema.parse(JSON.parse(item?.lastEvent?.S ?? '{}'));
    expect(event).toMatchObject({ eventType: 'PaymentApplied', paymentId: first.message.paymentId, balance: 500 });
  });

  it('treats a redelivery (same sequence number) as a duplicate, even in a fresh container', async () => {
    // Prepare
    const accountId = `acc-${counter++}`;
    const first = delivery(accountId, 300, '100');
    await strategy().apply(first);
    // Act
    const warm = await strategy().apply(first);
    const redeliveredElsewhere = await new WatermarkStrategy({ dynamodb: client, tableName }).apply({ ...first, receiveCount: 2 });
    // Assess
    expect(warm.status).toBe('duplicate');
    expect(redeliveredElsewhere.status).toBe('duplicate');
    expect((await account(accountId))?.balance?.N).toBe('300');
    expect((await account(accountId))?.applied?.N).toBe('1');
  });

  it('rejects an overdraft exactly once and records it as an outcome', async () => {
    // Prepare
    const accountId = `acc-${counter++}`;
    const s = strategy();
    await s.apply(delivery(accountId, 100, '1'));
    const overdraft = delivery(accountId, -250, '2');
    // Act
    const rejected = await s.apply(overdraft);
    const again = await strategy().apply(overdraft);
    // Assess
    expect(rejected).toMatchObject({ status: 'rejected', balance: 100 });
    expect(again.status).toBe('duplicate');
    const item = await account(accountId);
    expect(item?.rejected?.N).toBe('1');
    expect(JSON.parse(item?.lastEvent?.S ?? '{}')).toMatchObject({ eventType: 'PaymentRejected', reason: 'INSUFFICIENT_FUNDS' });
  });

  it('recovers from a stale cache: another container moved the account on', async () => {
    // Prepare
    const accountId = `acc-${counter++}`;
    const a = strategy();
    const b = strategy();
    await a.apply(delivery(accountId, 100, '10'));
    await b.apply(delivery(accountId, 50, '11'));
    // Act: `a` still believes balance 100 / version 1.
    const outcome = await a.apply(delivery(accountId, -140, '12'));
    // Assess
    expect(outcome).toMatchObject({ status: 'applied', balance: 10 });
    expect((await account(accountId))?.version?.N).toBe('3');
  });

  it('fences a zombie: an older sequence arriving after a newer one is dropped', async () => {
    // Prepare
    const accountId = `acc-${counter++}`;
    await strategy().apply(delivery(accountId, 100, '20'));
    // Act
    const zombie = await strategy().apply(delivery(accountId, 100, '19'));
    // Assess
    expect(zombie.status).toBe('duplicate');
    expect((await account(accountId))?.balance?.N).toBe('100');
  });

  it('applies a producer re-send beyond the FIFO dedup window twice (documented limit: new sequence number)', async () => {
    // Prepare
    const accountId = `acc-${counter++}`;
    const key = `resend-${Date.now()}-${counter++}`;
    await strategy().apply(delivery(accountId, 70, '30', key));
    // Act
    const resend = await strategy().apply(delivery(accountId, 70, '31', key));
    // Assess
    expect(resend.status).toBe('applied');
    expect((await account(accountId))?.balance?.N).toBe('140');
  });

  it('rejects a delivery without a FIFO sequence number', async () => {
    await expect(strategy().apply(delivery(`acc-${counter++}`, 10, undefined))).rejects.toBeInstanceOf(
      MissingSequenceNumberError,
    );
  });
});
