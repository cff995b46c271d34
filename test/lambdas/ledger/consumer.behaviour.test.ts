import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { parseDelivery, processLedgerBatch, type LedgerConsumerDeps } from '../../../lambdas/ledger/consumer.js';
import type { DeadLetterKind, DeadLetterSender } from '../../../lambdas/ledger/dead-letter.js';
import { PoisonMessageError, SequenceFencedError } from '../../../lambdas/ledger/errors.js';
import type { LoadedLedgerStrategy } from '../../../lambdas/ledger/strategies/index.js';
import type { PaymentDelivery } from '../../../lambdas/ledger/strategy.js';
import { InjectedFault } from '../../../lambdas/shared/faults.js';
import { METRIC } from '../../../lambdas/shared/observability.js';
import { lambdaContext, paymentMessage, paymentRecord, sqsEvent, sqsRecord } from '../../fixtures/events.js';
import { recordingObservability } from '../../fixtures/observability.js';

/**
 * What the ledger consumer promises around the strategy (issue 11 #8): which metrics an invocation publishes, what is
 * logged with which correlation keys, what reaches the dead-letter port, and what the partial batch response reports.
 * The strategy is a fake (its own behaviour is tested on DynamoDB Local); the observability port records what the
 * function would publish and log.
 */

type Outcome = Awaited<ReturnType<LoadedLedgerStrategy['apply']>> & { fenced?: boolean; expiredMarker?: boolean };

function fakeStrategy(decide: (delivery: PaymentDelivery) => Outcome | Error): LoadedLedgerStrategy & { seen: PaymentDelivery[] } {
  const seen: PaymentDelivery[] = [];
  return {
    name: 'atomic',
    seen,
    apply: async (delivery: PaymentDelivery) => {
      seen.push(delivery);
      const result = decide(delivery);
      if (result instanceof Error) throw result;
      return result;
    },
  };
}

function recordingDeadLetter(options: { fail?: boolean; dropped?: string[] } = {}): DeadLetterSender & { sent: [string, DeadLetterKind, readonly string[]][] } {
  const sent: [string, DeadLetterKind, readonly string[]][] = [];
  return {
    sent,
    send: async (record: SQSRecord, kind: DeadLetterKind, reasons: readonly string[]) => {
      if (options.fail) throw new Error('DLQ unreachable');
      sent.push([record.messageId, kind, reasons]);
      return { droppedAttributes: options.dropped ?? [] };
    },
  };
}

const outcome = (status: Outcome['status'], extra: Partial<Outcome> = {}): Outcome => ({ status, paymentId: 'p', eventId: `evt_${status}`, ...extra });

async function run(records: SQSRecord[], deps: Partial<LedgerConsumerDeps> & Pick<LedgerConsumerDeps, 'strategy'>, context = lambdaContext(60_000)) {
  const recorder = recordingObservability();
  const response = await processLedgerBatch(sqsEvent(...records), context, { observability: recorder.observability, ...deps });
  return { ...recorder, reported: response.batchItemFailures.map((f) => f.itemIdentifier) };
}

