import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { makeIdempotent, IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.js';
import { lambdaContext } from '../fixtures/events.js';
import { dedupKey } from '../../lambdas/shared/ledger-keys.js';
import { deduplicationIdFor, paymentIdFor, type PaymentMessage } from '../../lambdas/shared/payments-model.js';
import { AtomicLedgerStrategy, LEDGER_SCOPE } from '../../lambdas/ledger/strategies/atomic.js';
import { NOTIFIER_KEY_PREFIX as NOTIFIER_PREFIX_IN_HANDLER } from '../../lambdas/notifier/notifier.js';
import { eventIdFor, type PaymentEvent } from '../../lambdas/shared/payments-model.js';
import {
  EVENTS_PROFILE,
  formatEntry,
  IdempotencyAwareChecker,
  LEDGER_DEDUP_SCOPE,
  NOTIFIER_KEY_PREFIX,
  PAYMENTS_PROFILE,
  parseRedriveArgs,
  profileForOutputKey,
  QueueResolutionError,
  redriveMessages,
  resolveQueue,
  resolveSourceQueue,
  RedriveUsageError,
} from '../../scripts/redrive/index.js';

const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
let sqs: SQSClient;
let ddb: DynamoDBClient;
const ledgerTable = `redrive-ledger-${run}`;
const idempotencyTable = `redrive-idem-${run}`;
const nowSeconds = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  sqs = new SQSClient({ endpoint: inject('sqsEndpoint'), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  ddb = new DynamoDBClient({ endpoint: inject('ddbEndpoint'), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  // Not test/fixtures' createLedgerTable: that one enables TTL, and DynamoDB Local sweeps expired items within seconds,
  // while these tests need an expired marker that is still there (as on AWS, where TTL deletes late).
  await ddb.send(
    new CreateTableCommand({
      TableName: ledgerTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
  await ddb.send(
    new CreateTableCommand({
      TableName: idempotencyTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    }),
  );
});

/** Powertools config as a handler has it (a Lambda context registered, so no "remaining time" warning). */
function quietConfig(eventKeyJmesPath: string): IdempotencyConfig {
  const config = new IdempotencyConfig({ eventKeyJmesPath });
  config.registerLambdaContext(lambdaContext());
  return config;
}

function payment(key: string, accountId: string): PaymentMessage {
  return {
    accountId,
    amount: 100,
    currency: 'EUR',
    paymentId: paymentIdFor(key),
    idempotencyKey: key,
    requestedAt: new Date().toISOString(),
  };
}

async function putMarker(scope: string, key: string, expiresAt: number): Promise<void> {
  const { pk, sk } = dedupKey(scope, key);
  await ddb.send(
    new PutItemCommand({
      TableName: ledgerTable,
      Item: { pk: { S: pk }, sk: { S: sk }, expiresAt: { N: String(expiresAt) }, createdAt: { S: new Date().toISOString() } },
    }),
  );
}

/** A FIFO source with a FIFO DLQ (maxReceiveCount 1), as the payments queue is wired, with short timeouts. */
async function fifoPair(name: string): Promise<{ sourceUrl: string; dlqUrl: string }> {
  const dlq = await sqs.send(
    new CreateQueueCommand({ QueueName: `${name}-dlq-${run}.fifo`, Attributes: { FifoQueue: 'true' } }),
  );
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl!, AttributeNames: ['QueueArn'] }),
  );
  const source = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${name}-${run}.fifo`,
      Attributes: {
        FifoQueue: 'true',
        VisibilityTimeout: '1',
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes!.QueueArn, maxReceiveCount: 1 }),
      },
    }),
  );
  return { sourceUrl: source.QueueUrl!, dlqUrl: dlq.QueueUrl! };
}

/** Sends messages to the source and lets SQS dead-letter them: received once, not deleted, received again. */
async function deadLetter(pair: { sourceUrl: string; dlqUrl: string }, messages: { body: string; group: string; dedup: string }[]) {
  for (const m of messages) {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: pair.sourceUrl,
        MessageBody: m.body,
        MessageGroupId: m.group,
        MessageDeduplicationId: m.dedup,
        MessageAttributes: { origin: { DataType: 'String', StringValue: 'test' } },
      }),
    );
  }
  // Simulate a consumer that fails every delivery until the redrive policy moves each message to the DLQ.
  const deadline = Date.now() + 20_000;
  while ((await depth(pair.dlqUrl)) < messages.length) {
    if (Date.now() > deadline) throw new Error('messages did not reach the DLQ');
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: pair.sourceUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 1, WaitTimeSeconds: 1 }));
  }
}

async function depth(url: string): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(Attributes!.ApproximateNumberOfMessages) + Number(Attributes!.ApproximateNumberOfMessagesNotVisible);
}

async function drain(url: string): Promise<Message[]> {
  const out: Message[] = [];
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 30,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    empty = Messages.length === 0 ? empty + 1 : 0;
    out.push(...Messages);
  }
  return out;
}

/** Four dead-lettered payments messages + one poison: k1 applied, k2 never, k3 applied with an expired marker still present. */
async function scenario(name: string) {
  const pair = await fifoPair(name);
  const keys = { k1: `key-1-${name}-${run}`, k2: `key-2-${name}-${run}`, k3: `key-3-${name}-${run}` };
  await putMarker(LEDGER_DEDUP_SCOPE, keys.k1, nowSeconds() + 3600);
  await putMarker(LEDGER_DEDUP_SCOPE, keys.k3, nowSeconds() - 60); // expired, TTL not yet run (F6)
  await deadLetter(pair, [
    { body: JSON.stringify(payment(keys.k1, 'acct-a')), group: 'acct-a', dedup: deduplicationIdFor(keys.k1) },
    { body: JSON.stringify(payment(keys.k2, 'acct-a')), group: 'acct-a', dedup: deduplicationIdFor(keys.k2) },
    { body: JSON.stringify(payment(keys.k3, 'acct-b')), group: 'acct-b', dedup: deduplicationIdFor(keys.k3) },
    { body: 'not json {', group: 'acct-c', dedup: `poison-${name}` },
  ]);
  return { ...pair, keys };
}

describe('redrive of a FIFO dead-letter queue (fauxqs + DynamoDB Local)', () => {
  it('moves not-applied messages back with their group and a new dedup id, and drops the already-applied one', async () => {
    // Prepare
    const { sourceUrl, dlqUrl, keys } = await scenario('move');
    const checker = new IdempotencyAwareChecker({ dynamodb: ddb, ledgerTable });

    // Act
    const report = await redriveMessages({ sqs, dlqUrl, sourceUrl, checker, visibilityTimeoutSeconds: 30 });

    // Assess: the report says, per key, what was applied
    const byKey = new Map(report.entries.map((e) => ['key' in e.verdict ? e.verdict.key : e.messageId, e]));
    expect(byKey.get(keys.k1)).toMatchObject({ action: 'dropped', verdict: { status: 'applied' }, groupId: 'acct-a' });
    expect(byKey.get(keys.k2)).toMatchObject({ action: 'resent', verdict: { status: 'not-applied' } });
    // An expired marker that TTL has not deleted yet still proves the effect (issue 11 #2).
    expect(byKey.get(keys.k3)).toMatchObject({ action: 'dropped', verdict: { status: 'applied' } });
    expect((byKey.get(keys.k3)!.verdict as { evidence: string }).evidence).toMatch(/expired at .* but still present/);
    expect(report.entries.find((e) => e.verdict.status === 'unknown')).toMatchObject({ action: 'resent', groupId: 'acct-c' });
    expect(report.entries.every((e) => e.receiveCount >= 1)).toBe(true);
    expect(report.counts).toMatchObject({ applied: 2, notApplied: 1, unknown: 1, resent: 2, dropped: 2, kept: 0, errors: 0 });

    // Assess: the source got exactly the two, in their groups, although their original dedup ids are < 5 min old
    const moved = await drain(sourceUrl);
    const movedKeys = moved.map((m) => (m.Body!.startsWith('{') ? (JSON.parse(m.Body!) as PaymentMessage).idempotencyKey : m.Body));
    expect(movedKeys.sort()).toEqual([keys.k2, 'not json {'].sort());
    expect(moved.find((m) => m.Body!.includes(keys.k2))!.Attributes!.MessageGroupId).toBe('acct-a');
    expect(moved.find((m) => m.Body!.includes(keys.k2))!.MessageAttributes!['origin']!.StringValue).toBe('test');
    expect(await depth(dlqUrl)).toBe(0);
  });

  it('leaves the DLQ and the source untouched on a dry run, and reports what it would do', async () => {
    // Prepare
    const { sourceUrl, dlqUrl, keys } = await scenario('dry');
    const checker = new IdempotencyAwareChecker({ dynamodb: ddb, ledgerTable });

    // Act
    const report = await redriveMessages({ sqs, dlqUrl, sourceUrl, checker, dryRun: true });

    // Assess: heads of each FIFO group examined, nothing moved; the held-back one is reported as unexamined
    expect(report.entries.every((e) => e.action === 'kept')).toBe(true);
    const k1 = report.entries.find((e) => 'key' in e.verdict && e.verdict.key === keys.k1);
    expect(k1).toMatchObject({ plannedAction: 'dropped', verdict: { status: 'applied' } });
    expect(report.entries.length + report.unexamined).toBe(4);
    expect(await depth(sourceUrl)).toBe(0);
    expect(await depth(dlqUrl)).toBe(4);
  });

  it('resends already-applied messages too with --include-applied', async () => {
    // Prepare
    const { sourceUrl, dlqUrl, keys } = await scenario('incl');
    const checker = new IdempotencyAwareChecker({ dynamodb: ddb, ledgerTable });

    // Act
    const report = await redriveMessages({ sqs, dlqUrl, sourceUrl, checker, includeApplied: true });

    // Assess
    expect(report.counts).toMatchObject({ applied: 2, resent: 4, dropped: 0 });
    const moved = await drain(sourceUrl);
    expect(moved.some((m) => m.Body!.includes(keys.k1))).toBe(true);
  });

  it('keeps already-applied messages in the DLQ with --keep-applied', async () => {
    // Prepare
    const { sourceUrl, dlqUrl } = await scenario('keep');
    const checker = new IdempotencyAwareChecker({ dynamodb: ddb, ledgerTable });

    // Act
    const report = await redriveMessages({ sqs, dlqUrl, sourceUrl, checker, keepApplied: true });

    // Assess: k1 and k3 stay; k2 sits behind k1 in group acct-a (FIFO), so it is left for the next run
    expect(report.counts).toMatchObject({ applied: 2, kept: 2, dropped: 0 });
    expect(await depth(dlqUrl)).toBe(2 + report.unexamined);
  });
});

describe('redrive keeps each FIFO group in order (issue 11 #3)', () => {
  it('stops a group at its first failed send: the later messages of that group stay in the DLQ, other groups move', async () => {
    // Prepare: a FIFO DLQ holding group acct-x = [x1, x2, x3] and group acct-y = [y1], none applied; fauxqs hands
    // several messages of one group to one receive, as SQS does. The first send of x1 fails (a fault no emulator
    // produces on demand: the SQS client is wrapped).
    const pair = await fifoPair('stop');
    const keys = ['x1', 'x2', 'x3'].map((k) => `stop-${k}-${run}`);
    const y1 = `stop-y1-${run}`;
    const bodies = [...keys.map((k) => ({ key: k, group: 'acct-x' })), { key: y1, group: 'acct-y' }];
    for (const { key, group } of bodies) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: pair.dlqUrl,
          MessageBody: JSON.stringify(payment(key, group)),
          MessageGroupId: group,
          MessageDeduplicationId: deduplicationIdFor(key),
        }),
      );
    }
    let failNext = true;
    const flaky = {
      send: async (command: { constructor: { name: string }; input: { MessageBody?: string } }) => {
        if (command.constructor.name === 'SendMessageCommand' && failNext && command.input.MessageBody?.includes(keys[0]!)) {
          failNext = false;
          throw Object.assign(new Error('send refused (injected)'), { name: 'InternalError' });
        }
        return sqs.send(command as never);
      },
    } as unknown as SQSClient;
    const checker = new IdempotencyAwareChecker({ dynamodb: ddb, ledgerTable });

    // Act
    const report = await redriveMessages({ sqs: flaky, dlqUrl: pair.dlqUrl, sourceUrl: pair.sourceUrl, checker, visibilityTimeoutSeconds: 30 });

    // Assess: x1 kept with its error, x2 and x3 kept behind it (never sent ahead of it), y1 moved.
    const byKey = new Map(report.entries.map((e) => ['key' in e.verdict ? e.verdict.key : '', e]));
    expect(byKey.get(keys[0]!)).toMatchObject({ action: 'kept', error: 'send refused (injected)' });
    for (const key of keys.slice(1)) {
      expect(byKey.get(key)).toMatchObject({ action: 'kept', plannedAction: 'resent' });
      expect(byKey.get(key)!.error).toMatch(/failed earlier in this run; kept so the group keeps its order/);
    }
    expect(byKey.get(y1)).toMatchObject({ action: 'resent' });
    const moved = await drain(pair.sourceUrl);
    expect(moved.map((m) => (JSON.parse(m.Body!) as PaymentMessage).idempotencyKey)).toEqual([y1]);
    const left = await drain(pair.dlqUrl);
    expect(left.map((m) => (JSON.parse(m.Body!) as PaymentMessage).idempotencyKey)).toEqual(keys);
  });
});

describe('redrive of messages the ledger dead-lettered itself (issue 11 #1)', () => {
  it('shows the ledger\'s reason, and resends the message without it', async () => {
    // Prepare: a fenced payment in the DLQ, as the ledger sends it (reason in message attributes)
    const pair = await fifoPair('reason');
    const key = `fenced-${run}`;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: pair.dlqUrl,
        MessageBody: JSON.stringify(payment(key, 'acct-r')),
        MessageGroupId: 'acct-r',
        MessageDeduplicationId: deduplicationIdFor(key),
        MessageAttributes: {
          ledgerFailure: { DataType: 'String', StringValue: 'fenced' },
          ledgerFailureReason: { DataType: 'String', StringValue: 'SequenceNumber 5 is not above lastSequence 7' },
          origin: { DataType: 'String', StringValue: 'api' },
        },
      }),
    );
    const checker = new IdempotencyAwareChecker({ dynamodb: ddb, ledgerTable });

    // Act
    const report = await redriveMessages({ sqs, dlqUrl: pair.dlqUrl, sourceUrl: pair.sourceUrl, checker, visibilityTimeoutSeconds: 30 });

    // Assess
    expect(report.entries[0]).toMatchObject({ action: 'resent', deadLetter: { kind: 'fenced', reason: 'SequenceNumber 5 is not above lastSequence 7' } });
    expect(formatEntry(report.entries[0]!)).toMatch(/\[dead-lettered by the ledger: fenced — SequenceNumber 5 is not above lastSequence 7\]/);
    const [moved] = await drain(pair.sourceUrl);
    expect(Object.keys(moved!.MessageAttributes ?? {})).toEqual(['origin']);
  });
});

describe('redrive of payments applied by the real ledger strategy', () => {
  it('issue 11 #2: reports a payment whose outbox item expired but is still present as applied, so a late redrive does not apply it twice (was: not-applied, resent, balance 100 → 200)', async () => {
    // Prepare: the product's strategy applies 100; the message's dead-lettered copy waits past the outbox item's expiry
    // (20 days on, on the checker's and the ledger's clocks; TTL has not deleted the item: this table has no TTL).
    const accountId = `acct-exp-${run}`;
    const message = payment(`expired-applied-${run}`, accountId);
    const ledger = new AtomicLedgerStrategy({ client: ddb, tableName: ledgerTable, dedupTtlSeconds: 3600 });
    expect(await ledger.apply({ message, messageId: 'm-0', receiveCount: 1 })).toMatchObject({ status: 'applied', balance: 100 });
    const pair = await fifoPair('expired');
    await deadLetter(pair, [{ body: JSON.stringify(message), group: accountId, dedup: deduplicationIdFor(message.idempotencyKey) }]);
    const later = () => new Date(Date.now() + 20 * 86_400_000);
    const checker = new IdempotencyAwareChecker({ dynamodb: ddb, ledgerTable, now: later });

    // Act: redrive, then the ledger consumes whatever reached the source queue.
    const report = await redriveMessages({ sqs, dlqUrl: pair.dlqUrl, sourceUrl: pair.sourceUrl, checker, visibilityTimeoutSeconds: 30 });
    const laterLedger = new AtomicLedgerStrategy({ client: ddb, tableName: ledgerTable, dedupTtlSeconds: 3600, now: later });
    for (const moved of await drain(pair.sourceUrl)) {
      await laterLedger.apply({ message: JSON.parse(moved.Body!) as PaymentMessage, messageId: moved.MessageId!, receiveCount: 1 });
    }

    // Assess: applied, dropped from the DLQ, the balance still 100 with one applied payment.
    expect(report.entries).toHaveLength(1);
    expect(report.entries[0]).toMatchObject({ action: 'dropped', verdict: { status: 'applied', key: message.idempotencyKey } });
    expect((report.entries[0]!.verdict as { evidence: string }).evidence).toMatch(/outbox item OUTBOX#evt_.*expired at .* but still present/);
    const { Item } = await ddb.send(
      new GetItemCommand({ TableName: ledgerTable, Key: { pk: { S: `ACCOUNT#${accountId}` }, sk: { S: 'ACCOUNT' } }, ConsistentRead: true }),
    );
    expect(Item).toMatchObject({ balance: { N: '100' }, applied: { N: '1' } });
  });

  it('flags a payment the atomic strategy applied as applied, whichever item carries its dedup marker', async () => {
    // Prepare: the product's strategy applies one payment; another never ran
    const strategy = new AtomicLedgerStrategy({ client: ddb, tableName: ledgerTable, dedupTtlSeconds: 3600 });
    const applied = payment(`real-applied-${run}`, `acct-real-${run}`);
    const pending = payment(`real-pending-${run}`, `acct-real-${run}`);
    const outcome = await strategy.apply({ message: applied, messageId: 'm-1', receiveCount: 1 });
    expect(outcome.status).toBe('applied');
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `real-dlq-${run}` }));
    const source = await sqs.send(new CreateQueueCommand({ QueueName: `real-src-${run}` }));
    for (const m of [applied, pending]) {
      await sqs.send(new SendMessageCommand({ QueueUrl: dlq.QueueUrl!, MessageBody: JSON.stringify(m) }));
    }
    const checker = new IdempotencyAwareChecker({ dynamodb: ddb, ledgerTable });

    // Act
    const report = await redriveMessages({ sqs, dlqUrl: dlq.QueueUrl!, sourceUrl: source.QueueUrl!, checker });

    // Assess
    const byKey = new Map(report.entries.map((e) => ['key' in e.verdict ? e.verdict.key : '', e]));
    expect(byKey.get(applied.idempotencyKey)).toMatchObject({ action: 'dropped', verdict: { status: 'applied' } });
    expect(byKey.get(pending.idempotencyKey)).toMatchObject({ action: 'resent', verdict: { status: 'not-applied' } });
  });
});

