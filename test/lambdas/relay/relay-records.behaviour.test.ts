import { ReceiveMessageCommand, SendMessageBatchCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { OUTBOX_EVENTS } from '../../../lambdas/relay/event-schemas.js';
import { checkEvent, isRelayEvent, publishEvents } from '../../../lambdas/relay/publish.js';
import { rawEventFromRecord, relayRecords, type RelayDeps } from '../../../lambdas/relay/relay.js';
import { accountKey, dedupKey, outboxKey } from '../../../lambdas/shared/ledger-keys.js';
import { eventIdFor, paymentIdFor, type PaymentEvent } from '../../../lambdas/shared/payments-model.js';
import { streamRecord } from '../../fixtures/events.js';
import { createQueue, localSqs, uniqueName } from '../../fixtures/tables.js';
import { recordingSqs } from './sqs-request-rules.js';

/**
 * Edges of the relay's contract (issue 11 #8): batch sizes on the boundary, the watermark account's first applied
 * payment, records that only look like events, and what a rejected or refused record is reported with. Every
 * SendMessageBatch the relay sends is checked against SQS's rules (./sqs-request-rules.ts).
 */

function paymentEvent(tag: string, accountId = uniqueName('acc')): PaymentEvent {
  const paymentId = paymentIdFor(`relay-records-${tag}-${accountId}`);
  return {
    eventId: eventIdFor(paymentId),
    eventType: 'PaymentApplied',
    paymentId,
    idempotencyKey: `relay-records-${tag}`,
    accountId,
    amount: 10,
    currency: 'EUR',
    balance: 10,
    occurredAt: new Date().toISOString(),
  };
}

function outboxInsert(e: PaymentEvent, raw?: string) {
  const key = outboxKey(e.eventId);
  return streamRecord({
    eventName: 'INSERT',
    keys: { pk: { S: key.pk }, sk: { S: key.sk } },
    newImage: { pk: { S: key.pk }, sk: { S: key.sk }, event: { S: raw ?? JSON.stringify(e) } },
  });
}

/** The relay's deps with every event type routed to `queueUrl` and the stack's registered schemas. */
function toQueue(client: Pick<SQSClient, 'send'>, queueUrl: string): RelayDeps {
  return { sqs: client, routes: [{ eventTypePrefix: '', queueUrl }], registry: OUTBOX_EVENTS };
}

let sqs: SQSClient;

beforeAll(() => {
  sqs = localSqs(inject('sqsEndpoint'));
});

describe('relay batch boundaries (every request checked against SQS rules)', () => {
  it.each([0, 10, 20])('sends %i events in full batches of 10 and never an empty SendMessageBatch (SQS refuses one)', async (count) => {
    const queueUrl = await createQueue(sqs, { name: uniqueName('events') });
    const { client, batches, violations } = recordingSqs((command) => sqs.send(command));
    const events = Array.from({ length: count }, (_, i) => paymentEvent(`boundary-${count}-${i}`));

    const result = await relayRecords(events.map((e) => outboxInsert(e)), toQueue(client, queueUrl));

    expect(batches.map((b) => b.entries.length)).toEqual(Array.from({ length: count / 10 }, () => 10));
    expect(violations()).toEqual([]);
    expect(result.published).toHaveLength(count);
  });

  it('sends no empty SendMessageBatch when every event of a FIFO chunk is held back behind its group\'s failed event', async () => {
    // 11 events of one account on a FIFO queue; the first entry of the first call is refused (a fake: fauxqs cannot
    // refuse one entry). The 11th event, alone in the second chunk, is held back: nothing is left to send.
    const account = uniqueName('acc');
    const records = Array.from({ length: 11 }, (_, i) => outboxInsert(paymentEvent(`held-${i}`, account)));
    const { client, batches, violations } = recordingSqs(async (command: SendMessageBatchCommand) => {
      const entries = command.input.Entries!;
      return {
        Successful: entries.slice(1).map((e) => ({ Id: e.Id })),
        Failed: [{ Id: entries[0]!.Id, Code: 'InternalError', SenderFault: false, Message: 'try again' }],
      };
    });

    const result = await relayRecords(records, toQueue(client, 'https://sqs.example/events.fifo'));

    expect(batches.map((b) => b.entries.length)).toEqual([10]);
    expect(violations()).toEqual([]);
    expect(result.failedSequenceNumbers).toEqual([records[0]!.dynamodb!.SequenceNumber, records[10]!.dynamodb!.SequenceNumber]);
    expect(result.sendFailures[1]?.reason).toMatch(/an earlier event of group .* failed \(FIFO order\)/);
  });
});

describe('watermark account records', () => {
  it("publishes the first applied payment of an account that a rejection created (its old image has no lastEvent)", async () => {
    const queueUrl = await createQueue(sqs, { name: uniqueName('events') });
    const e = paymentEvent('first-applied');
    const key = accountKey(e.accountId);
    const record = streamRecord({
      eventName: 'MODIFY',
      keys: { pk: { S: key.pk }, sk: { S: key.sk } },
      newImage: { pk: { S: key.pk }, sk: { S: key.sk }, lastEvent: { S: JSON.stringify(e) } },
      oldImage: { pk: { S: key.pk }, sk: { S: key.sk }, rejected: { N: '1' } },
    });
    const { client, violations } = recordingSqs((command) => sqs.send(command));

    const result = await relayRecords([record], toQueue(client, queueUrl));

    expect(result.published.map((p) => p.eventId)).toEqual([e.eventId]);
    expect(violations()).toEqual([]);
  });

  it('skips an account MODIFY whose new image has no lastEvent although the old one had', async () => {
    const e = paymentEvent('dropped');
    const key = accountKey(e.accountId);
    const record = streamRecord({
      eventName: 'MODIFY',
      keys: { pk: { S: key.pk }, sk: { S: key.sk } },
      newImage: { pk: { S: key.pk }, sk: { S: key.sk } },
      oldImage: { pk: { S: key.pk }, sk: { S: key.sk }, lastEvent: { S: JSON.stringify(e) } },
    });
    const { client, batches } = recordingSqs((command) => sqs.send(command));
    const result = await relayRecords([record], toQueue(client, await createQueue(sqs, { name: uniqueName('events') })));
    expect(result).toMatchObject({ published: [], skipped: 1, failedSequenceNumbers: [] });
    expect(batches).toEqual([]);
  });

  it('skips an item that is no outbox item even when it holds an `event` attribute', async () => {
    // (An item of another type holding a changed `lastEvent` is published since issue 12: the relay's stream filter,
    // not the relay, limits those to account items.)
    const e = paymentEvent('other-type');
    const marker = dedupKey('ledger', 'relay-records-other');
    const record = streamRecord({
      eventName: 'INSERT',
      keys: { pk: { S: marker.pk }, sk: { S: marker.sk } },
      newImage: { pk: { S: marker.pk }, sk: { S: marker.sk }, event: { S: JSON.stringify(e) } },
    });
    const { client, batches } = recordingSqs((command) => sqs.send(command));
    const result = await relayRecords([record], toQueue(client, await createQueue(sqs, { name: uniqueName('events') })));
    expect(result).toMatchObject({ published: [], skipped: 1, rejected: [] });
    expect(batches).toEqual([]);
  });
});

/** Every message on the queue, with its MessageGroupId system attribute. */
async function drain(queueUrl: string, expected: number): Promise<Message[]> {
  const messages: Message[] = [];
  for (let attempt = 0; messages.length < expected && attempt < 20; attempt += 1) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['MessageGroupId'] }),
    );
    messages.push(...Messages);
  }
  return messages;
}

