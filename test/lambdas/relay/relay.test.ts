import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageBatchCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as z from 'zod/mini';
import { OUTBOX_EVENTS } from '../../../lambdas/relay/event-schemas.js';
import { dynamoDbOutboxMarks } from '../../../lambdas/relay/outbox-marks.js';
import type { OutboxEventRegistration } from '../../../lambdas/relay/registration.js';
import { relayRecords, type RelayDeps } from '../../../lambdas/relay/relay.js';
import { parseRoutes, type OutboxRoute } from '../../../lambdas/relay/routes.js';
import { outboxPut } from '../../../lambdas/shared/atomic-idempotency/index.js';
import { accountKey, dedupKey, outboxKey } from '../../../lambdas/shared/ledger-keys.js';
import { eventIdFor, paymentIdFor, type PaymentEvent } from '../../../lambdas/shared/payments-model.js';
import { streamRecord } from '../../fixtures/events.js';
import { createLedgerTable, createQueue, localAwsEnv, localDynamoDb, localSqs, uniqueName } from '../../fixtures/tables.js';

function event(n: number, accountId = 'acc-relay'): PaymentEvent {
  const paymentId = paymentIdFor(`relay-key-${n}-${accountId}`);
  return {
    eventId: eventIdFor(paymentId),
    eventType: 'PaymentApplied',
    paymentId,
    idempotencyKey: `relay-key-${n}`,
    accountId,
    amount: n,
    currency: 'EUR',
    balance: n,
    occurredAt: new Date().toISOString(),
  };
}

function outboxInsert(e: PaymentEvent | string) {
  const eventId = typeof e === 'string' ? 'evt_bad' : e.eventId;
  const key = outboxKey(eventId);
  return streamRecord({
    eventName: 'INSERT',
    keys: { pk: { S: key.pk }, sk: { S: key.sk } },
    newImage: { pk: { S: key.pk }, sk: { S: key.sk }, event: { S: typeof e === 'string' ? e : JSON.stringify(e) } },
  });
}

async function drain(sqs: SQSClient, queueUrl: string): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'], VisibilityTimeout: 60 }),
    );
    if (!Messages || Messages.length === 0) return all;
    all.push(...Messages);
    // Delete as we go: a FIFO group delivers its next message only once the previous one is gone.
    for (const m of Messages) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
  }
}

let sqs: SQSClient;
let standardQueueUrl: string;
let handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;