describe('redrive of a consumer that dedups with Powertools (standard queues)', () => {
  it('flags a message whose Powertools record (keyPrefix = consumer name) is COMPLETED as applied', async () => {
    // Prepare: the real Powertools persistence writes the record the checker must find
    const scope = 'loyalty-points';
    const persistenceStore = new DynamoDBPersistenceLayer({ tableName: idempotencyTable, awsSdkV3Client: ddb });
    const effect = makeIdempotent(async (message: { idempotencyKey: string }) => ({ done: message.idempotencyKey }), {
      persistenceStore,
      keyPrefix: scope,
      config: quietConfig('idempotencyKey'),
    });
    const applied = `pt-applied-${run}`;
    await effect({ idempotencyKey: applied });
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `pt-dlq-${run}` }));
    const source = await sqs.send(new CreateQueueCommand({ QueueName: `pt-src-${run}` }));
    for (const key of [applied, `pt-fresh-${run}`]) {
      await sqs.send(new SendMessageCommand({ QueueUrl: dlq.QueueUrl!, MessageBody: JSON.stringify({ idempotencyKey: key }) }));
    }
    const checker = new IdempotencyAwareChecker({
      dynamodb: ddb,
      ledgerTable,
      idempotencyTable,
      profile: profileForOutputKey('LoyaltyPointsDlqUrl'),
    });

    // Act
    const report = await redriveMessages({ sqs, dlqUrl: dlq.QueueUrl!, sourceUrl: source.QueueUrl!, checker });

    // Assess
    expect(report.entries.find((e) => e.action === 'dropped')?.verdict).toMatchObject({ status: 'applied', key: applied });
    expect(report.counts).toMatchObject({ applied: 1, notApplied: 1, resent: 1 });
    const moved = await drain(source.QueueUrl!);
    expect(moved.map((m) => JSON.parse(m.Body!).idempotencyKey)).toEqual([`pt-fresh-${run}`]);
  });
});

