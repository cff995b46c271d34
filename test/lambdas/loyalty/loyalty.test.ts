import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { loyaltyEventIdFor, LoyaltyPointsAwardedSchema } from '../../../lambdas/loyalty/events.js';
import { loyaltyPointsKey } from '../../../lambdas/loyalty/loyalty.js';
import { dedupKey, outboxKey } from '../../../lambdas/shared/ledger-keys.js';
import { eventIdFor, paymentIdFor, type PaymentEvent } from '../../../lambdas/shared/payments-model.js';
import { sqsEvent, sqsRecord } from '../../fixtures/events.js';
import { createLedgerTable, localAwsEnv, localDynamoDb } from '../../fixtures/tables.js';

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
  ({ handler } = await import('../../../lambdas/loyalty/handler.js'));
});

function paymentEvent(accountId: string, amount: number, eventType: PaymentEvent['eventType'] = 'PaymentApplied'): PaymentEvent {
  const paymentId = paymentIdFor(`loyalty-${accountId}-${amount}-${Math.random()}`);
  return { eventId: eventIdFor(paymentId), eventType, paymentId, idempotencyKey: `k-${paymentId}`, accountId, amount, currency: 'EUR', balance: amount, occurredAt: new Date().toISOString() };
}

const record = (body: unknown) => sqsRecord({ body, groupId: (body as { accountId: string }).accountId });
const getItem = async (key: { pk: string; sk: string }) =>
  (await client.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: key.pk }, sk: { S: key.sk } }, ConsistentRead: true }))).Item;

describe('loyalty consumer (DynamoDB Local)', () => {
  it('awards the points of a payment event once, however often the relay publishes it, with one outbox event', async () => {
    // Prepare: a credit of 12,345 minor units → 123 points
    const accountId = `acct-${Math.random().toString(36).slice(2, 10)}`;
    const credit = paymentEvent(accountId, 12_345);

    // Act: published twice in one batch (a relay retry) and redelivered later
    const first = await handler(sqsEvent(record(credit), record(credit)));
    const again = await handler(sqsEvent(record(credit)));

    // Assess
    expect(first.batchItemFailures).toEqual([]);
    expect(again.batchItemFailures).toEqual([]);
    const points = await getItem(loyaltyPointsKey(accountId));
    expect([points?.points?.N, points?.awards?.N]).toEqual(['123', '1']);
    expect(await getItem(dedupKey('loyalty', credit.eventId))).toBeDefined();
    const outbox = await getItem(outboxKey(loyaltyEventIdFor(credit.eventId)));
    expect([outbox?.eventType?.S, outbox?.groupKey?.S]).toEqual(['LoyaltyPointsAwarded', accountId]);
    expect(LoyaltyPointsAwardedSchema.parse(JSON.parse(outbox!.event!.S!))).toMatchObject({ points: 123, paymentEventId: credit.eventId });
  });

  it('awards nothing for a debit, a rejection or a credit under one point, and writes nothing', async () => {
    const accountId = `acct-${Math.random().toString(36).slice(2, 10)}`;
    const response = await handler(
      sqsEvent(record(paymentEvent(accountId, -500)), record(paymentEvent(accountId, 900, 'PaymentRejected')), record(paymentEvent(accountId, 99))),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(await getItem(loyaltyPointsKey(accountId))).toBeUndefined();
  });

  it('reports a message that is not a payment event as a batch item failure, and stops its group behind it', async () => {
    const accountId = `acct-${Math.random().toString(36).slice(2, 10)}`;
    const bad = record({ accountId, amount: 'lots' });
    const behind = record(paymentEvent(accountId, 1_000));
    const response = await handler(sqsEvent(bad, behind));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: bad.messageId }, { itemIdentifier: behind.messageId }]);
  });
});