beforeAll(async () => {
  sqs = localSqs(inject('sqsEndpoint'));
  standardQueueUrl = await createQueue(sqs, { name: uniqueName('events') });
  Object.assign(process.env, localAwsEnv({ dynamodb: inject('ddbEndpoint'), sqs: inject('sqsEndpoint') }), {
    EVENTS_QUEUE_URL: standardQueueUrl,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  ({ handler } = await import('../../../lambdas/relay/handler.js'));
});

describe('relay handler (fauxqs)', () => {
  it('publishes outbox inserts with eventType/eventId attributes and skips records that carry no event', async () => {
    // Prepare
    const events = [event(1), event(2), event(3)];
    const dedup = dedupKey('ledger', 'k');
    const account = accountKey('acc-relay');
    const records = [
      ...events.map(outboxInsert),
      streamRecord({ eventName: 'INSERT', keys: { pk: { S: dedup.pk }, sk: { S: dedup.sk } }, newImage: { pk: { S: dedup.pk } } }),
      streamRecord({ eventName: 'MODIFY', keys: { pk: { S: account.pk }, sk: { S: account.sk } }, newImage: { pk: { S: account.pk }, balance: { N: '6' } } }),
    ];

    // Act
    const response = await handler({ Records: records });

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const messages = await drain(sqs, standardQueueUrl);
    expect(messages.map((m) => JSON.parse(m.Body!).eventId).sort()).toEqual(events.map((e) => e.eventId).sort());
    expect(messages[0]?.MessageAttributes?.eventType?.StringValue).toBe('PaymentApplied');
    expect(messages.map((m) => m.MessageAttributes?.eventId?.StringValue).sort()).toEqual(events.map((e) => e.eventId).sort());
  });

  it('rejects an unparseable or invalid outbox record without retrying it and still publishes the others', async () => {
    const good = event(10);
    const bad = outboxInsert('{"eventId":"evt_bad", not json');
    const invalid = outboxInsert(JSON.stringify({ ...event(11), amount: 'lots' }));
    const response = await handler({ Records: [outboxInsert(good), bad, invalid] });
    // A bad event can never pass: retrying it would only hold the shard (it is marked rejected instead).
    expect(response.batchItemFailures).toEqual([]);
    const messages = await drain(sqs, standardQueueUrl);
    expect(messages.map((m) => JSON.parse(m.Body!).eventId)).toEqual([good.eventId]);
  });
});


/** The sent entries of a fake SQS client that accepts everything except what `refuse` names. */
function fakeSqs(refuse: (entryId: string, call: number) => boolean = () => false) {
  const calls: { queueUrl: string; entries: NonNullable<SendMessageBatchCommand['input']['Entries']> }[] = [];
  const client = {
    send: async (command: SendMessageBatchCommand) => {
      const entries = command.input.Entries!;
      calls.push({ queueUrl: command.input.QueueUrl!, entries });
      const refused = entries.filter((e) => refuse(e.Id!, calls.length)).map((e) => e.Id!);
      return {
        Successful: entries.filter((e) => !refused.includes(e.Id!)).map((e) => ({ Id: e.Id })),
        Failed: refused.map((Id) => ({ Id, Code: 'InternalError', SenderFault: false, Message: 'try again' })),
      };
    },
  } as unknown as SQSClient;
  return { client, calls };
}

const catchAll = (queueUrl: string): OutboxRoute[] => [{ eventTypePrefix: '', queueUrl }];
const deps = (sqsClient: Pick<SQSClient, 'send'>, routes: OutboxRoute[], extra: Partial<RelayDeps> = {}): RelayDeps => ({
  sqs: sqsClient,
  routes,
  registry: OUTBOX_EVENTS,
  ...extra,
});

/** A second consumer's event type, registered the way a generated consumer registers its own. */
const OrderPlacedSchema = z.strictObject({ eventId: z.string(), eventType: z.literal('OrderPlaced'), orderId: z.string(), quantity: z.number() });
const ORDERS: OutboxEventRegistration = { owner: 'orders', eventTypes: ['OrderPlaced'], schema: OrderPlacedSchema };
const orderEvent = (n: number, orderId = `order-${n}`) => ({ eventId: `evt_orders_${n}`, eventType: 'OrderPlaced', orderId, quantity: n });

/** The stream INSERT of an outbox item written with `outboxPut` (the shared format). */
function sharedOutboxInsert(payload: { eventId: string; eventType: string }, groupKey: string) {
  const put = outboxPut({ tableName: 't', eventId: payload.eventId, eventType: payload.eventType, groupKey, payload, now: new Date() });
  return streamRecord({ eventName: 'INSERT', keys: { pk: put.Put!.Item!.pk!, sk: put.Put!.Item!.sk! }, newImage: put.Put!.Item! });
}

describe('relayRecords', () => {
  it('sends to a FIFO target in chunks of 10 with group = account and dedup id = event id (a republished event is dropped)', async () => {
    // Prepare: 11 events over two accounts (items without groupKey: the registration's groupKey gives the account),
    // then the first one again (a retried stream batch).
    const fifoUrl = await createQueue(sqs, { fifo: true, name: uniqueName('events') });
    const events = Array.from({ length: 11 }, (_, i) => event(100 + i, i % 2 === 0 ? 'acc-even' : 'acc-odd'));
    const records = [...events, events[0]!].map(outboxInsert);

    // Act
    const result = await relayRecords(records, deps(sqs, catchAll(fifoUrl)));

    // Assess
    expect(result.failedSequenceNumbers).toEqual([]);
    expect(result.published).toHaveLength(12);
    const messages = await drain(sqs, fifoUrl);
    expect(messages).toHaveLength(11);
    for (const m of messages) {
      const body = JSON.parse(m.Body!) as PaymentEvent;
      expect(m.Attributes?.MessageGroupId).toBe(body.accountId);
      expect(m.Attributes?.MessageDeduplicationId).toBe(body.eventId);
    }
  });

  it('routes each event type to its own queue (by type and by prefix) with the group key taken from the item', async () => {
    // Prepare: payments to one queue by type, a second consumer's events to its own FIFO queue by prefix
    const paymentsUrl = await createQueue(sqs, { name: uniqueName('payments-events') });
    const ordersUrl = await createQueue(sqs, { fifo: true, name: uniqueName('orders-events') });
    const routes: OutboxRoute[] = [
      { eventTypes: ['PaymentApplied', 'PaymentRejected'], queueUrl: paymentsUrl },
      { eventTypePrefix: 'Order', queueUrl: ordersUrl },
    ];
    const payment = event(600);
    const orders = [orderEvent(1, 'o-1'), orderEvent(2, 'o-1'), orderEvent(3, 'o-2')];

    // Act
    const result = await relayRecords(
      [outboxInsert(payment), ...orders.map((o) => sharedOutboxInsert(o, o.orderId))],
      deps(sqs, routes, { registry: [...OUTBOX_EVENTS, ORDERS] }),
    );

    // Assess
    expect(result.rejected).toEqual([]);
    expect((await drain(sqs, paymentsUrl)).map((m) => JSON.parse(m.Body!).eventId)).toEqual([payment.eventId]);
    const delivered = await drain(sqs, ordersUrl);
    // Order holds within a group, not across groups.
    const seen = delivered.map((m) => [m.Attributes?.MessageGroupId, m.Attributes?.MessageDeduplicationId, m.MessageAttributes?.eventType?.StringValue]);
    expect([...seen].sort()).toEqual(orders.map((o) => [o.orderId, o.eventId, 'OrderPlaced']).sort());
    expect(seen.filter((s) => s[0] === 'o-1').map((s) => s[1])).toEqual(['evt_orders_1', 'evt_orders_2']);
  });

  it('rejects an event type with no schema or no route, naming the fix, and publishes the events behind it', async () => {
    const { client, calls } = fakeSqs();
    const unknown = sharedOutboxInsert({ eventId: 'evt_x', eventType: 'StockReserved' }, 'sku-1');
    const unrouted = sharedOutboxInsert(orderEvent(7), 'o-7');
    const good = outboxInsert(event(601));
    const result = await relayRecords(
      [unknown, unrouted, good],
      deps(client, [{ eventTypes: ['PaymentApplied'], queueUrl: 'https://sqs.example/events' }], { registry: [...OUTBOX_EVENTS, ORDERS] }),
    );
    expect(result.failedSequenceNumbers).toEqual([]);
    expect(result.rejected.map((r) => r.reasons.join())).toEqual([
      expect.stringMatching(/no schema registered for event type "StockReserved": register it in lambdas\/relay\/event-schemas.ts/),
      expect.stringMatching(/no route for event type "OrderPlaced": add one to the OutboxRelay construct/),
    ]);
    expect(calls.flatMap((c) => c.entries.map((e) => JSON.parse(e.MessageBody!).eventId))).toEqual([JSON.parse(good.dynamodb!.NewImage!.event!.S!).eventId]);
  });

  it('reports only the records whose entries failed (mocked partial SendMessageBatch failure: emulators cannot refuse one entry)', async () => {
    // Prepare: 12 events → two calls; entry "1" of the first and entry "1" of the second call are refused.
    const records = Array.from({ length: 12 }, (_, i) => outboxInsert(event(200 + i)));
    const { client, calls } = fakeSqs((id) => id === '1');

    // Act
    const result = await relayRecords(records, deps(client, catchAll('https://sqs.example/events')));

    // Assess
    expect(calls.map((c) => c.entries.length)).toEqual([10, 2]);
    expect(result.failedSequenceNumbers).toEqual([records[1]!.dynamodb!.SequenceNumber, records[11]!.dynamodb!.SequenceNumber]);
    expect(result.published).toHaveLength(10);
    expect(result.sendFailures[0]?.reason).toMatch(/InternalError/);
  });

  it('holds back the later events of a failed event\'s group on a FIFO target, and only that group', async () => {
    // 12 events of one account, then one of another account: entry 3 of the first call fails.
    const records = [...Array.from({ length: 12 }, (_, i) => outboxInsert(event(500 + i, 'acc-a'))), outboxInsert(event(512, 'acc-b'))];
    const { client, calls } = fakeSqs((id, call) => call === 1 && id === '3');
    const result = await relayRecords(records, deps(client, catchAll('https://sqs.example/events.fifo')));
    expect(result.failedSequenceNumbers).toEqual([3, 10, 11].map((i) => records[i]!.dynamodb!.SequenceNumber));
    expect(calls[1]!.entries.map((e) => e.MessageGroupId)).toEqual(['acc-b']);
    expect(result.sendFailures[1]?.reason).toMatch(/an earlier event of group acc-a failed \(FIFO order\)/);
  });

  it('reports every record of a chunk whose SendMessageBatch call threw, and no other', async () => {
    const records = Array.from({ length: 12 }, (_, i) => outboxInsert(event(300 + i)));
    let call = 0;
    const fake = {
      send: async (command: SendMessageBatchCommand) => {
        call += 1;
        if (call === 2) throw new Error('connection reset');
        return { Successful: command.input.Entries!.map((e) => ({ Id: e.Id })), Failed: [] };
      },
    } as unknown as SQSClient;
    const result = await relayRecords(records, deps(fake, catchAll('https://sqs.example/events')));
    expect(result.failedSequenceNumbers).toEqual(records.slice(10).map((r) => r.dynamodb!.SequenceNumber));
  });

  it('publishes a changed lastEvent from an account record (watermark strategy) and skips an unchanged one', async () => {
    const key = accountKey('acc-relay');
    const first = event(400);
    const second = event(401);
    const changed = streamRecord({
      eventName: 'MODIFY',
      keys: { pk: { S: key.pk }, sk: { S: key.sk } },
      newImage: { pk: { S: key.pk }, lastEvent: { S: JSON.stringify(second) } },
      oldImage: { pk: { S: key.pk }, lastEvent: { S: JSON.stringify(first) } },
    });
    const unchanged = streamRecord({
      eventName: 'MODIFY',
      keys: { pk: { S: key.pk }, sk: { S: key.sk } },
      newImage: { pk: { S: key.pk }, lastEvent: { S: JSON.stringify(second) } },
      oldImage: { pk: { S: key.pk }, lastEvent: { S: JSON.stringify(second) } },
    });
    const inserted = streamRecord({
      eventName: 'INSERT',
      keys: { pk: { S: key.pk }, sk: { S: key.sk } },
      newImage: { pk: { S: key.pk }, lastEvent: { S: JSON.stringify(first) } },
    });
    const { client, calls } = fakeSqs();
    const result = await relayRecords([inserted, changed, unchanged], deps(client, catchAll('https://sqs.example/events')));
    expect(calls.flatMap((c) => c.entries.map((e) => JSON.parse(e.MessageBody!).eventId))).toEqual([first.eventId, second.eventId]);
    expect(result.skipped).toBe(1);
  });
});

describe('outbox marks (DynamoDB Local)', () => {
  let ddb: DynamoDBClient;
  let table: string;
  beforeAll(async () => {
    ddb = localDynamoDb(inject('ddbEndpoint'));
    table = await createLedgerTable(ddb);
  });

  const stored = async (eventId: string) =>
    (await ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: `OUTBOX#${eventId}` }, sk: { S: 'OUTBOX' } }, ConsistentRead: true }))).Item;

  it('marks published items publishedAt and rejected ones rejectedAt with the reason; an item gone is not re-created', async () => {
    // Prepare: two items in the table, one event whose item is gone (TTL)
    const good = orderEvent(20);
    const bad = { ...orderEvent(21), quantity: 'many' };
    for (const payload of [good, bad]) {
      await ddb.send(new PutItemCommand(outboxPut({ tableName: table, eventId: payload.eventId, eventType: 'OrderPlaced', groupKey: 'o', payload, now: new Date() }).Put!));
    }
    const gone = orderEvent(22);
    const { client } = fakeSqs();
    const now = new Date('2026-12-01T10:00:00.000Z');

    // Act
    const result = await relayRecords(
      [good, bad, gone].map((p) => sharedOutboxInsert(p, 'o')),
      deps(client, catchAll('https://sqs.example/orders'), { registry: [ORDERS], marks: dynamoDbOutboxMarks(ddb, table), now: () => now }),
    );

    // Assess
    expect(result.markFailures).toEqual([]);
    expect((await stored(good.eventId))?.publishedAt?.S).toBe(now.toISOString());
    const rejected = await stored(bad.eventId);
    expect(rejected?.publishedAt).toBeUndefined();
    expect(rejected?.rejectedAt?.S).toBe(now.toISOString());
    expect(rejected?.rejectReason?.S).toMatch(/OrderPlaced schema \(orders\): quantity/);
    expect(await stored(gone.eventId)).toBeUndefined();
  });
});

