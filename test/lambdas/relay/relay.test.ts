import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageBatchCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { relayRecords } from '../../../lambdas/relay/relay.js';
import { accountKey, dedupKey, outboxKey } from '../../../lambdas/shared/ledger-keys.js';
import { eventIdFor, paymentIdFor, type PaymentEvent } from '../../../lambdas/shared/payments-model.js';
import { streamRecord } from '../../fixtures/events.js';
import { createQueue, localAwsEnv, localSqs, uniqueName } from '../../fixtures/tables.js';

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

  it('reports an unparseable outbox record by its sequence number and still publishes the others', async () => {
    const good = event(10);
    const bad = outboxInsert('{"eventId":"evt_bad", not json');
    const invalid = outboxInsert(JSON.stringify({ ...event(11), amount: 'lots' }));
    const response = await handler({ Records: [outboxInsert(good), bad, invalid] });
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: bad.dynamodb!.SequenceNumber },
      { itemIdentifier: invalid.dynamodb!.SequenceNumber },
    ]);
    const messages = await drain(sqs, standardQueueUrl);
    expect(messages.map((m) => JSON.parse(m.Body!).eventId)).toEqual([good.eventId]);
  });
});

describe('relayRecords', () => {
  it('sends to a FIFO target in chunks of 10 with group = account and dedup id = event id (a republished event is dropped)', async () => {
    // Prepare: 11 events over two accounts, then the first one again (a retried stream batch).
    const fifoUrl = await createQueue(sqs, { fifo: true, name: uniqueName('events') });
    const events = Array.from({ length: 11 }, (_, i) => event(100 + i, i % 2 === 0 ? 'acc-even' : 'acc-odd'));
    const records = [...events, events[0]!].map(outboxInsert);

    // Act
    const result = await relayRecords(records, { sqs, queueUrl: fifoUrl });

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

  it('reports only the records whose entries failed (mocked partial SendMessageBatch failure: emulators cannot refuse one entry)', async () => {
    // Prepare: 12 events → two calls; entry "1" of the first and entry "11" (second call) are refused.
    const records = Array.from({ length: 12 }, (_, i) => outboxInsert(event(200 + i)));
    const calls: string[][] = [];
    const fake = {
      send: async (command: SendMessageBatchCommand) => {
        const ids = command.input.Entries!.map((e) => e.Id!);
        calls.push(ids);
        const refused: string[] = ids.filter((id) => id === '1' || id === '11');
        return {
          Successful: ids.filter((id) => !refused.includes(id)).map((Id) => ({ Id, MessageId: `m-${Id}`, MD5OfMessageBody: '' })),
          Failed: refused.map((Id) => ({ Id, Code: 'InternalError', SenderFault: false, Message: 'try again' })),
        };
      },
    } as unknown as SQSClient;

    // Act
    const result = await relayRecords(records, { sqs: fake, queueUrl: 'https://sqs.example/events' });

    // Assess
    expect(calls.map((c) => c.length)).toEqual([10, 2]);
    expect(result.failedSequenceNumbers).toEqual([records[1]!.dynamodb!.SequenceNumber, records[11]!.dynamodb!.SequenceNumber]);
    expect(result.published).toHaveLength(10);
    expect(result.sendFailures[0]?.reason).toMatch(/InternalError/);
  });

  it('holds back the chunks after a failed entry on a FIFO target, so later events of an account cannot overtake it', async () => {
    const records = Array.from({ length: 12 }, (_, i) => outboxInsert(event(500 + i)));
    let calls = 0;
    const fake = {
      send: async (command: SendMessageBatchCommand) => {
        calls += 1;
        const ids = command.input.Entries!.map((e) => e.Id!);
        return {
          Successful: ids.filter((id) => id !== '3').map((Id) => ({ Id })),
          Failed: ids.includes('3') ? [{ Id: '3', Code: 'InternalError', SenderFault: false }] : [],
        };
      },
    } as unknown as SQSClient;
    const result = await relayRecords(records, { sqs: fake, queueUrl: 'https://sqs.example/events.fifo' });
    expect(calls).toBe(1);
    expect(result.failedSequenceNumbers).toEqual([3, 10, 11].map((i) => records[i]!.dynamodb!.SequenceNumber));
    expect(result.sendFailures[1]?.reason).toMatch(/FIFO target must keep per-account order/);
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
    const result = await relayRecords(records, { sqs: fake, queueUrl: 'https://sqs.example/events' });
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
    const sent: string[] = [];
    const fake = {
      send: async (command: SendMessageBatchCommand) => {
        sent.push(...command.input.Entries!.map((e) => JSON.parse(e.MessageBody!).eventId as string));
        return { Successful: command.input.Entries!.map((e) => ({ Id: e.Id })), Failed: [] };
      },
    } as unknown as SQSClient;
    const result = await relayRecords([inserted, changed, unchanged], { sqs: fake, queueUrl: 'https://sqs.example/events' });
    expect(sent).toEqual([first.eventId, second.eventId]);
    expect(result.skipped).toBe(1);
  });
});