describe('redrive of the events DLQ (notifier: Powertools record per eventId)', () => {
  it('flags a payment event the notifier already delivered as applied, without being told the scope', async () => {
    // Prepare: the notifier's own idempotency settings (keyPrefix, eventId key) write the record
    const persistenceStore = new DynamoDBPersistenceLayer({ tableName: idempotencyTable, awsSdkV3Client: ddb });
    const deliver = makeIdempotent(async (event: PaymentEvent) => ({ eventId: event.eventId }), {
      persistenceStore,
      keyPrefix: NOTIFIER_KEY_PREFIX,
      config: quietConfig('eventId'),
    });
    const event = (key: string): PaymentEvent => ({
      eventId: eventIdFor(paymentIdFor(key)),
      eventType: 'PaymentApplied',
      paymentId: paymentIdFor(key),
      idempotencyKey: key,
      accountId: 'acct-ev',
      amount: 5,
      currency: 'EUR',
      balance: 5,
      occurredAt: new Date().toISOString(),
    });
    const delivered = event(`ev-delivered-${run}`);
    const pending = event(`ev-pending-${run}`);
    await deliver(delivered);
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `ev-dlq-${run}` }));
    const source = await sqs.send(new CreateQueueCommand({ QueueName: `ev-src-${run}` }));
    for (const e of [delivered, pending]) {
      await sqs.send(new SendMessageCommand({ QueueUrl: dlq.QueueUrl!, MessageBody: JSON.stringify(e) }));
    }
    const checker = new IdempotencyAwareChecker({ dynamodb: ddb, ledgerTable, idempotencyTable });

    // Act
    const report = await redriveMessages({ sqs, dlqUrl: dlq.QueueUrl!, sourceUrl: source.QueueUrl!, checker });

    // Assess
    expect(report.entries.find((e) => e.action === 'dropped')?.verdict).toMatchObject({ status: 'applied', key: delivered.eventId });
    expect(report.entries.find((e) => e.action === 'resent')?.verdict).toMatchObject({ status: 'not-applied', key: pending.eventId });
    expect(profileForOutputKey('EventsDlqUrl')).toEqual(EVENTS_PROFILE);
  });

  it('uses the same scopes as the handlers that write the records', () => {
    expect(LEDGER_DEDUP_SCOPE).toBe(LEDGER_SCOPE);
    expect(NOTIFIER_KEY_PREFIX).toBe(NOTIFIER_PREFIX_IN_HANDLER);
  });
});

