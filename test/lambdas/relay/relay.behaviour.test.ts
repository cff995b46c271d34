import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type Message,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { OUTBOX_EVENTS } from '../../../lambdas/relay/event-schemas.js';
import { relayRecords, type RelayDeps } from '../../../lambdas/relay/relay.js';
import { accountKey, dedupKey, outboxKey } from '../../../lambdas/shared/ledger-keys.js';
import { eventIdFor, paymentIdFor, type PaymentEvent } from '../../../lambdas/shared/payments-model.js';
import { streamRecord } from '../../fixtures/events.js';
import { createQueue, localSqs, uniqueName } from '../../fixtures/tables.js';
import { recordingSqs, sqsBatchViolations } from './sqs-request-rules.js';

/**
 * The relay's contract seen from the events queue: what it publishes, what it skips, what it reports failed, and that
 * every request it sends is one AWS SQS accepts (fauxqs is laxer, see ./sqs-request-rules.ts). Issue 11 #8.
 */

function paymentEvent(tag: string, accountId = uniqueName('acc')): PaymentEvent {
  const paymentId = paymentIdFor(`relay-behaviour-${tag}-${accountId}`);
  return {
    eventId: eventIdFor(paymentId),
    eventType: 'PaymentApplied',
    paymentId,
    idempotencyKey: `relay-behaviour-${tag}`,
    accountId,
    amount: 10,
    currency: 'EUR',
    balance: 10,
    occurredAt: new Date().toISOString(),
  };
}

function outboxRecord(eventName: 'INSERT' | 'MODIFY' | 'REMOVE', e: PaymentEvent) {
  const key = outboxKey(e.eventId);
  const image = { pk: { S: key.pk }, sk: { S: key.sk }, event: { S: JSON.stringify(e) } };
  return streamRecord({
    eventName,
    keys: { pk: { S: key.pk }, sk: { S: key.sk } },
    // A REMOVE (TTL expiry) carries the old image only; an INSERT the new one; a MODIFY both.
    ...(eventName === 'REMOVE' ? { oldImage: image } : { newImage: image }),
    ...(eventName === 'MODIFY' ? { oldImage: image } : {}),
  });
}

/** The relay's deps with every event type routed to `queueUrl` and the stack's registered schemas. */
function toQueue(client: Pick<SQSClient, 'send'>, queueUrl: string): RelayDeps {
  return { sqs: client, routes: [{ eventTypePrefix: '', queueUrl }], registry: OUTBOX_EVENTS };
}

async function drain(sqs: SQSClient, queueUrl: string): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'], VisibilityTimeout: 60 }),
    );
    if (!Messages || Messages.length === 0) return all;
    all.push(...Messages);
    for (const m of Messages) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
  }
}

let sqs: SQSClient;

beforeAll(() => {
  sqs = localSqs(inject('sqsEndpoint'));
});

