import type { Context } from 'aws-lambda';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { InjectedFault, setFaultPlanForTests } from '../../lambdas/shared/faults.js';
import { createAtLeastOnceStrategy } from '../../lambdas/ledger/strategies/at-least-once.js';
import { createPowertoolsStrategy } from '../../lambdas/ledger/strategies/powertools.js';
import type { PaymentDelivery } from '../../lambdas/ledger/strategy.js';
import { paymentMessage } from '../fixtures/events.js';
import { createIdempotencyTable, createLedgerTable, localDynamoDb } from '../fixtures/tables.js';

const ddb = localDynamoDb(inject('ddbEndpoint'), 2);
const doc = DynamoDBDocumentClient.from(ddb);
let tables: { ledger: string; idempotency: string };

beforeAll(async () => {
  tables = { ledger: await createLedgerTable(ddb), idempotency: await createIdempotencyTable(ddb) };
});
afterEach(() => setFaultPlanForTests(null));

const lambdaContext = { getRemainingTimeInMillis: () => 30_000 } as Context;
let counter = 0;
function delivery(accountId: string, amount: number): PaymentDelivery {
  const idempotencyKey = `strategy-test-${++counter}-${Date.now()}`;
  return { message: paymentMessage(idempotencyKey, { accountId, amount }), messageId: `m-${counter}`, receiveCount: 1 };
}

async function ledgerItems(accountId: string) {
  const items = (await doc.send(new ScanCommand({ TableName: tables.ledger }))).Items ?? [];
  const account = items.find((i) => i.pk === `ACCOUNT#${accountId}`);
  const events = items
    .filter((i) => String(i.pk).startsWith('OUTBOX#'))
    .map((i) => JSON.parse(String(i.event)))
    .filter((e) => e.accountId === accountId);
  return { account, events };
}

describe('at-least-once strategy (negative-control baseline)', () => {
  it('applies a duplicate delivery twice, under two event ids', async () => {
    // Prepare
    const strategy = createAtLeastOnceStrategy({ dynamodb: ddb, tableName: tables.ledger });
    const d = delivery('alo-1', 500);
    // Act
    const first = await strategy.apply(d);
    const second = await strategy.apply({ ...d, messageId: 'redelivered', receiveCount: 2 });
    // Assess
    const { account, events } = await ledgerItems('alo-1');
    expect(first.status).toBe('applied');
    expect(second.status).toBe('applied');
    expect(account).toMatchObject({ balance: 1000, applied: 2, rejected: 0, currency: 'EUR' });
    expect(new Set(events.map((e) => e.eventId)).size).toBe(2);
  });

  it('rejects a debit that would overdraw, and records the rejection once per delivery', async () => {
    // Prepare
    const strategy = createAtLeastOnceStrategy({ dynamodb: ddb, tableName: tables.ledger });
    await strategy.apply(delivery('alo-2', 100));
    // Act
    const outcome = await strategy.apply(delivery('alo-2', -250));
    // Assess
    const { account, events } = await ledgerItems('alo-2');
    expect(outcome).toMatchObject({ status: 'rejected', balance: 100 });
    expect(account).toMatchObject({ balance: 100, applied: 1, rejected: 1 });
    expect(events.find((e) => e.eventType === 'PaymentRejected')).toMatchObject({ reason: 'INSUFFICIENT_FUNDS', balance: 100 });
  });
});

describe('powertools strategy (idempotency record separate from the business write)', () => {
  it('applies a duplicate delivery once and reports the replay as a duplicate', async () => {
    // Prepare
    const strategy = createPowertoolsStrategy({
      dynamodb: ddb,
      tableName: tables.ledger,
      idempotencyTableName: tables.idempotency,
    });
    strategy.registerLambdaContext(lambdaContext);
    const d = delivery('pt-1', 700);
    // Act
    const first = await strategy.apply(d);
    const second = await strategy.apply({ ...d, messageId: 'resent-beyond-window', receiveCount: 1 });
    // Assess
    const { account, events } = await ledgerItems('pt-1');
    expect(first.status).toBe('applied');
    expect(second).toMatchObject({ status: 'duplicate', eventId: first.eventId });
    expect(account).toMatchObject({ balance: 700, applied: 1 });
    expect(events).toHaveLength(1);
  });

  it('fails open in the crash-after-effect window: the retry applies the payment a second time', async () => {
    // Prepare: the first delivery crashes right after its business write, before the record completes.
    const strategy = createPowertoolsStrategy({
      dynamodb: ddb,
      tableName: tables.ledger,
      idempotencyTableName: tables.idempotency,
    });
    strategy.registerLambdaContext(lambdaContext);
    const d = delivery('pt-2', 300);
    setFaultPlanForTests({ seed: 1, faults: { 'ledger.afterCommit': 1 } });
    // Act
    await expect(strategy.apply(d)).rejects.toBeInstanceOf(InjectedFault);
    setFaultPlanForTests(null);
    const retry = await strategy.apply({ ...d, receiveCount: 2 });
    // Assess: the known window of a record kept apart from the effect.
    const { account } = await ledgerItems('pt-2');
    expect(retry.status).toBe('applied');
    expect(account).toMatchObject({ balance: 600, applied: 2 });
  });
});