describe('fair-queue destinations (a standard queue whose route names a tenant key)', () => {
  it('sends MessageGroupId = the tenant field of the body to the fair queue, and none to a plain queue of the same fan-out', async () => {
    // Prepare: two accounts' events, routed to a fair queue (tenant: accountId) and to a plain standard queue
    const fair = await createQueue(sqs, { name: uniqueName('fair') });
    const plain = await createQueue(sqs, { name: uniqueName('plain') });
    const events = [paymentEvent('fair-a', uniqueName('acc')), paymentEvent('fair-b', uniqueName('acc'))];
    const { client, batches, violations } = recordingSqs((command) => sqs.send(command));
    const deps: RelayDeps = {
      sqs: client,
      routes: [
        { eventTypePrefix: 'Payment', queueUrl: fair, tenantKey: 'accountId' },
        { eventTypePrefix: 'Payment', queueUrl: plain },
      ],
      registry: OUTBOX_EVENTS,
    };

    // Act
    const result = await relayRecords(events.map((e) => outboxInsert(e)), deps);

    // Assess: what was sent (SQS rules: no MessageDeduplicationId on a standard queue), and what a consumer receives
    expect(result.published).toHaveLength(2);
    expect(violations()).toEqual([]);
    expect(batches.find((b) => b.queueUrl === fair)!.entries.map((e) => e.MessageGroupId)).toEqual(events.map((e) => e.accountId));
    expect(batches.find((b) => b.queueUrl === plain)!.entries.map((e) => e.MessageGroupId)).toEqual([undefined, undefined]);
    const tenantOf = (messages: Message[]) =>
      Object.fromEntries(messages.map((m) => [(JSON.parse(m.Body!) as PaymentEvent).accountId, m.Attributes?.MessageGroupId]));
    expect(tenantOf(await drain(fair, 2))).toEqual(Object.fromEntries(events.map((e) => [e.accountId, e.accountId])));
    expect(tenantOf(await drain(plain, 2))).toEqual(Object.fromEntries(events.map((e) => [e.accountId, undefined])));
  });

  it('rejects an event whose body lacks the tenant field, naming the key and the queue, and sends it nowhere', async () => {
    const e = paymentEvent('no-tenant');
    const { client, batches } = recordingSqs((command) => sqs.send(command));
    const queueUrl = 'https://sqs.example/events';

    const result = await relayRecords([outboxInsert(e)], {
      sqs: client,
      routes: [{ eventTypePrefix: '', queueUrl, tenantKey: 'merchantId' }],
      registry: OUTBOX_EVENTS,
    });

    expect(result.rejected.map((r) => r.reasons)).toEqual([
      [`fair queue ${queueUrl}: Fair-queue tenant key "merchantId" is missing from the message body (got undefined); send it as a string`],
    ]);
    expect(result.failedSequenceNumbers).toEqual([]);
    expect(batches).toEqual([]);
  });

  it('publishes the sweeper\'s events (checkEvent + publishEvents) with the same tenant, and a FIFO route keeps its group key', async () => {
    // Prepare: the sweeper's path, without a stream record; the outbox item's group key differs from the tenant
    const e = paymentEvent('sweeper');
    const fair = 'https://sqs.example/fair';
    const fifo = 'https://sqs.example/events.fifo';
    const routes = [
      { eventTypes: ['PaymentApplied'], queueUrl: fair, tenantKey: 'accountId' },
      { eventTypes: ['PaymentApplied'], queueUrl: fifo },
    ];
    const checked = checkEvent({ eventId: e.eventId, eventType: e.eventType, groupKey: 'group-key', payload: JSON.stringify(e), fromOutbox: true }, OUTBOX_EVENTS, routes);
    const { client, batches, violations } = recordingSqs(async (command) => ({ Successful: command.input.Entries!.map((x) => ({ Id: x.Id })) }));
    // Act
    const result = await publishEvents(isRelayEvent(checked) ? [checked] : [], client);
    // Assess
    expect(result.published.map((p) => p.eventId)).toEqual([e.eventId]);
    expect(violations()).toEqual([]);
    expect(Object.fromEntries(batches.map((b) => [b.queueUrl, b.entries[0]!.MessageGroupId]))).toEqual({ [fair]: e.accountId, [fifo]: 'group-key' });
  });
});