describe('relay requests are ones AWS SQS accepts (fauxqs is laxer)', () => {
  it('the request rules refuse what SQS refuses: an empty or unknown DataType, an empty value, a FIFO entry without group', () => {
    const valid: SendMessageBatchRequestEntry = {
      Id: '0',
      MessageBody: '{}',
      MessageAttributes: { eventType: { DataType: 'String', StringValue: 'PaymentApplied' } },
    };
    expect(sqsBatchViolations([valid], { fifo: false })).toEqual([]);
    expect(sqsBatchViolations([{ ...valid, MessageAttributes: { eventType: { DataType: '', StringValue: 'x' } } }], { fifo: false })).toEqual([
      expect.stringMatching(/entry 0: InvalidParameterValue: The message attribute 'eventType' must contain non-empty message attribute type/),
    ]);
    expect(sqsBatchViolations([{ ...valid, MessageAttributes: { n: { DataType: 'Text', StringValue: 'x' } } }], { fifo: false })).toHaveLength(1);
    expect(sqsBatchViolations([{ ...valid, MessageAttributes: { n: { DataType: 'String', StringValue: '' } } }], { fifo: false })).toEqual([
      expect.stringMatching(/must contain a non-empty value of type 'String'/),
    ]);
    expect(sqsBatchViolations([{ ...valid, MessageAttributes: { n: { DataType: 'Number.cents', StringValue: '12' } } }], { fifo: false })).toEqual([]);
    expect(sqsBatchViolations([valid], { fifo: true })).toEqual([
      expect.stringMatching(/requires a MessageGroupId/),
      expect.stringMatching(/requires a MessageDeduplicationId/),
    ]);
    expect(sqsBatchViolations([{ ...valid, MessageDeduplicationId: 'd' }], { fifo: false })).toEqual([
      expect.stringMatching(/applies only to FIFO queues/),
    ]);
  });

  it.each([
    ['standard', false],
    ['FIFO', true],
  ])('every SendMessageBatch the relay sends to a %s target passes the rules, and the attributes arrive typed', async (_kind, fifo) => {
    // Prepare: 12 events (two requests), two accounts.
    const queueUrl = await createQueue(sqs, { fifo, name: uniqueName('events') });
    const accounts = [uniqueName('acc'), uniqueName('acc')];
    const events = Array.from({ length: 12 }, (_, i) => paymentEvent(`rules-${i}`, accounts[i % 2]));
    const { client, batches, violations } = recordingSqs((command) => sqs.send(command));

    // Act
    const result = await relayRecords(
      events.map((e) => outboxRecord('INSERT', e)),
      toQueue(client, queueUrl),
    );

    // Assess
    expect(batches.map((b) => b.entries.length)).toEqual([10, 2]);
    expect(violations()).toEqual([]);
    expect(result.failedSequenceNumbers).toEqual([]);
    const messages = await drain(sqs, queueUrl);
    expect(messages.map((m) => JSON.parse(m.Body!).eventId).sort()).toEqual(events.map((e) => e.eventId).sort());
    for (const m of messages) {
      const body = JSON.parse(m.Body!) as PaymentEvent;
      expect(m.MessageAttributes).toEqual({
        eventType: { DataType: 'String', StringValue: body.eventType },
        eventId: { DataType: 'String', StringValue: body.eventId },
      });
      if (fifo) expect(m.Attributes?.MessageGroupId).toBe(body.accountId);
      else expect(m.Attributes?.MessageGroupId).toBeUndefined();
    }
  });

  it('every request of an event routed to a standard and a FIFO queue at once passes the rules of its own queue', async () => {
    // Prepare: fan-out, one route by type to a standard queue and one by prefix to a FIFO queue.
    const standardUrl = await createQueue(sqs, { name: uniqueName('events') });
    const fifoUrl = await createQueue(sqs, { fifo: true, name: uniqueName('events') });
    const events = [paymentEvent('fan-out-a'), paymentEvent('fan-out-b')];
    const { client, batches, violations } = recordingSqs((command) => sqs.send(command));

    // Act
    const result = await relayRecords(events.map((e) => outboxRecord('INSERT', e)), {
      sqs: client,
      routes: [
        { eventTypes: ['PaymentApplied'], queueUrl: standardUrl },
        { eventTypePrefix: 'Payment', queueUrl: fifoUrl },
      ],
      registry: OUTBOX_EVENTS,
    });

    // Assess: one request per queue, each shaped for its queue (no dedup id on the standard one).
    expect(batches.map((b) => b.queueUrl).sort()).toEqual([standardUrl, fifoUrl].sort());
    expect(violations()).toEqual([]);
    expect(result.failedSequenceNumbers).toEqual([]);
    for (const url of [standardUrl, fifoUrl]) {
      expect((await drain(sqs, url)).map((m) => JSON.parse(m.Body!).eventId).sort()).toEqual(events.map((e) => e.eventId).sort());
    }
  });
});