describe('queue resolution', () => {
  it('finds the source of a DLQ from the queues\' redrive policies when no outputs name it', async () => {
    // Prepare
    const pair = await fifoPair('resolve');

    // Act
    const source = await resolveSourceQueue(sqs, { url: pair.dlqUrl }, {});

    // Assess
    expect(source.url).toBe(pair.sourceUrl);
  });

  it('resolves a DLQ by output key and its source by the XDlqUrl → XQueueUrl convention', async () => {
    // Prepare
    const outputs = { 'ExactlyOncePayments-dev': { PaymentsDlqUrl: 'http://q/dlq.fifo', PaymentsQueueUrl: 'http://q/src.fifo' } };

    // Act
    const dlq = await resolveQueue(sqs, 'PaymentsDlqUrl', outputs);
    const source = await resolveSourceQueue(sqs, dlq, outputs);

    // Assess
    expect(dlq).toEqual({ url: 'http://q/dlq.fifo', outputKey: 'PaymentsDlqUrl', stack: 'ExactlyOncePayments-dev' });
    expect(source.url).toBe('http://q/src.fifo');
    expect(profileForOutputKey('PaymentsDlqUrl')).toEqual(PAYMENTS_PROFILE);
  });

  it('rejects a queue name that does not exist, naming it', async () => {
    await expect(resolveQueue(sqs, `no-such-queue-${run}`, {})).rejects.toThrow(QueueResolutionError);
    await expect(resolveQueue(sqs, `no-such-queue-${run}`, {})).rejects.toThrow(/no-such-queue/);
  });

  it('rejects unknown flags and contradictory ones', () => {
    expect(() => parseRedriveArgs(['q', '--frobnicate'])).toThrow(/Unknown option --frobnicate/);
    expect(() => parseRedriveArgs(['q', '--include-applied', '--keep-applied'])).toThrow(RedriveUsageError);
    expect(() => parseRedriveArgs([])).toThrow(/exactly one DLQ/);
    expect(() => parseRedriveArgs(['q', '--max', 'ten'])).toThrow(/--max must be a positive integer/);
  });
});

