import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { eventFromRecord, relayRecords } from '../../../lambdas/relay/relay.js';
import { accountKey, dedupKey, outboxKey } from '../../../lambdas/shared/ledger-keys.js';
import { eventIdFor, paymentIdFor, type PaymentEvent } from '../../../lambdas/shared/payments-model.js';
import { streamRecord } from '../../fixtures/events.js';
import { createQueue, localSqs, uniqueName } from '../../fixtures/tables.js';
import { sqsBatchViolations } from './sqs-request-rules.js';

/**
 * Edges of the relay's contract (issue 11 #8): batch sizes on the boundary, the watermark account's first applied
 * payment, records that only look like events, and what a refused or broken record is reported with.
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

let sqs: SQSClient;

beforeAll(() => {
  sqs = localSqs(inject('sqsEndpoint'));
});

describe('relay batch boundaries (every request checked against SQS rules)', () => {
  it.each([0, 10, 20])('sends %i events in full batches of 10 and never an empty SendMessageBatch (SQS refuses one)', async (count) => {
    const queueUrl = await createQueue(sqs, { name: uniqueName('events') });
    const batches: SendMessageBatchRequestEntry[][] = [];
    const client = {
      send: async (command: SendMessageBatchCommand) => {
        batches.push(command.input.Entries ?? []);
        return sqs.send(command);
      },
    } as unknown as SQSClient;
    const events = Array.from({ length: count }, (_, i) => paymentEvent(`boundary-${count}-${i}`));

    const result = await relayRecords(events.map((e) => outboxInsert(e)), { sqs: client, queueUrl });

    expect(batches.map((b) => b.length)).toEqual(Array.from({ length: count / 10 }, () => 10));
    for (const batch of batches) expect(sqsBatchViolations(batch, { fifo: false })).toEqual([]);
    expect(result.published).toHaveLength(count);
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

    const result = await relayRecords([record], { sqs, queueUrl });

    expect(result.published.map((p) => p.eventId)).toEqual([e.eventId]);
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
    const result = await relayRecords([record], { sqs, queueUrl: await createQueue(sqs, { name: uniqueName('events') }) });
    expect(result).toMatchObject({ published: [], skipped: 1, failedSequenceNumbers: [] });
  });

  it('skips an item of another type even when it holds a lastEvent or event attribute', async () => {
    const e = paymentEvent('other-type');
    const marker = dedupKey('ledger', 'relay-records-other');
    const record = streamRecord({
      eventName: 'MODIFY',
      keys: { pk: { S: marker.pk }, sk: { S: marker.sk } },
      newImage: { pk: { S: marker.pk }, sk: { S: marker.sk }, lastEvent: { S: JSON.stringify(e) }, event: { S: JSON.stringify(e) } },
    });
    const result = await relayRecords([record], { sqs, queueUrl: await createQueue(sqs, { name: uniqueName('events') }) });
    expect(result).toMatchObject({ published: [], skipped: 1 });
  });
});

describe('what a failed record is reported with', () => {
  it('names the stream record and why its event is unreadable, keeping the parse error as cause', async () => {
    const e = paymentEvent('broken');
    const notJson = outboxInsert(e, '{"eventId":');
    const notAnEvent = outboxInsert({ ...e, eventId: 'evt_x' }, JSON.stringify({ eventId: 'evt_x' }));

    const result = await relayRecords([notJson, notAnEvent], { sqs, queueUrl: await createQueue(sqs, { name: uniqueName('events') }) });

    const [first, second] = result.unprocessable;
    expect(first!.sequenceNumber).toBe(notJson.dynamodb!.SequenceNumber);
    expect(first!.message).toMatch(new RegExp(`^Stream record ${notJson.dynamodb!.SequenceNumber} carries no valid payment event: event is not JSON \\(`));
    expect(first!.cause).toBeInstanceOf(SyntaxError);
    expect(second!.sequenceNumber).toBe(notAnEvent.dynamodb!.SequenceNumber);
    expect((second!.cause as Error).name).toMatch(/ZodError/);
  });

  it('gives the error of a SendMessageBatch call that threw as the reason of each of its entries', async () => {
    const events = [paymentEvent('threw-a'), paymentEvent('threw-b')];
    const fake = { send: async () => Promise.reject(new Error('connection reset')) } as unknown as SQSClient;

    const result = await relayRecords(events.map((e) => outboxInsert(e)), { sqs: fake, queueUrl: 'https://sqs.example/events' });

    expect(result.sendFailures.map((f) => f.reason)).toEqual(['SendMessageBatch failed: connection reset', 'SendMessageBatch failed: connection reset']);
  });
});

describe('records without the usual stream data (replay tools, hand-built events)', () => {
  it('skips a record without its dynamodb section instead of failing the batch', async () => {
    const record = { ...outboxInsert(paymentEvent('no-dynamodb')), dynamodb: undefined };
    expect(eventFromRecord(record)).toBeNull();
    const result = await relayRecords([record], { sqs: {} as SQSClient, queueUrl: 'https://sqs.example/events' });
    expect(result).toMatchObject({ published: [], skipped: 1, failedSequenceNumbers: [] });
  });

  it('reads the item key from the new image when the record has no Keys, or Keys without pk', () => {
    const e = paymentEvent('image-key');
    const withoutKeys = outboxInsert(e);
    delete (withoutKeys.dynamodb as { Keys?: unknown }).Keys;
    const emptyKeys = outboxInsert(e);
    (emptyKeys.dynamodb as { Keys?: unknown }).Keys = {};
    expect(eventFromRecord(withoutKeys)?.eventId).toBe(e.eventId);
    expect(eventFromRecord(emptyKeys)?.eventId).toBe(e.eventId);
  });
});