describe('ledger consumer: metrics and logs of an invocation', () => {
  it('publishes one count per outcome at the end of the invocation, a fenced duplicate also as ZombieCommitsFenced', async () => {
    // Prepare: applied, rejected, plain duplicate, fenced duplicate, expired-marker duplicate.
    const plans = [outcome('applied', { balance: 5 }), outcome('rejected', { balance: 0 }), outcome('duplicate'), outcome('duplicate', { fenced: true }), outcome('duplicate', { expiredMarker: true })];
    const records = plans.map((_, i) => paymentRecord(paymentMessage(`consumer-metrics-${i}`, { accountId: `acc-${i}` })));
    const strategy = fakeStrategy((d) => plans[records.findIndex((r) => r.messageId === d.messageId)]!);

    // Act
    const { published, pending, lines, reported } = await run(records, { strategy });

    // Assess
    expect(reported).toEqual([]);
    expect(pending).toEqual([]);
    expect([...published].sort()).toEqual(
      [METRIC.PaymentsApplied, METRIC.PaymentsRejected, METRIC.DuplicatesSkipped, METRIC.DuplicatesSkipped, METRIC.ZombieCommitsFenced, METRIC.DuplicatesSkipped].sort(),
    );
    expect(lines.map((l) => [l.level, l.message.split(':')[0]])).toEqual([
      ['info', 'Payment applied'],
      ['info', 'Payment rejected'],
      ['info', 'Duplicate delivery skipped'],
      ['warn', 'Late copy refused by the sequence fence'],
      ['warn', 'Duplicate of a payment whose outbox item expired but is still present'],
    ]);
    const withoutKeys = ({ idempotencyKey, paymentId, eventId, ...rest }: Record<string, unknown>) => rest;
    expect(lines.map((l) => withoutKeys(l.attributes ?? {}))).toEqual([
      { balance: 5 },
      { balance: 0 },
      { messageId: records[2]!.messageId, receiveCount: 1 },
      { messageId: records[3]!.messageId, sequenceNumber: records[3]!.attributes.SequenceNumber },
      { messageId: records[4]!.messageId, receiveCount: 1 },
    ]);
  });

  it("logs each record with its own idempotencyKey, paymentId and eventId, never another record's, while groups run in parallel", async () => {
    // Prepare: two accounts (two groups) in one batch; the first one's commit is slow, so the second one's outcome is
    // logged while the first record is still in flight (keys appended to a shared logger would mix them up).
    const messages = [paymentMessage('consumer-keys-1', { accountId: 'k1' }), paymentMessage('consumer-keys-2', { accountId: 'k2' })];
    const strategy = fakeStrategy((d) => outcome('applied', { eventId: `evt_${d.message.idempotencyKey}`, paymentId: d.message.paymentId }));
    const apply = strategy.apply;
    strategy.apply = async (delivery) => {
      if (delivery.message.accountId === 'k1') await new Promise((resolve) => setTimeout(resolve, 50));
      return apply(delivery);
    };

    // Act
    const { lines } = await run(messages.map((m) => paymentRecord(m)), { strategy });

    // Assess: the second account's line comes first, and each line names its own payment
    const keysOf = (l: { keys: Record<string, unknown>; attributes?: Record<string, unknown> }) => {
      const all = { ...l.keys, ...l.attributes };
      return { idempotencyKey: all.idempotencyKey, paymentId: all.paymentId, eventId: all.eventId };
    };
    expect(lines.map(keysOf)).toEqual(
      [...messages].reverse().map((m) => ({ idempotencyKey: m.idempotencyKey, paymentId: m.paymentId, eventId: `evt_${m.idempotencyKey}` })),
    );
  });

  it('still publishes the counts of an invocation that an injected crash ends', async () => {
    const records = [1, 2].map((i) => paymentRecord(paymentMessage(`consumer-crash-${i}`, { accountId: `c${i}` })));
    const strategy = fakeStrategy((d) => (d.messageId === records[1]!.messageId ? new InjectedFault('ledger.beforeCommit') : outcome('applied')));
    const recorder = recordingObservability();

    await expect(processLedgerBatch(sqsEvent(...records), undefined, { strategy, observability: recorder.observability })).rejects.toThrow(InjectedFault);

    expect(recorder.published).toEqual([METRIC.PaymentsApplied]);
  });

  it('logs a retryable failure and the records skipped behind it, and warns once when it stopped early for the deadline', async () => {
    const [a1, a2] = [1, 2].map((i) => paymentRecord(paymentMessage(`consumer-logs-a${i}`, { accountId: 'la' })));
    const b1 = paymentRecord(paymentMessage('consumer-logs-b1', { accountId: 'lb' }));
    const boom = new Error('throttled');
    const strategy = fakeStrategy((d) => (d.messageId === a1!.messageId ? boom : outcome('applied')));

    const { lines, reported } = await run([a1!, a2!, b1], { strategy });

    expect(reported).toEqual([a1!.messageId, a2!.messageId]);
    expect(lines.filter((l) => l.level !== 'info' || l.message.startsWith('Skipped')).map((l) => [l.level, l.message, l.attributes])).toEqual([
      ['error', 'Payment failed: reported for retry', { messageId: a1!.messageId, group: 'la', error: boom }],
      ['info', 'Skipped: an earlier message of its FIFO group failed', { messageId: a2!.messageId, group: 'la', blockedBy: a1!.messageId }],
    ]);

    // A context that is out of time: the first record runs, the rest is reported, one warning says why.
    const late = await run([a1!, a2!, b1].map((r) => ({ ...r })), { strategy: fakeStrategy(() => outcome('applied')) }, lambdaContext(10));
    expect(late.reported).toEqual([a2!.messageId, b1.messageId]);
    expect(late.lines.filter((l) => l.level === 'debug').map((l) => l.attributes.messageId)).toEqual([a2!.messageId, b1.messageId]);
    expect(late.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      'Stopped early: too little time left for another record; the rest of the batch is retried',
    ]);
  });
});