describe('which stream records the relay publishes', () => {
  it('publishes an outbox item once: its later MODIFY and its TTL REMOVE carry no new event', async () => {
    // Prepare: the insert, then a modify and the TTL deletion of the same outbox item.
    const queueUrl = await createQueue(sqs, { name: uniqueName('events') });
    const e = paymentEvent('once');
    const records = [outboxRecord('INSERT', e), outboxRecord('MODIFY', e), outboxRecord('REMOVE', e)];
    const { client, violations } = recordingSqs((command) => sqs.send(command));

    // Act
    const result = await relayRecords(records, toQueue(client, queueUrl));

    // Assess: one message on the queue; the two other records are skipped, not failed.
    expect(result.published.map((p) => p.eventId)).toEqual([e.eventId]);
    expect(result.skipped).toBe(2);
    expect(result.failedSequenceNumbers).toEqual([]);
    expect(violations()).toEqual([]);
    expect((await drain(sqs, queueUrl)).map((m) => JSON.parse(m.Body!).eventId)).toEqual([e.eventId]);
  });

  it('publishes the lastEvent of a newly inserted account (watermark), skips a removed account and items of other types', async () => {
    const queueUrl = await createQueue(sqs, { name: uniqueName('events') });
    const e = paymentEvent('watermark');
    const key = accountKey(e.accountId);
    const image = { pk: { S: key.pk }, sk: { S: key.sk }, lastEvent: { S: JSON.stringify(e) } };
    const marker = dedupKey('ledger', 'some-key');
    const records = [
      streamRecord({ eventName: 'INSERT', keys: { pk: { S: key.pk }, sk: { S: key.sk } }, newImage: image }),
      streamRecord({ eventName: 'REMOVE', keys: { pk: { S: key.pk }, sk: { S: key.sk } }, oldImage: image }),
      streamRecord({
        eventName: 'INSERT',
        keys: { pk: { S: marker.pk }, sk: { S: marker.sk } },
        newImage: { pk: { S: marker.pk }, sk: { S: marker.sk }, event: { S: JSON.stringify(e) } },
      }),
      // An account without any event yet (e.g. created by a rejected payment in another strategy): nothing to publish.
      streamRecord({ eventName: 'MODIFY', keys: { pk: { S: key.pk }, sk: { S: key.sk } }, newImage: { pk: { S: key.pk }, sk: { S: key.sk } } }),
    ];

    const { client, violations } = recordingSqs((command) => sqs.send(command));

    const result = await relayRecords(records, toQueue(client, queueUrl));

    expect(result.published.map((p) => p.eventId)).toEqual([e.eventId]);
    expect(result.skipped).toBe(3);
    expect(result.rejected).toEqual([]);
    expect(violations()).toEqual([]);
    expect((await drain(sqs, queueUrl)).map((m) => JSON.parse(m.Body!).eventId)).toEqual([e.eventId]);
  });

  it('rejects an outbox INSERT without an event, or with an event that breaks the schema, by sequence number, and publishes the rest', async () => {
    const queueUrl = await createQueue(sqs, { name: uniqueName('events') });
    const good = paymentEvent('good');
    const key = outboxKey('evt_missing');
    const missing = streamRecord({ eventName: 'INSERT', keys: { pk: { S: key.pk }, sk: { S: key.sk } }, newImage: { pk: { S: key.pk }, sk: { S: key.sk } } });
    const invalid = outboxRecord('INSERT', { ...good, eventId: 'evt_other', amount: 'ten' as unknown as number });
    const { client, violations } = recordingSqs((command) => sqs.send(command));

    const result = await relayRecords([missing, outboxRecord('INSERT', good), invalid], toQueue(client, queueUrl));

    // Never publishable as is: reported as rejected (not retried, so they do not hold the shard), the good one published.
    expect(result.failedSequenceNumbers).toEqual([]);
    expect(result.rejected.map((r) => [r.sequenceNumber, r.eventId])).toEqual([
      [missing.dynamodb!.SequenceNumber, 'evt_missing'],
      [invalid.dynamodb!.SequenceNumber, 'evt_other'],
    ]);
    expect(result.rejected.map((r) => r.message)).toEqual([
      expect.stringMatching(/no `event` attribute \(the event JSON\)/),
      expect.stringMatching(/PaymentApplied schema \(ledger\): amount/),
    ]);
    expect(result.published.map((p) => p.eventId)).toEqual([good.eventId]);
    expect(violations()).toEqual([]);
    expect((await drain(sqs, queueUrl)).map((m) => JSON.parse(m.Body!).eventId)).toEqual([good.eventId]);
  });

  it('names the code and message SQS gave for a refused entry, and a reason for an entry refused without them', async () => {
    const events = [paymentEvent('refused-a'), paymentEvent('refused-b'), paymentEvent('refused-c')];
    // A fake: fauxqs cannot refuse one entry of a batch.
    const { client, violations } = recordingSqs(async (command: SendMessageBatchCommand) => {
      const ids = command.input.Entries!.map((entry) => entry.Id!);
      return {
        Successful: [{ Id: ids[2] }],
        Failed: [
          { Id: ids[0], Code: 'InvalidParameterValue', SenderFault: true, Message: 'attribute too long' },
          { Id: ids[1], SenderFault: false },
        ],
      };
    });
    const queueUrl = 'https://sqs.example/events';

    const records = events.map((e) => outboxRecord('INSERT', e));

    const result = await relayRecords(records, toQueue(client, queueUrl));

    expect(result.sendFailures.map((f) => [f.eventId, f.reason])).toEqual([
      [events[0]!.eventId, `${queueUrl}: InvalidParameterValue: attribute too long`],
      [events[1]!.eventId, `${queueUrl}: Failed:`],
    ]);
    expect(result.failedSequenceNumbers).toEqual([records[0]!.dynamodb!.SequenceNumber, records[1]!.dynamodb!.SequenceNumber]);
    expect(result.published.map((p) => p.eventId)).toEqual([events[2]!.eventId]);
    expect(violations()).toEqual([]);
  });
});
