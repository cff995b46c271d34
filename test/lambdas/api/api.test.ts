import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient, type SQSClient as Sqs } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { setClients } from '../../../lambdas/shared/clients.js';
import { paymentIdFor, PaymentMessageSchema, deduplicationIdFor } from '../../../lambdas/shared/payments-model.js';
import { callerPrincipal, callerScopedKey } from '../../../lambdas/create-payment/caller-scope.js';
import { apiEvent as bareApiEvent, lambdaContext, paymentMessage, paymentRecord, sqsEvent } from '../../fixtures/events.js';
import {
  createIdempotencyTable,
  createLedgerTable,
  createQueue,
  localAwsEnv,
  localDynamoDb,
  localSqs,
  uniqueName,
} from '../../fixtures/tables.js';

type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

let sqs: Sqs;
let queueUrl: string;
let createPayment: ApiHandler;
let getAccount: ApiHandler;
let ledger: (event: ReturnType<typeof sqsEvent>) => Promise<unknown>;
/** The handlers' SQS client, counting SendMessage calls: FIFO dedup would hide a re-send from the queue itself. */
let counting: Sqs;
let sends = 0;

beforeAll(async () => {
  const ddb = localDynamoDb(inject('ddbEndpoint'));
  sqs = localSqs(inject('sqsEndpoint'));
  const [idempotencyTable, ledgerTable, url] = await Promise.all([
    createIdempotencyTable(ddb),
    createLedgerTable(ddb),
    createQueue(sqs, { fifo: true, name: uniqueName('payments') }),
  ]);
  queueUrl = url;
  Object.assign(process.env, localAwsEnv({ dynamodb: inject('ddbEndpoint'), sqs: inject('sqsEndpoint') }), {
    IDEMPOTENCY_TABLE_NAME: idempotencyTable,
    IDEMPOTENCY_TTL_SECONDS: '3600',
    PAYMENTS_QUEUE_URL: queueUrl,
    LEDGER_TABLE_NAME: ledgerTable,
    DEDUP_TTL_SECONDS: '3600',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  ({ handler: createPayment } = await import('../../../lambdas/create-payment/handler.js'));
  ({ handler: getAccount } = await import('../../../lambdas/get-account/handler.js'));
  ({ handler: ledger } = await import('../../../lambdas/ledger/handler.js'));
  const real = new SQSClient({ endpoint: inject('sqsEndpoint'), useQueueUrlAsEndpoint: false });
  counting = { send: (command: never) => ((sends += 1), real.send(command)) } as unknown as Sqs;
  setClients({ sqs: counting });
});

/**
 * Receives and deletes everything on the payments queue. Deleting matters: a FIFO group with a message in flight
 * delivers nothing more, which would make "nothing was sent" pass for the wrong reason.
 */
async function receiveAll() {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60, MessageSystemAttributeNames: ['All'] }),
  );
  for (const m of Messages) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
  return Messages;
}

/** The IAM identity API Gateway puts on a SigV4-verified request (an IAM user, and a role session). */
const ALICE = { userArn: 'arn:aws:iam::111122223333:user/alice', caller: 'AIDAALICE', accessKey: 'AKIAALICE' };
const BILLING_SESSION = (session: string) => ({
  userArn: `arn:aws:sts::111122223333:assumed-role/billing/${session}`,
  caller: `AROABILLING:${session}`,
  accessKey: `ASIA${session}`,
});
type Identity = Partial<typeof ALICE>;

/** An API event as an IAM-authorized request of `identity` (Alice by default). */
function apiEvent(options: Parameters<typeof bareApiEvent>[0], identity: Identity | null = ALICE) {
  const event = bareApiEvent(options);
  return { ...event, requestContext: { ...event.requestContext, identity: identity as never } };
}

/** Alice's scoped key for `key`: what the paymentId, the dedup id and the message key derive from. */
const scoped = (key: string, identity: Identity = ALICE) => callerScopedKey(callerPrincipal(identity)!, key);

function post(body: unknown, key: string | null = uniqueName('api-key'), extraHeaders: Record<string, string> = {}, identity: Identity | null = ALICE) {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', ...extraHeaders };
  if (key !== null) headers['Idempotency-Key'] = key;
  return createPayment(
    apiEvent({ body: typeof body === 'string' ? body : JSON.stringify(body), headers }, identity),
    lambdaContext(),
  );
}

const valid = { accountId: 'acc-api', amount: 1250, currency: 'EUR', reference: 'invoice 42' };

