import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteMessageCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import * as z from 'zod/mini';
import { OUTBOX_EVENTS } from '../../../lambdas/relay/event-schemas.js';
import { dynamoDbOutboxMarks } from '../../../lambdas/relay/outbox-marks.js';
import type { OutboxEventRegistration } from '../../../lambdas/relay/registration.js';
import { relayRecords, type RelayDeps } from '../../../lambdas/relay/relay.js';
import { accountKey, outboxKey } from '../../../lambdas/shared/ledger-keys.js';
import { eventIdFor, paymentIdFor, type PaymentEvent } from '../../../lambdas/shared/payments-model.js';
import { streamRecord } from '../../fixtures/events.js';
import { createLedgerTable, createQueue, localDynamoDb, localSqs, uniqueName } from '../../fixtures/tables.js';
import { recordingSqs } from './sqs-request-rules.js';

/**
 * The relay's marks and event checks seen from the table and the queue (issue 11 #8): what it writes on the outbox
 * items (publishedAt, rejectedAt with every reason) and what it never writes (events carried on an account item have
 * no outbox item), a rejection whose mark fails, and events whose id, type or group key come from the payload.
 * DynamoDB Local and fauxqs; every SendMessageBatch is checked against SQS's rules (./sqs-request-rules.ts).
 */

let ddb: DynamoDBClient;
let sqs: SQSClient;
let table: string;

beforeAll(async () => {
  ddb = localDynamoDb(inject('ddbEndpoint'));
  sqs = localSqs(inject('sqsEndpoint'));
  table = await createLedgerTable(ddb);
});

function paymentEvent(accountId = uniqueName('acc')): PaymentEvent {
  const paymentId = paymentIdFor(uniqueName('relay-marks'));
  return {
    eventId: eventIdFor(paymentId),
    eventType: 'PaymentApplied',
    paymentId,
    idempotencyKey: uniqueName('relay-marks'),
    accountId,
    amount: 10,
    currency: 'EUR',
    balance: 10,
    occurredAt: new Date().toISOString(),
  };
}

/** Writes the outbox item to the table (as the ledger does) and returns its stream INSERT. */
async function storedOutboxInsert(payload: unknown, eventId: string) {
  const key = outboxKey(eventId);
  const image = { pk: { S: key.pk }, sk: { S: key.sk }, event: { S: JSON.stringify(payload) } };
  await ddb.send(new PutItemCommand({ TableName: table, Item: image }));
  return streamRecord({ eventName: 'INSERT', keys: { pk: { S: key.pk }, sk: { S: key.sk } }, newImage: image });
}

/** A watermark account item's INSERT carrying `lastEvent` (no outbox item exists for it). */
function accountInsert(lastEvent: string, accountId = uniqueName('acc')) {
  const key = accountKey(accountId);
  const keys = { pk: { S: key.pk }, sk: { S: key.sk } };
  return streamRecord({ eventName: 'INSERT', keys, newImage: { ...keys, lastEvent: { S: lastEvent } } });
}

async function stored(eventId: string) {
  const key = outboxKey(eventId);
  const { Item } = await ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: key.pk }, sk: { S: key.sk } }, ConsistentRead: true }));
  return Item;
}

/** The table's client, recording every command the marks send (an UpdateItem costs a write unit even when refused). */
function recordingDdb(fail?: Error): { client: DynamoDBClient; commands: string[] } {
  const commands: string[] = [];
  const client = {
    send: async (command: { constructor: { name: string } }) => {
      commands.push(command.constructor.name);
      if (fail) throw fail;
      return ddb.send(command as never);
    },
  } as unknown as DynamoDBClient;
  return { client, commands };
}

async function drain(queueUrl: string): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'], VisibilityTimeout: 60 }),
    );
    if (!Messages || Messages.length === 0) return all;
    all.push(...Messages);
    for (const m of Messages) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
  }
}

async function deps(overrides: Partial<RelayDeps> = {}): Promise<RelayDeps & { readonly queueUrl: string; violations(): string[] }> {
  const queueUrl = await createQueue(sqs, { name: uniqueName('events') });
  const { client, violations } = recordingSqs((command) => sqs.send(command));
  return { sqs: client, routes: [{ eventTypePrefix: '', queueUrl }], registry: OUTBOX_EVENTS, queueUrl, violations, ...overrides };
}