describe('ledger consumer: deadline margin', () => {
  it('keeps deadlineMarginMs in hand (default 1 s), and twice the slowest record so far', async () => {
    const records = [1, 2, 3].map((i) => paymentRecord(paymentMessage(`consumer-margin-${i}`, { accountId: `m${i}` })));
    const fast = () => fakeStrategy(() => outcome('applied'));
    /** A context whose remaining time stays at `ms` (the records' own duration is measured by the consumer). */
    const remaining = (ms: number) => ({ ...lambdaContext(), getRemainingTimeInMillis: () => ms });

    // Default margin 1 s: 1.1 s left runs all, 0.9 s left runs only the first; a 2 s margin stops at 1.5 s left.
    expect((await run(records, { strategy: fast() }, remaining(1100))).reported).toEqual([]);
    expect((await run(records, { strategy: fast() }, remaining(900))).reported).toEqual(ids(records.slice(1)));
    expect((await run(records, { strategy: fast(), deadlineMarginMs: 2000 }, remaining(1500))).reported).toEqual(ids(records.slice(1)));
    expect((await run(records, { strategy: fast(), deadlineMarginMs: 100 }, remaining(900))).reported).toEqual([]);

    // A first record that takes 300 ms, with 500 ms left and a 100 ms margin: 2 × 300 ms > 500 ms, the rest waits.
    // One account, so its records start one after another (groups of a batch start together, before any is measured).
    const sameGroup = [1, 2, 3].map((i) => paymentRecord(paymentMessage(`consumer-margin-g${i}`, { accountId: 'mg' })));
    const slow = fakeStrategy(() => outcome('applied'));
    const apply = slow.apply.bind(slow);
    slow.apply = async (d) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return apply(d);
    };
    expect((await run(sameGroup, { strategy: slow, deadlineMarginMs: 100 }, remaining(500))).reported).toEqual(ids(sameGroup.slice(1)));
  });

  it('hands the Lambda context to a strategy that asks for it', async () => {
    const strategy = fakeStrategy(() => outcome('applied'));
    const contexts: unknown[] = [];
    strategy.registerLambdaContext = (context) => void contexts.push(context);
    const context = lambdaContext(60_000);
    await run([paymentRecord(paymentMessage('consumer-context', { accountId: 'ctx' }))], { strategy }, context);
    expect(contexts).toEqual([context]);
  });
});

function ids(records: readonly SQSRecord[]): string[] {
  return records.map((r) => r.messageId);
}

