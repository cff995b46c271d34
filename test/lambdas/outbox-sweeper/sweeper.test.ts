import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteMessageCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { publishOutboxItems, type SweepDeps } from '../../../lambdas/outbox-sweeper/sweeper.js';
import { OUTBOX_EVENTS } from '../../../lambdas/relay/event-schemas.js';
import { dynamoDbOutboxMarks } from '../../../lambdas/relay/outbox-marks.js';
import { outboxPut } from '../../../lambdas/shared/atomic-idempotency/index.js';
import { eventIdFor, paymentIdFor, type PaymentEvent } from '../../../lambdas/shared/payments-model.js';
import { createLedgerTable, createQueue, localDynamoDb, localSqs, uniqueName } from '../../fixtures/tables.js';

let ddb: DynamoDBClient;
let sqs: SQSClient;

beforeAll(() => {
  ddb = localDynamoDb(inject('ddbEndpoint'));
  sqs = localSqs(inject('sqsEndpoint'));
});

function paymentEvent(n: number, accountId = 'acc-sweep'): PaymentEvent {
  const paymentId = paymentIdFor(`sweep-${n}-${Math.random()}`);
  return {
    eventId: eventIdFor(paymentId),
    eventType: 'PaymentApplied',
    paymentId,
    idempotencyKey: `sweep-key-${n}`,
    accountId,
    amount: n,
    currency: 'EUR',
    balance: n,
    occurredAt: new Date().toISOString(),
  };
}

async function put(tableName: string, payload: { eventId: string; eventType: string }, createdAt: Date, extra: Record<string, { S: string }> = {}) {
  const item = outboxPut({ tableName, eventId: payload.eventId, eventType: payload.eventType, groupKey: 'acc-sweep', payload, now: createdAt }).Put!.Item!;
  await ddb.send(new PutItemCommand({ TableName: tableName, Item: { ...item, ...extra } }));
}

async function drain(queueUrl: string): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60 }));
    if (!Messages?.length) return all;
    all.push(...Messages);
    for (const m of Messages) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
  }
}

describe('outbox sweeper (DynamoDB Local, fauxqs)', () => {
  it('publishes only the unpublished items older than the threshold, marks them, and reports the lag left', async () => {
    // Prepare: one old unpublished, one young unpublished, one old published, one old rejected, one old invalid
    const tableName = await createLedgerTable(ddb);
    const queueUrl = await createQueue(sqs, { name: uniqueName('swept') });
    const now = new Date('2026-12-01T12:00:00.000Z');
    const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000);
    const [old, young, published, rejected] = [1, 2, 3, 4].map((n) => paymentEvent(n));
    const invalid = { ...paymentEvent(5), amount: 'lots' } as unknown as PaymentEvent;
    await put(tableName, old!, minutesAgo(30));
    await put(tableName, young!, minutesAgo(2));
    await put(tableName, published!, minutesAgo(40), { publishedAt: { S: minutesAgo(39).toISOString() } });
    await put(tableName, rejected!, minutesAgo(50), { rejectedAt: { S: minutesAgo(49).toISOString() } });
    await put(tableName, invalid, minutesAgo(25));
    const deps: SweepDeps = {
      dynamodb: ddb,
      sqs,
      tableName,
      routes: [{ eventTypes: ['PaymentApplied', 'PaymentRejected'], queueUrl }],
      registry: OUTBOX_EVENTS,
      marks: dynamoDbOutboxMarks(ddb, tableName),
      now: () => now,
    };

    // Act
    const result = await publishOutboxItems(deps, { olderThanSeconds: 20 * 60 });
    const again = await publishOutboxItems(deps, { olderThanSeconds: 20 * 60 });

    // Assess: the old one published once and marked; the invalid one rejected with its reason; the young one waits
    expect(result.found).toBe(3);
    expect(result.published.map((e) => e.eventId)).toEqual([old!.eventId]);
    expect(result.rejected).toEqual([{ eventId: invalid.eventId, reasons: [expect.stringMatching(/PaymentApplied schema \(ledger\): amount/)] }]);
    expect(result.oldestUnpublishedAgeSeconds).toBe(120);
    expect((await drain(queueUrl)).map((m) => JSON.parse(m.Body!).eventId)).toEqual([old!.eventId]);
    const item = await ddb.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: `OUTBOX#${old!.eventId}` }, sk: { S: 'OUTBOX' } } }));
    expect(item.Item?.publishedAt?.S).toBe(now.toISOString());
    expect(again.published).toEqual([]);
    expect(again.found).toBe(1); // only the young one is left
  });

  it('replays a time range of one event type, published or not, and touches nothing in a dry run', async () => {
    const tableName = await createLedgerTable(ddb);
    const queueUrl = await createQueue(sqs, { name: uniqueName('replayed') });
    const now = new Date('2026-12-01T12:00:00.000Z');
    const inRange = paymentEvent(10);
    const outOfRange = paymentEvent(11);
    await put(tableName, inRange, new Date('2026-12-01T09:30:00.000Z'), { publishedAt: { S: '2026-12-01T09:30:01.000Z' } });
    await put(tableName, outOfRange, new Date('2026-12-01T08:00:00.000Z'));
    const deps: SweepDeps = {
      dynamodb: ddb,
      sqs,
      tableName,
      routes: [{ eventTypePrefix: 'Payment', queueUrl }],
      registry: OUTBOX_EVENTS,
      marks: dynamoDbOutboxMarks(ddb, tableName),
      now: () => now,
    };
    const filter = {
      unpublishedOnly: false,
      eventType: 'PaymentApplied',
      createdFrom: new Date('2026-12-01T09:00:00.000Z'),
      createdBefore: new Date('2026-12-01T10:00:00.000Z'),
    };

    const dry = await publishOutboxItems(deps, { filter, dryRun: true });
    expect(dry.published.map((e) => e.eventId)).toEqual([inRange.eventId]);
    expect(await drain(queueUrl)).toEqual([]);

    const real = await publishOutboxItems(deps, { filter });
    expect(real.published.map((e) => e.eventId)).toEqual([inRange.eventId]);
    expect((await drain(queueUrl)).map((m) => JSON.parse(m.Body!).eventId)).toEqual([inRange.eventId]);
  });
});