describe('outbox marks written by the relay', () => {
  it('dates publishedAt and rejectedAt with the real clock when no clock is given', async () => {
    const good = paymentEvent();
    const bad = { ...paymentEvent(), amount: 'ten' };
    const records = [await storedOutboxInsert(good, good.eventId), await storedOutboxInsert(bad, bad.eventId)];
    const before = Date.now();

    const result = await relayRecords(records, await deps({ marks: dynamoDbOutboxMarks(ddb, table) }));

    expect(result.published.map((e) => e.eventId)).toEqual([good.eventId]);
    expect(result.rejected.map((e) => e.eventId)).toEqual([bad.eventId]);
    for (const at of [(await stored(good.eventId))?.publishedAt?.S, (await stored(bad.eventId))?.rejectedAt?.S]) {
      expect(Date.parse(at ?? '')).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(at ?? '')).toBeLessThanOrEqual(Date.now() + 1000);
    }
  });

  it('stores every reason of a rejected event on its item, separated by "; "', async () => {
    const bad = { ...paymentEvent(), amount: 'ten', currency: 42 };
    const record = await storedOutboxInsert(bad, bad.eventId);

    const result = await relayRecords([record], await deps({ marks: dynamoDbOutboxMarks(ddb, table), now: () => new Date() }));

    expect(result.rejected[0]?.reasons).toHaveLength(2);
    expect((await stored(bad.eventId))?.rejectReason?.S).toBe(result.rejected[0]!.reasons.join('; '));
  });

  it('writes nothing to the table for events carried on an account item (no outbox item to mark), published or rejected', async () => {
    const applied = paymentEvent();
    const broken = { ...paymentEvent(), balance: 'lots' };
    const { client, commands } = recordingDdb();
    const d = await deps({ marks: dynamoDbOutboxMarks(client, table), now: () => new Date() });

    const result = await relayRecords([accountInsert(JSON.stringify(applied)), accountInsert(JSON.stringify(broken))], d);

    expect(result.published.map((e) => e.eventId)).toEqual([applied.eventId]);
    expect(result.rejected.map((e) => e.eventId)).toEqual([broken.eventId]);
    expect(result.failedSequenceNumbers).toEqual([]);
    expect(commands).toEqual([]);
    expect((await drain(d.queueUrl)).map((m) => JSON.parse(m.Body!).eventId)).toEqual([applied.eventId]);
    expect(d.violations()).toEqual([]);
  });

  it('reports a rejected event whose rejectedAt mark failed for retry, with the mark\'s error, instead of losing the reason', async () => {
    const bad = { ...paymentEvent(), amount: 'ten' };
    const good = paymentEvent();
    const records = [await storedOutboxInsert(bad, bad.eventId), await storedOutboxInsert(good, good.eventId)];
    const throttled = Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ThrottlingException' });
    const { client } = recordingDdb(throttled);

    const result = await relayRecords(records, await deps({ marks: dynamoDbOutboxMarks(client, table), now: () => new Date() }));

    const sequenceNumber = records[0]!.dynamodb!.SequenceNumber!;
    expect(result.rejected).toEqual([]);
    expect(result.failedSequenceNumbers).toEqual([sequenceNumber]);
    expect(result.sendFailures).toEqual([
      { sequenceNumber, eventId: bad.eventId, reason: 'rejected, but its mark failed: Rate of requests exceeds the allowed throughput' },
    ]);
    // The good event behind it is still published (its publishedAt mark failed too, reported as such).
    expect(result.published.map((e) => e.eventId)).toEqual([good.eventId]);
    expect(result.markFailures).toEqual([good.eventId]);
    expect((await stored(bad.eventId))?.rejectedAt).toBeUndefined();
  });
});

describe('events whose id or type comes from the payload (an account item carries no eventId / eventType attribute)', () => {
  it.each([
    ['without an eventId', { eventType: 'PaymentApplied' }],
    ['with an eventId that is not a string', { eventId: 42, eventType: 'PaymentApplied' }],
  ])('rejects an event %s, saying so, without an event id', async (_, payload) => {
    const record = accountInsert(JSON.stringify({ ...paymentEvent(), eventId: undefined, ...payload }));

    const result = await relayRecords([record], await deps());

    expect(result.published).toEqual([]);
    expect(result.rejected).toHaveLength(1);
    expect(result.rejected[0]).toMatchObject({ sequenceNumber: record.dynamodb!.SequenceNumber, reasons: ['no eventId on the item or in the event'] });
    expect(result.rejected[0]!.eventId).toBeUndefined();
  });

  it.each([
    ['without an eventType', undefined],
    ['with an eventType that is not a string', 7],
  ])('rejects an event %s, naming its event id', async (_, eventType) => {
    const event = { ...paymentEvent(), eventType };
    const record = accountInsert(JSON.stringify(event));

    const result = await relayRecords([record], await deps());

    expect(result.published).toEqual([]);
    expect(result.rejected[0]).toMatchObject({ eventId: event.eventId, reasons: ['no eventType on the item or in the event'] });
  });

  it('uses the event id as FIFO group when neither the item nor the registration gives a group key', async () => {
    const registry: OutboxEventRegistration[] = [
      { owner: 'tests', eventTypes: ['ThingHappened'], schema: z.object({ eventId: z.string(), eventType: z.string() }) },
    ];
    const queueUrl = await createQueue(sqs, { fifo: true, name: uniqueName('things') });
    const { client, violations } = recordingSqs((command) => sqs.send(command));
    const eventId = uniqueName('evt');
    const key = outboxKey(eventId);
    const record = streamRecord({
      eventName: 'INSERT',
      keys: { pk: { S: key.pk }, sk: { S: key.sk } },
      newImage: { pk: { S: key.pk }, sk: { S: key.sk }, event: { S: JSON.stringify({ eventId, eventType: 'ThingHappened' }) } },
    });

    const result = await relayRecords([record], { sqs: client, routes: [{ eventTypePrefix: '', queueUrl }], registry });

    expect(result.published.map((e) => e.groupKey)).toEqual([eventId]);
    expect(violations()).toEqual([]);
    expect((await drain(queueUrl)).map((m) => m.Attributes?.MessageGroupId)).toEqual([eventId]);
  });
});

describe('records without the usual keys', () => {
  it('skips a record whose Keys and new image both lack a pk instead of failing the batch', async () => {
    const record = streamRecord({ eventName: 'INSERT', keys: {}, newImage: { sk: { S: 'ACCOUNT' } } });

    const result = await relayRecords([record], await deps());

    expect(result).toMatchObject({ skipped: 1, published: [], rejected: [], failedSequenceNumbers: [] });
  });
});