describe('what a rejected or failed record is reported with', () => {
  it('names the stream record, its event id and why its event is unreadable', async () => {
    const e = paymentEvent('broken');
    const notJson = outboxInsert(e, '{"eventId":');
    const notAnEvent = outboxInsert({ ...e, eventId: 'evt_x' }, JSON.stringify({ eventId: 'evt_x' }));
    const { client, batches } = recordingSqs((command) => sqs.send(command));

    const result = await relayRecords([notJson, notAnEvent], toQueue(client, await createQueue(sqs, { name: uniqueName('events') })));

    const [first, second] = result.rejected;
    expect(first!.sequenceNumber).toBe(notJson.dynamodb!.SequenceNumber);
    expect(first!.eventId).toBe(e.eventId);
    expect(first!.message).toMatch(
      new RegExp(`^Stream record ${notJson.dynamodb!.SequenceNumber} \\(${e.eventId}\\) carries no publishable event: event is not JSON \\(`),
    );
    expect(second!.sequenceNumber).toBe(notAnEvent.dynamodb!.SequenceNumber);
    expect(second!.reasons).toEqual(['no eventType on the item or in the event']);
    expect(result.failedSequenceNumbers).toEqual([]);
    expect(batches).toEqual([]);
  });

  it('gives the error of a SendMessageBatch call that threw as the reason of each of its entries', async () => {
    const events = [paymentEvent('threw-a'), paymentEvent('threw-b')];
    const { client, violations } = recordingSqs(() => Promise.reject(new Error('connection reset')));
    const queueUrl = 'https://sqs.example/events';
    const records = events.map((e) => outboxInsert(e));

    const result = await relayRecords(records, toQueue(client, queueUrl));

    expect(result.sendFailures.map((f) => f.reason)).toEqual([
      `${queueUrl}: SendMessageBatch failed: connection reset`,
      `${queueUrl}: SendMessageBatch failed: connection reset`,
    ]);
    expect(result.failedSequenceNumbers).toEqual(records.map((r) => r.dynamodb!.SequenceNumber));
    expect(violations()).toEqual([]);
  });
});

