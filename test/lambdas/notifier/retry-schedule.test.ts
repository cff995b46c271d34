import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createNotifier, type Notifier } from '../../../lambdas/notifier/notifier.js';
import { DEAD_LETTER_ATTRIBUTES, SqsRetryQueue } from '../../../lambdas/notifier/retry-queue.js';
import {
  classifyWebhookAnswer,
  DEFAULT_WEBHOOK_MAX_ATTEMPTS,
  DEFAULT_WEBHOOK_RETRY_HORIZON_SECONDS,
  MAX_DELAY_SECONDS,
  nominalDelays,
  parseRetryAfter,
  retryDelaySeconds,
} from '../../../lambdas/notifier/retry-schedule.js';
import { signatureHeader } from '../../../lambdas/notifier/signing.js';
import { HttpWebhookClient } from '../../../lambdas/notifier/webhook-client.js';
import { createObservability } from '../../../lambdas/shared/observability.js';
import { eventIdFor, paymentIdFor, type PaymentEvent } from '../../../lambdas/shared/payments-model.js';
import { lambdaContext, sqsEvent } from '../../fixtures/events.js';
import { newWebhookSecret } from '../../fixtures/secrets.js';
import { createIdempotencyTable, localDynamoDb, localSqs, uniqueName } from '../../fixtures/tables.js';

const DEFAULT = { maxAttempts: DEFAULT_WEBHOOK_MAX_ATTEMPTS, horizonSeconds: DEFAULT_WEBHOOK_RETRY_HORIZON_SECONDS };

