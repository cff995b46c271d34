import { describe, expect, it } from 'vitest';
import { compareSequence, decide, emptyAccount, paymentEvent, type Account } from '../../../lambdas/ledger/ledger.js';
import { processFifoBatch } from '../../../lambdas/shared/fifo-batch.js';
import { PaymentEventSchema } from '../../../lambdas/shared/payments-model.js';
import { paymentMessage, sqsRecord } from '../../fixtures/events.js';

const funded: Account = { ...emptyAccount('acc'), balance: 100, currency: 'EUR', version: 3, exists: true };

describe('decide', () => {
  it('applies a credit to a new account', () => {
    expect(decide(emptyAccount('acc'), paymentMessage('key-00000001', { amount: 5 }))).toEqual({ outcome: 'applied', balance: 5 });
  });

  it('applies a debit down to exactly zero', () => {
    expect(decide(funded, paymentMessage('key-00000002', { amount: -100 }))).toEqual({ outcome: 'applied', balance: 0 });
  });

  it('rejects a debit that would overdraw, keeping the balance', () => {
    expect(decide(funded, paymentMessage('key-00000003', { amount: -101 }))).toEqual({
      outcome: 'rejected',
      balance: 100,
      reason: 'INSUFFICIENT_FUNDS',
    });
  });

  it('rejects a payment in another currency than the account', () => {
    expect(decide(funded, paymentMessage('key-00000004', { amount: 1, currency: 'USD' }))).toMatchObject({
      outcome: 'rejected',
      reason: 'CURRENCY_MISMATCH',
    });
  });

  it('builds an event that satisfies the shared schema', () => {
    const message = paymentMessage('key-00000005', { amount: -101 });
    const event = paymentEvent(message, decide(funded, message), new Date());
    expect(PaymentEventSchema.parse(event)).toMatchObject({ eventType: 'PaymentRejected', reason: 'INSUFFICIENT_FUNDS' });
  });
});

describe('compareSequence', () => {
  it('compares 20-digit SQS sequence numbers beyond 2^53 exactly', () => {
    expect(compareSequence('18446744073709551615', '18446744073709551614')).toBe(1);
    expect(compareSequence('00000000000000000009', '10')).toBe(-1);
    expect(compareSequence('42', '00042')).toBe(0);
  });
});

describe('processFifoBatch', () => {
  it('fails standard-queue records (no group) independently', async () => {
    const records = [1, 2, 3].map((i) => sqsRecord({ body: String(i) }));
    const response = await processFifoBatch(records, async (r) => {
      if (r.body === '1') throw new Error('boom');
    });
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: records[0]!.messageId }]);
  });

  it('stops a group at a retryable failure but lets it go on past a permanent one (poison)', async () => {
    // Prepare: group g = [retryable failure, later]; group p = [poison, later].
    const records = [
      sqsRecord({ body: 'retry', groupId: 'g' }),
      sqsRecord({ body: 'g-later', groupId: 'g' }),
      sqsRecord({ body: 'poison', groupId: 'p' }),
      sqsRecord({ body: 'p-later', groupId: 'p' }),
    ];
    const done: string[] = [];
    // Act
    const response = await processFifoBatch(
      records,
      async (r) => {
        if (r.body === 'retry') throw new Error('throttled');
        if (r.body === 'poison') throw new SyntaxError('not a payment');
        done.push(r.body);
      },
      { isPermanent: (e) => e instanceof SyntaxError },
    );
    // Assess
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([records[0]!.messageId, records[1]!.messageId, records[2]!.messageId]);
    expect(done).toEqual(['p-later']);
  });

  it('rethrows a fatal error so the whole invocation fails like a crash', async () => {
    const records = [sqsRecord({ body: 'a', groupId: 'g' }), sqsRecord({ body: 'b', groupId: 'h' })];
    await expect(
      processFifoBatch(records, async () => Promise.reject(new RangeError('crash')), { isFatal: (e) => e instanceof RangeError }),
    ).rejects.toThrow('crash');
  });

  it('calls betweenRecords before every record but the first, so a mid-batch crash leaves the first one done', async () => {
    const done: string[] = [];
    const records = [sqsRecord({ body: 'a', groupId: 'g' }), sqsRecord({ body: 'b', groupId: 'g' })];
    await expect(
      processFifoBatch(records, async (r) => void done.push(r.body), {
        betweenRecords: () => {
          throw new RangeError('mid-batch crash');
        },
        isFatal: () => true,
      }),
    ).rejects.toThrow('mid-batch crash');
    expect(done).toEqual(['a']);
  });
});