describe('records without the usual stream data (replay tools, hand-built events)', () => {
  it('skips a record without its dynamodb section instead of failing the batch', async () => {
    const record = { ...outboxInsert(paymentEvent('no-dynamodb')), dynamodb: undefined };
    expect(rawEventFromRecord(record)).toBeNull();
    const result = await relayRecords([record], toQueue({} as SQSClient, 'https://sqs.example/events'));
    expect(result).toMatchObject({ published: [], skipped: 1, failedSequenceNumbers: [] });
  });

  it('reads the item key from the new image when the record has no Keys, or Keys without pk', () => {
    const e = paymentEvent('image-key');
    const withoutKeys = outboxInsert(e);
    delete (withoutKeys.dynamodb as { Keys?: unknown }).Keys;
    const emptyKeys = outboxInsert(e);
    (emptyKeys.dynamodb as { Keys?: unknown }).Keys = {};
    expect(rawEventFromRecord(withoutKeys)).toMatchObject({ eventId: e.eventId, payload: JSON.stringify(e), fromOutbox: true });
    expect(rawEventFromRecord(emptyKeys)).toMatchObject({ eventId: e.eventId, payload: JSON.stringify(e), fromOutbox: true });
  });

  it('rejects an outbox INSERT without a new image by the event id in its key, not as a record carrying nothing', async () => {
    const e = paymentEvent('keys-only');
    const key = outboxKey(e.eventId);
    const record = streamRecord({ eventName: 'INSERT', keys: { pk: { S: key.pk }, sk: { S: key.sk } } });
    const result = await relayRecords([record], toQueue({} as SQSClient, 'https://sqs.example/events'));
    expect(result.skipped).toBe(0);
    expect(result.rejected.map((r) => [r.sequenceNumber, r.eventId, r.reasons])).toEqual([
      [record.dynamodb!.SequenceNumber, e.eventId, ['no `event` attribute (the event JSON)']],
    ]);
  });
});
