import type { SQSRecord } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { parseDelivery, processLedgerBatch, type LedgerConsumerDeps } from '../../../lambdas/ledger/consumer.js';
import type { DeadLetterKind, DeadLetterSender } from '../../../lambdas/ledger/dead-letter.js';
import { PoisonMessageError, SequenceFencedError } from '../../../lambdas/ledger/errors.js';
import type { LoadedLedgerStrategy } from '../../../lambdas/ledger/strategies/index.js';
import type { PaymentDelivery } from '../../../lambdas/ledger/strategy.js';
import { InjectedFault, setFaultPlanForTests } from '../../../lambdas/shared/faults.js';
import { METRIC } from '../../../lambdas/shared/observability.js';
import { lambdaContext, paymentMessage, paymentRecord, sqsEvent, sqsRecord } from '../../fixtures/events.js';
import { recordingObservability } from '../../fixtures/observability.js';

/**
 * The ledger consumer when records fail (issue 11 #8, second part): each kind of failure is counted under its own
 * metric, only never-applicable messages reach the dead-letter port, log lines name the record they are about and
 * carry no key of an earlier record, and the chaos harness's mid-batch crash point ends the invocation.
 */

function strategyFailing(failures: Map<string, Error>): LoadedLedgerStrategy {
  return {
    name: 'atomic',
    apply: async (delivery: PaymentDelivery) => {
      const error = failures.get(delivery.messageId);
      if (error) throw error;
      return { status: 'applied', paymentId: delivery.message.paymentId, eventId: `evt_${delivery.message.idempotencyKey}`, balance: 1 };
    },
  };
}

function deadLetterPort(fail = false): DeadLetterSender & { sent: [string, DeadLetterKind][] } {
  const sent: [string, DeadLetterKind][] = [];
  return {
    sent,
    send: async (record: SQSRecord, kind: DeadLetterKind) => {
      if (fail) throw new Error('DLQ unreachable');
      sent.push([record.messageId, kind]);
      return { droppedAttributes: [] };
    },
  };
}

async function run(records: SQSRecord[], deps: Partial<LedgerConsumerDeps> & Pick<LedgerConsumerDeps, 'strategy'>, context = lambdaContext(60_000)) {
  const r = recordingObservability();
  const response = await processLedgerBatch(sqsEvent(...records), context, { observability: r.observability, ...deps });
  return { ...r, reported: response.batchItemFailures.map((f) => f.itemIdentifier) };
}

const record = (tag: string, accountId: string) => paymentRecord(paymentMessage(`consumer-failures-${tag}`, { accountId }));

afterEach(() => setFaultPlanForTests(null));

describe('ledger consumer: each failure under its own name', () => {
  it('counts a poison message as PoisonMessages only and a fenced one as FencedWithoutMarker only', async () => {
    const poison = sqsRecord({ body: '[]', groupId: 'only' });
    const fenced = record('only-fenced', 'only');
    const fencedStrategy = strategyFailing(new Map([[fenced.messageId, new SequenceFencedError(fenced.messageId, 'only', '1', '2')]]));

    const poisoned = await run([poison], { strategy: strategyFailing(new Map()), deadLetter: deadLetterPort() });
    const fencedRun = await run([fenced], { strategy: fencedStrategy, deadLetter: deadLetterPort() });

    expect(poisoned.published).toEqual([METRIC.PoisonMessages, METRIC.DeadLetteredAtOnce]);
    expect(fencedRun.published).toEqual([METRIC.FencedWithoutMarker, METRIC.DeadLetteredAtOnce]);
    // No attribute was dropped: the log line says nothing about dropped attributes.
    expect(poisoned.lines.find((l) => l.level === 'error')!.attributes).toEqual({
      messageId: poison.messageId,
      group: 'only',
      sequenceNumber: poison.attributes.SequenceNumber,
      reasons: ['Invalid input: expected object, received array'],
    });
  });

  it('never sends a retryable failure to the dead-letter port: it is reported for retry and holds its group', async () => {
    const [a1, a2] = [record('retry-1', 'rt'), record('retry-2', 'rt')];
    const deadLetter = deadLetterPort();

    const { reported, published } = await run([a1, a2], { strategy: strategyFailing(new Map([[a1.messageId, new Error('throttled')]])), deadLetter });

    expect(deadLetter.sent).toEqual([]);
    expect(reported).toEqual([a1.messageId, a2.messageId]);
    expect(published).toEqual([]);
  });

  it('names the record, its group, reasons and receive count when a never-applicable message is reported failed, and why the DLQ send failed', async () => {
    const poison = sqsRecord({ body: 'nope', groupId: 'nf', receiveCount: 4 });

    const { lines } = await run([poison], { strategy: strategyFailing(new Map()), deadLetter: deadLetterPort(true) });

    const errors = lines.filter((l) => l.level === 'error');
    expect(errors.map((l) => l.message)).toEqual([
      'Could not send to the dead-letter queue: reported failed instead',
      'Poison message: reported failed, it will dead-letter after maxReceiveCount',
    ]);
    expect(errors[0]!.attributes).toEqual({ messageId: poison.messageId, error: expect.objectContaining({ message: 'DLQ unreachable' }) });
    expect(errors[1]!.attributes).toEqual({ messageId: poison.messageId, group: 'nf', reasons: [expect.stringMatching(/not JSON/)], receiveCount: '4' });
  });
});