describe('POST /payments: bad input gets a 4xx saying what is wrong, and nothing is sent', () => {
  const cases: { name: string; send: () => Promise<APIGatewayProxyResult>; status: number; message: RegExp }[] = [
    { name: 'rejects malformed JSON', send: () => post('{"accountId": "a",'), status: 400, message: /not valid JSON/ },
    { name: 'rejects a missing body', send: () => createPayment(apiEvent({ headers: { 'Idempotency-Key': 'key-12345678' } }), lambdaContext()), status: 400, message: /body is required/ },
    { name: 'rejects a missing Idempotency-Key', send: () => post(valid, null), status: 400, message: /Idempotency-Key header is required/ },
    { name: 'rejects a too-long Idempotency-Key', send: () => post(valid, 'k'.repeat(129)), status: 400, message: /8-128 characters.*got 129/ },
    { name: 'rejects an Idempotency-Key with forbidden characters', send: () => post(valid, 'key with spaces'), status: 400, message: /must be 8-128 characters/ },
    { name: 'rejects a zero amount', send: () => post({ ...valid, amount: 0 }), status: 400, message: /amount: amount must not be zero/ },
    { name: 'rejects a fractional amount', send: () => post({ ...valid, amount: 12.5 }), status: 400, message: /amount: .*no fractions/ },
    { name: 'rejects an overflowing amount', send: () => post({ ...valid, amount: 2 ** 60 }), status: 400, message: /amount: amount must be between/ },
    { name: 'rejects an amount beyond JSON doubles (1e400)', send: () => post('{"accountId":"acc-api","amount":1e400,"currency":"EUR"}'), status: 400, message: /amount/ },
    { name: 'rejects a wrongly typed amount', send: () => post({ ...valid, amount: '1250' }), status: 400, message: /amount: amount must be an integer/ },
    { name: 'rejects an unknown currency', send: () => post({ ...valid, currency: 'XBT' }), status: 400, message: /currency: currency must be one of USD, EUR/ },
    { name: 'rejects an invalid accountId', send: () => post({ ...valid, accountId: 'no spaces allowed' }), status: 400, message: /accountId: accountId must be 1-64 characters/ },
    { name: 'rejects an unknown field', send: () => post({ ...valid, admin: true }), status: 400, message: /Unrecognized key/ },
    { name: 'rejects a body that is a JSON array', send: () => post([valid]), status: 400, message: /payment is invalid/ },
    { name: 'rejects an oversize body with 413', send: () => post({ ...valid, reference: 'x'.repeat(9000) }), status: 413, message: /bytes; the limit is 8192 bytes/ },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const before = sends;
      const response = await c.send();
      expect(response.statusCode).toBe(c.status);
      const body = JSON.parse(response.body) as { error: string; message: string; details?: string[] };
      expect(body.error).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(`${body.message}\n${(body.details ?? []).join('\n')}`).toMatch(c.message);
      expect(sends).toBe(before);
      expect(await receiveAll()).toHaveLength(0);
    });
  }
});

describe('POST /payments: idempotency (Powertools, DynamoDB Local) and the FIFO message (fauxqs)', () => {
  it('accepts a payment with 202 and sends ONE FIFO message grouped by account, deduplicated by the key', async () => {
    // Prepare
    const key = uniqueName('accept-key');

    // Act
    const response = await post(valid, key, {});

    // Assess
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body)).toEqual({ paymentId: paymentIdFor(scoped(key)), status: 'accepted' });
    const messages = await receiveAll();
    expect(messages).toHaveLength(1);
    const message = PaymentMessageSchema.parse(JSON.parse(messages[0]!.Body!));
    expect(message).toMatchObject({ ...valid, paymentId: paymentIdFor(scoped(key)), idempotencyKey: scoped(key) });
    expect(messages[0]!.Attributes?.MessageGroupId).toBe(valid.accountId);
    expect(messages[0]!.Attributes?.MessageDeduplicationId).toBe(deduplicationIdFor(scoped(key)));
  });

  it('replays the first response for a retry with the same key and body (header casing and key order do not matter), sending nothing more', async () => {
    const key = uniqueName('replay-key');
    const first = await post(valid, key);
    await receiveAll();
    const before = sends;
    const reordered = JSON.stringify({ reference: valid.reference, currency: valid.currency, amount: valid.amount, accountId: valid.accountId });
    const retry = await createPayment(apiEvent({ body: reordered, headers: { 'idempotency-key': key } }), lambdaContext());
    expect(retry.statusCode).toBe(202);
    expect(retry.body).toBe(first.body);
    expect(retry.headers?.['Idempotency-Replayed']).toBe('true');
    expect(sends).toBe(before);
    expect(await receiveAll()).toHaveLength(0);
  });

  it('rejects the same key with another body with 422 and a clear message, sending nothing', async () => {
    const key = uniqueName('reuse-key');
    await post(valid, key);
    await receiveAll();
    const before = sends;
    const response = await post({ ...valid, amount: 999 }, key);
    expect(response.statusCode).toBe(422);
    expect(sends).toBe(before);
    expect(JSON.parse(response.body).message).toMatch(/already used with a different payment body/);
    expect(await receiveAll()).toHaveLength(0);
  });

  it('rejects a concurrent request with the same key with 409 and Retry-After while the first is in progress', async () => {
    // Prepare: hold the first request inside SendMessage.
    const real = new SQSClient({ endpoint: inject('sqsEndpoint'), useQueueUrlAsEndpoint: false });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const firstIsSending = new Promise<void>((resolve) => (entered = resolve));
    const held = {
      send: async (command: never) => {
        entered();
        await gate;
        return real.send(command);
      },
    } as unknown as SQSClient;
    setClients({ sqs: held });
    const key = uniqueName('concurrent-key');

    try {
      // Act
      const first = post(valid, key);
      await firstIsSending; // its INPROGRESS record is written by now
      const second = await post(valid, key);
      release();

      // Assess
      expect(second.statusCode).toBe(409);
      expect(second.headers?.['Retry-After']).toBe('1');
      expect((await first).statusCode).toBe(202);
      expect(await receiveAll()).toHaveLength(1);
    } finally {
      setClients({ sqs: counting });
    }
  });

  it('answers 500 with a generic message and the requestId, never the raw error, when the queue is unreachable', async () => {
    const broken = { send: async () => { throw new Error('secret internal detail: arn:aws:sqs:…'); } } as unknown as SQSClient;
    setClients({ sqs: broken });
    try {
      const event = apiEvent({ body: JSON.stringify(valid), headers: { 'Idempotency-Key': uniqueName('broken-key') } });
      const response = await createPayment(event, lambdaContext());
      expect(response.statusCode).toBe(500);
      expect(response.body).not.toMatch(/secret|arn:/);
      expect(JSON.parse(response.body)).toMatchObject({ error: 'InternalError', requestId: event.requestContext.requestId });
    } finally {
      setClients({ sqs: counting });
    }
  });
});

