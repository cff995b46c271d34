import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { InjectedFault, setFaultPlanForTests } from '../../../lambdas/shared/faults.js';
import { eventIdFor, paymentIdFor, type PaymentEvent } from '../../../lambdas/shared/payments-model.js';
import { lambdaContext, sqsEvent, sqsRecord } from '../../fixtures/events.js';
import { createIdempotencyTable, localAwsEnv, localDynamoDb, uniqueName } from '../../fixtures/tables.js';

/** A webhook on 127.0.0.1 that records every call and answers with the next scripted status (200 when none left). */
interface Call {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}
let server: Server;
let calls: Call[] = [];
let script: (number | 'hang' | { readonly until: Promise<void> })[] = [];
/** Runs when a call arrives (before the answer). */
let onCall: () => void = () => undefined;

let handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      calls.push({ headers: req.headers, body });
      onCall();
      const next = script.shift() ?? 200;
      if (next === 'hang') return; // never answers: the notifier's timeout must fire
      if (typeof next === 'object') {
        void next.until.then(() => res.writeHead(200).end('{}'));
        return;
      }
      res.writeHead(next, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const ddb = localDynamoDb(inject('ddbEndpoint'));
  const table = await createIdempotencyTable(ddb);
  Object.assign(process.env, localAwsEnv({ dynamodb: inject('ddbEndpoint'), sqs: inject('sqsEndpoint') }), {
    IDEMPOTENCY_TABLE_NAME: table,
    IDEMPOTENCY_TTL_SECONDS: '3600',
    WEBHOOK_URL: `http://127.0.0.1:${port}/hook`,
    WEBHOOK_TIMEOUT_MS: '2000', // long enough for the concurrency test's held answer, even on a loaded machine
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  ({ handler } = await import('../../../lambdas/notifier/handler.js'));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  onCall = () => undefined;
  calls = [];
  script = [];
  setFaultPlanForTests(null);
});

function paymentEvent(): PaymentEvent {
  const key = uniqueName('notify-key');
  const paymentId = paymentIdFor(key);
  return {
    eventId: eventIdFor(paymentId),
    eventType: 'PaymentApplied',
    paymentId,
    idempotencyKey: key,
    accountId: 'acc-notify',
    amount: 42,
    currency: 'EUR',
    balance: 42,
    occurredAt: new Date().toISOString(),
  };
}

describe('notifier handler (DynamoDB Local + a webhook on 127.0.0.1)', () => {
  it('POSTs the event JSON with Idempotency-Key = eventId and a JSON content type', async () => {
    const event = paymentEvent();
    const response = await handler(sqsEvent(sqsRecord({ body: event })), lambdaContext());
    expect(response.batchItemFailures).toEqual([]);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.headers['idempotency-key']).toBe(event.eventId);
    expect(calls[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(calls[0]!.body)).toEqual(event);
  });

  it('fails the record on a 5xx, delivers on the retry, and never calls the webhook again once it succeeded', async () => {
    // Prepare
    const event = paymentEvent();
    const record = sqsRecord({ body: event });
    script = [503];

    // Act: first delivery (503), the retry (200), then two more duplicates (SQS redelivery, the same event twice).
    const first = await handler(sqsEvent(record), lambdaContext());
    const retry = await handler(sqsEvent({ ...record, attributes: { ...record.attributes, ApproximateReceiveCount: '2' } }), lambdaContext());
    const duplicates = await handler(sqsEvent(record, sqsRecord({ body: event })), lambdaContext());

    // Assess
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(retry.batchItemFailures).toEqual([]);
    expect(duplicates.batchItemFailures).toEqual([]);
    expect(calls).toHaveLength(2);
    expect(calls.every((c) => c.headers['idempotency-key'] === event.eventId)).toBe(true);
  });

  it('calls the webhook once when two invocations get the same event at the same time (standard queue duplicate)', async () => {
    // Prepare: the webhook holds its answer to the first invocation until the second one has run.
    const event = paymentEvent();
    const a = sqsRecord({ body: event });
    const b = sqsRecord({ body: event });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const firstCallArrived = new Promise<void>((resolve) => (arrived = resolve));
    script = [{ until: held }];
    onCall = () => arrived();

    // Act: A is mid-delivery (its record INPROGRESS) when B gets the same event.
    const first = handler(sqsEvent(a), lambdaContext());
    await firstCallArrived;
    const second = await handler(sqsEvent(b), lambdaContext());
    release();
    const firstResult = await first;
    const retryOfSecond = await handler(sqsEvent(b), lambdaContext());

    // Assess: one call; the concurrent copy was reported for retry, and its retry was skipped as already delivered.
    expect(firstResult.batchItemFailures).toEqual([]);
    expect(second.batchItemFailures).toEqual([{ itemIdentifier: b.messageId }]);
    expect(retryOfSecond.batchItemFailures).toEqual([]);
    expect(calls).toHaveLength(1);
  });

  it('reports a record for retry without calling the webhook when too little time is left to deliver it', async () => {
    // Prepare: plenty of time for the first record; the clock jumps to 500 ms left while the webhook answers it.
    let remaining = 10_000;
    const context = { ...lambdaContext(), getRemainingTimeInMillis: () => remaining };
    onCall = () => (remaining = 500);
    const first = sqsRecord({ body: paymentEvent() });
    const second = sqsRecord({ body: paymentEvent() });

    // Act
    const response = await handler(sqsEvent(first, second), context);

    // Assess
    expect(calls).toHaveLength(1);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: second.messageId }]);
  });

  it('fails the record when the webhook does not answer within WEBHOOK_TIMEOUT_MS', async () => {
    const record = sqsRecord({ body: paymentEvent() });
    script = ['hang'];
    const response = await handler(sqsEvent(record), lambdaContext());
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(calls).toHaveLength(1);
  });

  it('rejects an invalid event message as a failed record and delivers the others of the batch', async () => {
    const good = paymentEvent();
    const poison = sqsRecord({ body: { eventId: 'evt_x', eventType: 'PaymentLost' } });
    const notJson = sqsRecord({ body: 'not json' });
    const response = await handler(sqsEvent(poison, sqsRecord({ body: good }), notJson), lambdaContext());
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: poison.messageId }, { itemIdentifier: notJson.messageId }]);
    expect(calls.map((c) => c.headers['idempotency-key'])).toEqual([good.eventId]);
  });

  it('documents the known Powertools window: a crash after the webhook answered and before the record completed calls the webhook again, with the same Idempotency-Key', async () => {
    // Prepare: the crash fires right after a 2xx, inside the idempotent function.
    const event = paymentEvent();
    const record = sqsRecord({ body: event });
    setFaultPlanForTests({ seed: 1, faults: { 'notifier.afterWebhook': 1 } });

    // Act: the invocation crashes (the whole batch returns to the queue), then SQS redelivers.
    await expect(handler(sqsEvent(record), lambdaContext())).rejects.toThrow(InjectedFault);
    setFaultPlanForTests(null);
    const redelivery = await handler(sqsEvent(record), lambdaContext());

    // Assess: two calls for one event. Powertools deleted the INPROGRESS record when the function threw (a killed
    // sandbox would instead leave it INPROGRESS until the Lambda's remaining time ran out — same result, later).
    // The receiver must dedup by Idempotency-Key; both calls carry the same one.
    expect(redelivery.batchItemFailures).toEqual([]);
    expect(calls).toHaveLength(2);
    expect(new Set(calls.map((c) => c.headers['idempotency-key']))).toEqual(new Set([event.eventId]));
  });
});