describe('ledger consumer: log lines belong to their record', () => {
  it("carries no key of an earlier record on a later record's failure, skip or deadline lines", async () => {
    // Prepare: a1 applies (keys appended), b1 fails, b2 is skipped behind it.
    const a1 = record('keys-a1', 'ka');
    const b1 = record('keys-b1', 'kb');
    const b2 = record('keys-b2', 'kb');

    const { lines } = await run([a1, b1, b2], { strategy: strategyFailing(new Map([[b1.messageId, new Error('throttled')]])) });

    const failure = lines.find((l) => l.message.startsWith('Payment failed'))!;
    const skipped = lines.find((l) => l.message.startsWith('Skipped'))!;
    expect(failure.keys).toEqual({});
    expect(skipped.keys).toEqual({});
  });
});

describe('ledger consumer: deadline edges', () => {
  it('runs the next record when exactly the margin is left, warns only when it stopped, and never without a context', async () => {
    const records = [record('edge-1', 'e1'), record('edge-2', 'e2')];
    const exactly = { ...lambdaContext(), getRemainingTimeInMillis: () => 1000 };
    const registered: unknown[] = [];
    const strategy = { ...strategyFailing(new Map()), registerLambdaContext: (c: unknown) => void registered.push(c) };

    const atMargin = await run(records, { strategy }, exactly);
    const single = await run(records.slice(0, 1), { strategy }, lambdaContext(10));
    const r = recordingObservability();
    await processLedgerBatch(sqsEvent(...records), undefined, { strategy, observability: r.observability });

    expect(atMargin.reported).toEqual([]);
    expect(single.lines.filter((l) => l.level === 'warn' || l.level === 'debug')).toEqual([]);
    expect(r.lines.filter((l) => l.level === 'warn')).toEqual([]);
    // A batch of one record never asks for the deadline; without a context there is none to register.
    expect(registered).toHaveLength(2);
  });

  it('logs each record not started for the deadline as such', async () => {
    const records = [record('late-1', 'l1'), record('late-2', 'l2')];
    const { lines } = await run(records, { strategy: strategyFailing(new Map()) }, lambdaContext(5));
    expect(lines.filter((l) => l.level === 'debug')).toEqual([
      {
        level: 'debug',
        message: 'Not started: the invocation is close to its timeout, reported for retry',
        attributes: { messageId: records[1]!.messageId, group: 'l2' },
        keys: {},
      },
    ]);
  });
});

describe('ledger consumer: the chaos mid-batch crash point', () => {
  it('ends the invocation between two records when the fault plan fires at ledger.midBatch, after the first was applied', async () => {
    setFaultPlanForTests({ seed: 1, faults: { 'ledger.midBatch': 1 } });
    const records = [record('mid-1', 'm1'), record('mid-2', 'm2')];
    const applied: string[] = [];
    const strategy = strategyFailing(new Map());
    const apply = strategy.apply.bind(strategy);
    strategy.apply = async (d) => {
      applied.push(d.messageId);
      return apply(d);
    };
    const r = recordingObservability();

    await expect(processLedgerBatch(sqsEvent(...records), undefined, { strategy, observability: r.observability })).rejects.toThrow(InjectedFault);
    expect(applied).toEqual([records[0]!.messageId]);
  });
});

describe('parseDelivery errors keep their cause and say how to fix the producer', () => {
  it('keeps the JSON or schema error as cause, and names the fix for a group that is not the account', () => {
    const caught = (record: SQSRecord) => {
      try {
        parseDelivery(record);
      } catch (error) {
        return error as PoisonMessageError;
      }
      throw new Error('expected a PoisonMessageError');
    };
    expect(caught(sqsRecord({ body: '{' })).cause).toBeInstanceOf(SyntaxError);
    expect((caught(sqsRecord({ body: { amount: 'x' } })).cause as Error).name).toMatch(/ZodError/);
    const message = paymentMessage('consumer-failures-group', { accountId: 'acc-1' });
    expect(caught(sqsRecord({ body: message, groupId: 'acc-2' })).message).toMatch(
      /the producer must send each payment with MessageGroupId = accountId, or order per account and the sequence fence do not hold/,
    );
  });
});
