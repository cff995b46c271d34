import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { SecretWebhookSigner } from '../../../lambdas/notifier/signing.js';
import { InjectedFault, setFaultPlanForTests } from '../../../lambdas/shared/faults.js';
import { eventIdFor, paymentIdFor, type PaymentEvent } from '../../../lambdas/shared/payments-model.js';
import { lambdaContext, sqsEvent, sqsRecord } from '../../fixtures/events.js';
import { newWebhookSecret, startTestSecret, type TestSecret } from '../../fixtures/secrets.js';
import { createIdempotencyTable, createQueue, localAwsEnv, localDynamoDb, localSqs, uniqueName } from '../../fixtures/tables.js';

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
/** The signing secret, served by the local Secrets Manager (local/secrets). */
const signingSecret = newWebhookSecret();
let secret: TestSecret;

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
  secret = await startTestSecret(signingSecret);
  const sqs = localSqs(inject('sqsEndpoint'));
  const [queueUrl, dlqUrl] = await Promise.all([createQueue(sqs), createQueue(sqs)]);
  Object.assign(process.env, localAwsEnv({ dynamodb: inject('ddbEndpoint'), sqs: inject('sqsEndpoint') }), {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secret.server.endpoint,
    WEBHOOK_SECRET_ARN: secret.arn,
    WEBHOOK_SECRET_MAX_AGE_SECONDS: '300',
    WEBHOOK_MAX_ATTEMPTS: '10',
    WEBHOOK_RETRY_HORIZON_SECONDS: '86400',
    EVENTS_QUEUE_URL: queueUrl,
    EVENTS_DLQ_URL: dlqUrl,
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
  await secret?.close();
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
  it('POSTs the event JSON signed per Standard Webhooks (webhook-id = eventId) with the key read from Secrets Manager', async () => {
    const event = paymentEvent();
    const before = Math.floor(Date.now() / 1000);
    const response = await handler(sqsEvent(sqsRecord({ body: event })), lambdaContext());
    expect(response.batchItemFailures).toEqual([]);
    expect(calls).toHaveLength(1);
    const { headers, body } = calls[0]!;
    expect(headers['webhook-id']).toBe(event.eventId);
    expect(headers['idempotency-key']).toBe(event.eventId);
    expect(headers['content-type']).toBe('application/json');
    expect(Number(headers['webhook-timestamp'])).toBeGreaterThanOrEqual(before);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    // A receiver holding the secret verifies the exact bytes; one holding another key does not.
    expect(new Webhook(signingSecret).verify(body, headers as Record<string, string>)).toEqual(event);
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers as Record<string, string>)).toThrow(/No matching signature/);
    expect(JSON.parse(body)).toEqual(event);
  });

  it('signs with both keys while the secret holds two (rotation), so old and new receivers verify', async () => {
    const next = newWebhookSecret();
    secret.store.putValue(secret.arn, `${next} ${signingSecret}`);
    try {
      // A cold start: a new Powertools provider (the warm handler keeps its cached value for max-age seconds).
      const provider = new SecretsProvider();
      const signer = new SecretWebhookSigner(async () => (await provider.get(secret.arn, { maxAge: 300 })) as string);
      const body = JSON.stringify(paymentEvent());
      const timestamp = new Date();
      const signature = await signer.sign('evt_rotation', timestamp, body);
      const headers = { 'webhook-id': 'evt_rotation', 'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)), 'webhook-signature': signature };
      expect(signature.split(' ')).toHaveLength(2);
      expect(() => new Webhook(next).verify(body, headers)).not.toThrow();
      expect(() => new Webhook(signingSecret).verify(body, headers)).not.toThrow();
      expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow(/No matching signature/);
    } finally {
      secret.store.putValue(secret.arn, signingSecret);
    }
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
