import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { outboxPut } from '../../lambdas/shared/atomic-idempotency/index.js';
import { eventIdFor, paymentIdFor, type PaymentEvent } from '../../lambdas/shared/payments-model.js';
import { parseReplayArgs } from '../../scripts/replay-outbox/args.js';
import { runReplay } from '../../scripts/replay-outbox/run-replay.js';
import { createLedgerTable, createQueue, localDynamoDb, localSqs, uniqueName } from '../fixtures/tables.js';

let ddb: DynamoDBClient;
let sqs: SQSClient;
beforeAll(() => {
  ddb = localDynamoDb(inject('ddbEndpoint'));
  sqs = localSqs(inject('sqsEndpoint'));
});

const payment = (n: number, eventType: PaymentEvent['eventType'] = 'PaymentApplied'): PaymentEvent => {
  const paymentId = paymentIdFor(`replay-${n}-${Math.random()}`);
  return { eventId: eventIdFor(paymentId), eventType, paymentId, idempotencyKey: `k${n}`, accountId: 'acc-replay', amount: n, currency: 'EUR', balance: n, occurredAt: new Date().toISOString() };
};

async function received(queueUrl: string): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
    if (!Messages?.length) return ids;
    for (const m of Messages) {
      ids.push(JSON.parse(m.Body!).eventId);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}

describe('npm run replay-outbox', () => {
  it('re-publishes the unpublished events of a time range and type to the stack\'s queue, after a dry run that sends nothing', async () => {
    // Prepare: the outputs file a deployment (or the local runtime) writes, and four items
    const table = await createLedgerTable(ddb);
    const eventsQueue = await createQueue(sqs, { name: uniqueName('replay-events') });
    const dir = mkdtempSync(join(tmpdir(), 'replay-'));
    const outputsFile = join(dir, 'outputs.json');
    writeFileSync(outputsFile, JSON.stringify({ Stack: { LedgerTableName: table, EventsQueueUrl: eventsQueue } }));
    const inWindow = payment(1);
    const published = payment(2);
    const otherType = payment(3, 'PaymentRejected');
    const early = payment(4);
    const at = (iso: string) => new Date(iso);
    const put = (e: PaymentEvent, createdAt: Date, extra = {}) =>
      ddb.send(new PutItemCommand({ TableName: table, Item: { ...outboxPut({ tableName: table, eventId: e.eventId, eventType: e.eventType, groupKey: e.accountId, payload: e, now: createdAt }).Put!.Item!, ...extra } }));
    await put(inWindow, at('2026-12-01T09:10:00Z'));
    await put(published, at('2026-12-01T09:20:00Z'), { publishedAt: { S: '2026-12-01T09:20:01Z' } });
    await put(otherType, at('2026-12-01T09:30:00Z'));
    await put(early, at('2026-12-01T08:00:00Z'));
    const argv = ['--outputs', outputsFile, '--from', '2026-12-01T09:00:00Z', '--to', '2026-12-01T10:00:00Z', '--event-type', 'PaymentApplied'];

    // Act
    const dry = await runReplay(parseReplayArgs([...argv, '--dry-run']), { dynamodb: ddb, sqs });
    const afterDry = await received(eventsQueue);
    const real = await runReplay(parseReplayArgs(argv), { dynamodb: ddb, sqs });

    // Assess
    expect(dry.published.map((e) => e.eventId)).toEqual([inWindow.eventId]);
    expect(afterDry).toEqual([]);
    expect(real.published).toEqual([{ eventId: inWindow.eventId, eventType: 'PaymentApplied', to: [eventsQueue] }]);
    expect(await received(eventsQueue)).toEqual([inWindow.eventId]);
    const item = await ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: `OUTBOX#${inWindow.eventId}` }, sk: { S: 'OUTBOX' } } }));
    expect(item.Item?.publishedAt?.S).toBeDefined();
  });

  it('rejects bad options with the fix', () => {
    expect(() => parseReplayArgs(['--from', 'yesterday'])).toThrow(/--from "yesterday" is not a date: pass ISO-8601/);
    expect(() => parseReplayArgs(['--from', '2026-12-02T00:00:00Z', '--to', '2026-12-01T00:00:00Z'])).toThrow(/must be before --to/);
    expect(() => parseReplayArgs(['--bogus'])).toThrow(/unknown option "--bogus"/);
  });
});