describe('retry schedule (exponential backoff with jitter)', () => {
  it('spreads 10 attempts over 24 h: 9 doubling delays, each at most 12 h, adding up to the horizon', () => {
    const delays = nominalDelays(DEFAULT);
    expect(delays).toHaveLength(9);
    for (let i = 1; i < delays.length - 1; i++) expect(delays[i]! / delays[i - 1]!).toBeCloseTo(2, 1);
    expect(Math.max(...delays)).toBeLessThanOrEqual(MAX_DELAY_SECONDS);
    expect(Math.abs(delays.reduce((a, b) => a + b, 0) - 86_400)).toBeLessThanOrEqual(9);
    // The first retry comes within minutes, the last ones hours apart.
    expect(delays[0]).toBeLessThan(300);
    expect(delays[8]).toBe(MAX_DELAY_SECONDS);
  });

  it('adds 0-25 % jitter, never less than the nominal delay', () => {
    const nominal = nominalDelays(DEFAULT)[2]!;
    expect(retryDelaySeconds({ attempt: 3, schedule: DEFAULT, random: () => 0 })).toBe(nominal);
    const most = retryDelaySeconds({ attempt: 3, schedule: DEFAULT, random: () => 0.999999 });
    expect(most).toBeLessThanOrEqual(Math.round(nominal * 1.25));
    expect(most).toBeGreaterThanOrEqual(Math.round(nominal * 1.249));
  });

  it('honours a longer Retry-After, at most 12 h (SQS visibility limit)', () => {
    expect(retryDelaySeconds({ attempt: 1, schedule: DEFAULT, random: () => 0, retryAfterSeconds: 3_600 })).toBe(3_600);
    expect(retryDelaySeconds({ attempt: 1, schedule: DEFAULT, random: () => 0, retryAfterSeconds: 99_999 })).toBe(MAX_DELAY_SECONDS);
    // A shorter Retry-After does not shorten the schedule.
    expect(retryDelaySeconds({ attempt: 5, schedule: DEFAULT, random: () => 0, retryAfterSeconds: 1 })).toBe(nominalDelays(DEFAULT)[4]);
  });

  it('returns 0 after the last attempt: the message reappears at once and SQS dead-letters it', () => {
    expect(retryDelaySeconds({ attempt: 10, schedule: DEFAULT, random: () => 0 })).toBe(0);
  });

  it('parses Retry-After as seconds or an HTTP date, and ignores garbage', () => {
    const now = new Date('2026-12-01T12:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter('Tue, 01 Dec 2026 13:00:00 GMT', now)).toBe(3_600);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it.each([
    [200, 'delivered'],
    [204, 'delivered'],
    [undefined, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
    [408, 'retry'],
    [409, 'retry'],
    [425, 'retry'],
    [429, 'retry'],
    [301, 'retry'],
    [400, 'dead-letter'],
    [401, 'dead-letter'],
    [404, 'dead-letter'],
    [410, 'dead-letter'],
    [413, 'dead-letter'],
  ] as const)('classifies a %s answer as %s', (status, expected) => {
    expect(classifyWebhookAnswer(status)).toBe(expected);
  });
});

/**
 * The schedule observed on SQS (fauxqs): a real events queue with its DLQ (maxReceiveCount = attempts), the notifier
 * with a recorder around its SQS client, and a clock the test controls — instead of waiting out each delay, the test
 * records the visibility the notifier set and then makes the message visible again.
 */
describe('retry schedule on the events queue (fauxqs, DynamoDB Local)', () => {
  let server: Server;
  let answers: Array<{ status: number; headers?: Record<string, string> }> = [];
  let webhookCalls = 0;
  let sqs: SQSClient;
  let table: string;
  const visibilityChanges: number[] = [];
  const secret = newWebhookSecret();

  beforeAll(async () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        webhookCalls++;
        const next = answers.shift() ?? { status: 503 };
        res.writeHead(next.status, next.headers).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    sqs = localSqs(inject('sqsEndpoint'));
    table = await createIdempotencyTable(localDynamoDb(inject('ddbEndpoint')));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    answers = [];
    webhookCalls = 0;
    visibilityChanges.length = 0;
  });

  async function queues(maxReceiveCount: number) {
    const { QueueUrl: dlq } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('events-dlq') }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }));
    const { QueueUrl: queue } = await sqs.send(
      new CreateQueueCommand({
        QueueName: uniqueName('events'),
        Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes!.QueueArn, maxReceiveCount: String(maxReceiveCount) }) },
      }),
    );
    return { queue: queue!, dlq: dlq! };
  }

  function notifier(urls: { queue: string; dlq: string }, schedule = DEFAULT): Notifier {
    // Records every visibility the notifier sets, then passes the call on to fauxqs.
    const recording = {
      send: (command: { input: { VisibilityTimeout?: number } }) => {
        if (command instanceof ChangeMessageVisibilityCommand) visibilityChanges.push(command.input.VisibilityTimeout!);
        return sqs.send(command as never);
      },
    } as unknown as SQSClient;
    return createNotifier({
      webhook: new HttpWebhookClient({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
        timeoutMs: 2_000,
        signer: { sign: async (id, timestamp, body) => signatureHeader([secret], id, timestamp, body) },
      }),
      persistenceStore: new DynamoDBPersistenceLayer({ tableName: table, awsSdkV3Client: localDynamoDb(inject('ddbEndpoint')) }),
      expiresAfterSeconds: 3_600,
      observability: createObservability('notifier'),
      retry: { schedule, queue: new SqsRetryQueue({ sqs: () => recording, queueUrl: urls.queue, deadLetterQueueUrl: urls.dlq }), random: () => 0.5 },
    });
  }

  async function send(url: string): Promise<PaymentEvent> {
    const key = uniqueName('retry-key');
    const paymentId = paymentIdFor(key);
    const event: PaymentEvent = {
      eventId: eventIdFor(paymentId),
      eventType: 'PaymentApplied',
      paymentId,
      idempotencyKey: key,
      accountId: 'acc-retry',
      amount: 5,
      currency: 'EUR',
      balance: 5,
      occurredAt: new Date().toISOString(),
    };
    const { SendMessageCommand } = await import('@aws-sdk/client-sqs');
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify(event) }));
    return event;
  }

  async function receive(url: string): Promise<Message | undefined> {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }),
    );
    return Messages[0];
  }

  const asRecord = (message: Message, queueArn = 'arn:aws:sqs:us-east-1:000000000000:events'): SQSRecord => ({
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body!,
    attributes: message.Attributes as unknown as SQSRecord['attributes'],
    messageAttributes: {},
    md5OfBody: message.MD5OfBody!,
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: 'us-east-1',
  });

  it('retries a failing webhook on the backoff schedule over 24 h, then the event lands in the DLQ after the 10th attempt', async () => {
    // Prepare
    const urls = await queues(DEFAULT.maxAttempts);
    const handler = notifier(urls);
    const event = await send(urls.queue);

    // Act: every attempt fails (503); after each, "time passes" (the test makes the message visible again).
    for (let attempt = 1; attempt <= DEFAULT.maxAttempts; attempt++) {
      const message = await receive(urls.queue);
      expect(message, `attempt ${attempt}`).toBeDefined();
      expect(message!.Attributes?.ApproximateReceiveCount).toBe(String(attempt));
      const response = await handler.handle(sqsEvent(asRecord(message!)), lambdaContext());
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: message!.MessageId }]);
      // The notifier hid the message for its delay; the clock jumps to its end (after the last attempt it set 0 itself).
      if (attempt < DEFAULT.maxAttempts) await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: urls.queue, ReceiptHandle: message!.ReceiptHandle!, VisibilityTimeout: 0 }));
    }
    const afterLast = await receive(urls.queue);
    const deadLetter = await receive(urls.dlq);

    // Assess: the delays the notifier set are the schedule with jitter (random 0.5 → +12.5 %, capped at 12 h), and 0
    // after the last attempt.
    const expected = nominalDelays(DEFAULT).map((d) => Math.min(MAX_DELAY_SECONDS, Math.round(d * 1.125)));
    expect(visibilityChanges).toEqual([...expected, 0]);
    const total = visibilityChanges.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(24 * 3600);
    expect(webhookCalls).toBe(DEFAULT.maxAttempts);
    expect(afterLast).toBeUndefined();
    expect(JSON.parse(deadLetter!.Body!)).toEqual(event);
  });

  it('waits as long as a 429 answer asks with Retry-After, then delivers', async () => {
    const urls = await queues(DEFAULT.maxAttempts);
    const handler = notifier(urls);
    await send(urls.queue);
    answers = [{ status: 429, headers: { 'retry-after': '7200' } }, { status: 200 }];

    const first = await receive(urls.queue);
    expect((await handler.handle(sqsEvent(asRecord(first!)), lambdaContext())).batchItemFailures).toHaveLength(1);
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: urls.queue, ReceiptHandle: first!.ReceiptHandle!, VisibilityTimeout: 0 }));
    const second = await receive(urls.queue);
    const delivered = await handler.handle(sqsEvent(asRecord(second!)), lambdaContext());

    expect(visibilityChanges).toEqual([7_200]);
    expect(delivered.batchItemFailures).toEqual([]);
    expect(webhookCalls).toBe(2);
  });

  it('dead-letters an event the webhook refuses with a 4xx (400) at once, with the status and the reason, and does not retry it', async () => {
    const urls = await queues(DEFAULT.maxAttempts);
    const handler = notifier(urls);
    const event = await send(urls.queue);
    answers = [{ status: 400 }];

    const message = await receive(urls.queue);
    const response = await handler.handle(sqsEvent(asRecord(message!)), lambdaContext());
    const deadLetter = await receive(urls.dlq);

    // The record counts as processed (deleted from the events queue by the mapping), the DLQ holds it with the reason.
    expect(response.batchItemFailures).toEqual([]);
    expect(visibilityChanges).toEqual([]);
    expect(webhookCalls).toBe(1);
    expect(JSON.parse(deadLetter!.Body!)).toEqual(event);
    expect(deadLetter!.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.status]?.StringValue).toBe('400');
    expect(deadLetter!.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.reason]?.StringValue).toMatch(/answered 400: a 4xx other than 408\/409\/425\/429/);
  });
});