describe('GET /accounts/{accountId}', () => {
  it('returns the balance and the applied and rejected counts after the ledger processed payments', async () => {
    const accountId = uniqueName('acc');
    await ledger(sqsEvent(paymentRecord(paymentMessage(uniqueName('ga-1'), { accountId, amount: 70 }))));
    await ledger(sqsEvent(paymentRecord(paymentMessage(uniqueName('ga-2'), { accountId, amount: -100 }))));
    const response = await getAccount(apiEvent({ method: 'GET', path: `/accounts/${accountId}`, pathParameters: { accountId } }), lambdaContext());
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ accountId, balance: 70, currency: 'EUR', applied: 1, rejected: 1 });
  });

  it('rejects an unknown account with 404', async () => {
    const response = await getAccount(apiEvent({ method: 'GET', pathParameters: { accountId: 'nobody-here' } }), lambdaContext());
    expect(response.statusCode).toBe(404);
    expect(JSON.parse(response.body).message).toMatch(/No account nobody-here/);
  });

  it('rejects an invalid account id with 400', async () => {
    const response = await getAccount(apiEvent({ method: 'GET', pathParameters: { accountId: 'bad id!' } }), lambdaContext());
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).message).toMatch(/accountId must be 1-64 characters/);
  });
});

describe('POST /payments: the Idempotency-Key is scoped to the calling IAM principal', () => {
  it('makes the same key from two callers two payments: no replayed answer, two paymentIds, two messages', async () => {
    // Prepare
    const key = uniqueName('shared-key');
    const bob = { userArn: 'arn:aws:iam::444455556666:user/bob', caller: 'AIDABOB', accessKey: 'AKIABOB' };
    // Act
    const fromAlice = await post(valid, key);
    // (another account: a FIFO group shows one message at a time, and both must be received below)
    const fromBob = await post({ ...valid, accountId: 'acc-api-bob', amount: 1 }, key, {}, bob);
    // Assess: Bob's different body is not a 422 against Alice's record, and he does not get her answer.
    expect([fromAlice.statusCode, fromBob.statusCode]).toEqual([202, 202]);
    expect(fromBob.headers?.['Idempotency-Replayed']).toBeUndefined();
    const [alicePayment, bobPayment] = [JSON.parse(fromAlice.body).paymentId, JSON.parse(fromBob.body).paymentId];
    expect(alicePayment).toBe(paymentIdFor(scoped(key)));
    expect(bobPayment).toBe(paymentIdFor(scoped(key, bob)));
    expect(alicePayment).not.toBe(bobPayment);
    const messages = (await receiveAll()).map((m) => PaymentMessageSchema.parse(JSON.parse(m.Body!)));
    expect(messages.map((m) => m.idempotencyKey).sort()).toEqual([scoped(key), scoped(key, bob)].sort());
  });

  it('keeps the scope of a role across credential renewals: a retry from a new session of the same role is replayed', async () => {
    const key = uniqueName('role-key');
    const first = await post(valid, key, {}, BILLING_SESSION('s1'));
    const retry = await post(valid, key, {}, BILLING_SESSION('s2'));
    expect(retry.statusCode).toBe(202);
    expect(retry.headers?.['Idempotency-Replayed']).toBe('true');
    expect(JSON.parse(retry.body).paymentId).toBe(JSON.parse(first.body).paymentId);
    expect(callerPrincipal(BILLING_SESSION('s1'))).toBe('arn:aws:iam::111122223333:role/billing');
    await receiveAll();
  });

  it('rejects a request without an IAM identity with 403, sending nothing', async () => {
    sends = 0;
    const response = await post(valid, uniqueName('anon-key'), {}, null);
    expect(response.statusCode).toBe(403);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'MissingCallerIdentity', message: expect.stringMatching(/AWS_IAM \(SigV4\)/) });
    expect(sends).toBe(0);
  });
});