describe('npm run redrive (the CLI, with an outputs file and an env file like the local runtime writes)', () => {
  it('redrives by output key and prints one line per message and a summary', async () => {
    // Prepare
    const { sourceUrl, dlqUrl, keys } = await scenario('cli');
    const dir = mkdtempSync(join(tmpdir(), 'redrive-cli-'));
    const outputsFile = join(dir, 'outputs.json');
    const envFile = join(dir, 'env');
    writeFileSync(
      outputsFile,
      JSON.stringify({ 'ExactlyOncePayments-dev': { PaymentsDlqUrl: dlqUrl, PaymentsQueueUrl: sourceUrl, LedgerTableName: ledgerTable } }),
    );
    writeFileSync(
      envFile,
      [
        `AWS_ENDPOINT_URL_SQS=${inject('sqsEndpoint')}`,
        `AWS_ENDPOINT_URL_DYNAMODB=${inject('ddbEndpoint')}`,
        `AWS_REGION=${LOCAL_REGION}`,
        'AWS_ACCESS_KEY_ID=local',
        'AWS_SECRET_ACCESS_KEY=local',
      ].join('\n'),
    );
    const env = { ...process.env };
    for (const name of ['AWS_ENDPOINT_URL_SQS', 'AWS_ENDPOINT_URL_DYNAMODB', 'LEDGER_TABLE_NAME', 'AWS_PROFILE']) delete env[name];

    // Act
    const result = spawnSync(
      join(process.cwd(), 'node_modules/.bin/tsx'),
      ['scripts/redrive.ts', 'PaymentsDlqUrl', '--outputs', outputsFile, '--env-file', envFile],
      { cwd: process.cwd(), env, encoding: 'utf8', timeout: 45_000 },
    );

    // Assess
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`key=${keys.k1}.*ALREADY APPLIED.*dropped from DLQ`));
    expect(result.stdout).toMatch(new RegExp(`key=${keys.k2}.*not applied.*resent as`));
    expect(result.stdout).toMatch(/already applied: 2, not applied: 1, unknown: 1/);
    expect(await depth(dlqUrl)).toBe(0);
    expect(await depth(sourceUrl)).toBe(2);
  });
});