describe('parseRoutes', () => {
  it('reads OUTBOX_ROUTES, or builds the catch-all route of an older stack from EVENTS_QUEUE_URL', () => {
    expect(parseRoutes('[{"eventTypes":["A"],"queueUrl":"q1"},{"eventTypePrefix":"B","queueUrl":"q2"}]')).toEqual([
      { eventTypes: ['A'], queueUrl: 'q1' },
      { eventTypePrefix: 'B', queueUrl: 'q2' },
    ]);
    expect(parseRoutes(undefined, 'q')).toEqual([{ eventTypePrefix: '', queueUrl: 'q' }]);
  });

  it('throws naming the problem for malformed routes', () => {
    expect(() => parseRoutes(undefined)).toThrow(/OUTBOX_ROUTES is unset and so is EVENTS_QUEUE_URL/);
    expect(() => parseRoutes('{')).toThrow(/OUTBOX_ROUTES is not JSON/);
    expect(() => parseRoutes('[{"eventTypes":["A"]}]')).toThrow(/OUTBOX_ROUTES\[0\] has no queueUrl/);
    expect(() => parseRoutes('[{"queueUrl":"q"}]')).toThrow(/either eventTypes .* or eventTypePrefix/);
  });

  it("reads a fair queue's tenant key", () => {
    expect(parseRoutes('[{"eventTypes":["A"],"queueUrl":"q1","tenantKey":"accountId"},{"eventTypes":["B"],"queueUrl":"q1","tenantKey":"accountId"}]')).toEqual([
      { eventTypes: ['A'], queueUrl: 'q1', tenantKey: 'accountId' },
      { eventTypes: ['B'], queueUrl: 'q1', tenantKey: 'accountId' },
    ]);
  });

  it('throws for a tenant key that is no body field name, is on a FIFO queue, or differs between routes to one queue', () => {
    expect(() => parseRoutes('[{"eventTypes":["A"],"queueUrl":"q","tenantKey":"a.b"}]')).toThrow(
      /OUTBOX_ROUTES\[0\] tenantKey \("a\.b"\) must name a top-level field of the message body/,
    );
    expect(() => parseRoutes('[{"eventTypes":["A"],"queueUrl":"q","tenantKey":7}]')).toThrow(/OUTBOX_ROUTES\[0\] tenantKey \(7\)/);
    expect(() => parseRoutes('[{"eventTypes":["A"],"queueUrl":"q.fifo","tenantKey":"accountId"}]')).toThrow(
      /OUTBOX_ROUTES\[0\] has a tenantKey on a FIFO queue \(q\.fifo\)/,
    );
    expect(() => parseRoutes('[{"eventTypes":["A"],"queueUrl":"q","tenantKey":"accountId"},{"eventTypes":["B"],"queueUrl":"q"}]')).toThrow(
      /OUTBOX_ROUTES give q two tenant keys \(accountId and undefined\)/,
    );
  });
});