describe('ledger consumer: messages that can never be applied in order', () => {
  it('sends a poison and a fenced message to the dead-letter port with their reasons, reports them processed, counts and logs them', async () => {
    // Prepare: p1 is poison (bad JSON); f1 is fenced without a marker; a1 applies.
    const poison = sqsRecord({ body: '{not json', groupId: 'dl' });
    const fencedMessage = paymentMessage('consumer-fenced', { accountId: 'dl' });
    const fenced = paymentRecord(fencedMessage);
    const applied = paymentRecord(paymentMessage('consumer-after', { accountId: 'dl' }));
    const fenceError = new SequenceFencedError(fenced.messageId, 'dl', '5', '9');
    const strategy = fakeStrategy((d) => (d.messageId === fenced.messageId ? fenceError : outcome('applied')));
    const deadLetter = recordingDeadLetter({ dropped: ['attr11'] });

    // Act
    const { reported, published, lines } = await run([poison, fenced, applied], { strategy, deadLetter });

    // Assess: nothing reported (both are in the DLQ), the valid one after them applied.
    expect(reported).toEqual([]);
    expect(strategy.seen.map((d) => d.messageId)).toEqual([fenced.messageId, applied.messageId]);
    expect(deadLetter.sent).toEqual([
      [poison.messageId, 'poison', [expect.stringMatching(/^body is not JSON/)]],
      [fenced.messageId, 'fenced', fenceError.reasons],
    ]);
    expect([...published].sort()).toEqual(
      [METRIC.PoisonMessages, METRIC.DeadLetteredAtOnce, METRIC.FencedWithoutMarker, METRIC.DeadLetteredAtOnce, METRIC.PaymentsApplied].sort(),
    );
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors.map((l) => l.message)).toEqual([
      'Poison message: sent to the dead-letter queue with its reason',
      'Fenced without marker: sent to the dead-letter queue with its reason',
    ]);
    expect(errors[1]!.attributes).toEqual({
      messageId: fenced.messageId,
      group: 'dl',
      sequenceNumber: fenced.attributes.SequenceNumber,
      reasons: fenceError.reasons,
      droppedAttributes: ['attr11'],
    });
  });

  it('reports a poison or fenced message failed, without holding its group, when no DLQ is wired or the DLQ send fails', async () => {
    const poison = sqsRecord({ body: '{"accountId":1}', groupId: 'nd' });
    const fenced = paymentRecord(paymentMessage('consumer-nodlq-fenced', { accountId: 'nd' }));
    const later = paymentRecord(paymentMessage('consumer-nodlq-later', { accountId: 'nd' }));
    const strategy = () =>
      fakeStrategy((d) => (d.messageId === fenced.messageId ? new SequenceFencedError(fenced.messageId, 'nd', '1', '2') : outcome('applied')));

    for (const deadLetter of [undefined, recordingDeadLetter({ fail: true })]) {
      const { reported, published, lines } = await run([poison, fenced, later], { strategy: strategy(), ...(deadLetter ? { deadLetter } : {}) });
      expect(reported).toEqual([poison.messageId, fenced.messageId]);
      expect([...published].sort()).toEqual([METRIC.PoisonMessages, METRIC.FencedWithoutMarker, METRIC.PaymentsApplied].sort());
      const errors = lines.filter((l) => l.level === 'error').map((l) => l.message);
      expect(errors.filter((m) => m.endsWith('it will dead-letter after maxReceiveCount'))).toEqual([
        'Poison message: reported failed, it will dead-letter after maxReceiveCount',
        'Fenced without marker: reported failed, it will dead-letter after maxReceiveCount',
      ]);
      expect(errors.filter((m) => m.startsWith('Could not send'))).toHaveLength(deadLetter ? 2 : 0);
    }
  });

  it('dead-letters a poison error the strategy raises (paymentId not derived from the key) like a parse failure', async () => {
    const record = paymentRecord(paymentMessage('consumer-strategy-poison', { accountId: 'sp' }));
    const strategy = fakeStrategy(() => new PoisonMessageError(record.messageId, ['paymentId is not derived']));
    const deadLetter = recordingDeadLetter();
    const { reported } = await run([record], { strategy, deadLetter });
    expect(reported).toEqual([]);
    expect(deadLetter.sent).toEqual([[record.messageId, 'poison', ['paymentId is not derived']]]);
  });
});

describe('parseDelivery', () => {
  it('reads the delivery a FIFO record carries: message, sequence number, source queue and receive count', () => {
    const message = paymentMessage('consumer-parse', { accountId: 'pa' });
    const record = paymentRecord(message, { receiveCount: 3 });
    expect(parseDelivery(record)).toEqual({
      message,
      messageId: record.messageId,
      sequenceNumber: record.attributes.SequenceNumber,
      queueArn: record.eventSourceARN,
      receiveCount: 3,
    });
  });

  it('reads a standard-queue record without sequence number, and a record without source ARN or receive count', () => {
    const message = paymentMessage('consumer-parse-std', { accountId: 'ps' });
    const record = sqsRecord({ body: message });
    const bare = { ...record, eventSourceARN: '', attributes: { ...record.attributes, ApproximateReceiveCount: undefined as unknown as string } };
    expect(parseDelivery(record)).toMatchObject({ message, sequenceNumber: undefined, receiveCount: 1 });
    expect(parseDelivery(bare)).toMatchObject({ queueArn: undefined, receiveCount: 1 });
  });

  it('names every problem of a poison body: not JSON, each invalid field, a group that is not the account', () => {
    expect(() => parseDelivery(sqsRecord({ body: '{oops', messageId: 'm-json' }))).toThrow(/Message m-json is not a valid payment message: body is not JSON \(/);
    const invalid = (() => {
      try {
        parseDelivery(sqsRecord({ body: { accountId: 'a', amount: 'x' } }));
      } catch (error) {
        return error as PoisonMessageError;
      }
      return undefined;
    })();
    expect(invalid).toBeInstanceOf(PoisonMessageError);
    expect(invalid!.reasons.length).toBeGreaterThan(1);
    expect(invalid!.reasons.join('\n')).toMatch(/amount/);
    const message = paymentMessage('consumer-parse-group', { accountId: 'acc-x' });
    expect(() => parseDelivery(sqsRecord({ body: message, groupId: 'acc-y' }))).toThrow(/MessageGroupId \(acc-y\) must equal accountId \(acc-x\)/);
  });
});
