import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  AccountId,
  CURRENCIES,
  PaymentEventSchema,
  PaymentMessageSchema,
  PaymentRequestSchema,
  type PaymentEvent,
  type PaymentMessage,
  type PaymentRequest,
} from '../../../lambdas/shared/payments-model.js';
import { listHandlers, VARIANTS } from '../../../scripts/bench/bundles.js';

/**
 * The shared schemas are written with zod/mini to keep classic zod out of the handler bundles (init time). These
 * tests pin what the move must not change: the inputs accepted and rejected, the exact messages (the API returns them
 * as 400 field messages, the consumers log them), the inferred types — and that no handler bundle pulls classic zod.
 */

const REQUEST = { accountId: 'acc-1', amount: 100, currency: 'EUR' };
const MESSAGE = { ...REQUEST, paymentId: 'pay_1', idempotencyKey: 'key-12345678', requestedAt: '2026-11-26T10:00:00.000Z' };
const EVENT = {
  eventId: 'evt_1',
  eventType: 'PaymentApplied',
  paymentId: 'pay_1',
  idempotencyKey: 'key-12345678',
  accountId: 'acc-1',
  amount: 100,
  currency: 'EUR',
  balance: 100,
  occurredAt: '2026-11-26T10:00:00.000Z',
};

/** `path: message` of each issue, as the API and the consumers format them. */
function messagesOf(schema: { safeParse(input: unknown): { success: boolean; error?: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } } }, input: unknown): string[] {
  const result = schema.safeParse(input);
  return (result.error?.issues ?? []).map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`);
}

describe('PaymentRequestSchema', () => {
  it('accepts a credit, a debit at the limit and a reference of 140 characters', () => {
    // Prepare
    const inputs = [REQUEST, { ...REQUEST, amount: -1_000_000_000_000 }, { ...REQUEST, reference: 'r'.repeat(140) }];

    // Act
    const results = inputs.map((input) => PaymentRequestSchema.safeParse(input));

    // Assess
    expect(results.map((r) => r.success)).toEqual([true, true, true]);
    expect(results[2]!.data).toEqual({ ...REQUEST, reference: 'r'.repeat(140) });
  });

  it.each([
    [{ ...REQUEST, amount: 1.5 }, ['amount: amount must be an integer number of minor units (no fractions)']],
    [{ ...REQUEST, amount: 0 }, ['amount: amount must not be zero (credit > 0, debit < 0)']],
    [{ ...REQUEST, amount: 1_000_000_000_001 }, ['amount: amount must be between -1000000000000 and 1000000000000']],
    [
      { ...REQUEST, amount: 2 ** 60 },
      ['amount: amount must be an integer number of minor units (no fractions)', 'amount: amount must be between -1000000000000 and 1000000000000'],
    ],
    [{ ...REQUEST, amount: '100' }, ['amount: amount must be an integer number of minor units']],
    [{ ...REQUEST, currency: 'XXX' }, [`currency: currency must be one of ${CURRENCIES.join(', ')}`]],
    [{ accountId: 'acc-1', amount: 100 }, [`currency: currency must be one of ${CURRENCIES.join(', ')}`]],
    [{ ...REQUEST, accountId: 'bad id' }, ['accountId: accountId must be 1-64 characters of A-Z, a-z, 0-9, _ or -']],
    [{ ...REQUEST, reference: 'r'.repeat(141) }, ['reference: reference must be at most 140 characters']],
  ])('rejects %j with the API field messages %j', (input, expected) => {
    // Act
    const messages = messagesOf(PaymentRequestSchema, input);

    // Assess
    expect(messages).toEqual(expected);
  });

  it('rejects wrong types and unknown keys with zod\'s English default messages (the locale zod/mini does not load by itself)', () => {
    // Act
    const messages = messagesOf(PaymentRequestSchema, { accountId: 5, amount: 1, currency: 'EUR', reference: null, note: 'x', other: 1 });

    // Assess
    expect(messages).toEqual([
      'accountId: Invalid input: expected string, received number',
      'reference: Invalid input: expected string, received null',
      ': Unrecognized keys: "note", "other"',
    ]);
  });

  it('rejects through Standard Schema (the Powertools parser path) with the same issues as safeParse', () => {
    // Prepare
    const input = { ...REQUEST, amount: 0.5, currency: 'eur', extra: true };

    // Act
    const standard = PaymentRequestSchema['~standard'].validate(input);

    // Assess
    expect(standard).not.toBeInstanceOf(Promise);
    const issues = (standard as { issues?: readonly { path?: readonly PropertyKey[]; message: string }[] }).issues ?? [];
    expect(issues.map((i) => `${(i.path ?? []).map(String).join('.')}: ${i.message}`)).toEqual(messagesOf(PaymentRequestSchema, input));
    expect(issues.map((i) => i.message)).toEqual([
      'amount must be an integer number of minor units (no fractions)',
      `currency must be one of ${CURRENCIES.join(', ')}`,
      'Unrecognized key: "extra"',
    ]);
  });

  it('infers the same PaymentRequest type as before (reference optional)', () => {
    expectTypeOf<PaymentRequest>().toEqualTypeOf<{
      accountId: string;
      amount: number;
      currency: (typeof CURRENCIES)[number];
      reference?: string | undefined;
    }>();
  });
});

describe('PaymentMessageSchema', () => {
  it('accepts a message and keeps the request fields strict', () => {
    // Act
    const ok = PaymentMessageSchema.safeParse(MESSAGE);
    const extra = messagesOf(PaymentMessageSchema, { ...MESSAGE, extra: 1 });

    // Assess
    expect(ok.success).toBe(true);
    expect(extra).toEqual([': Unrecognized key: "extra"']);
  });

  it.each([
    [{ ...MESSAGE, requestedAt: '2026-11-26' }, ['requestedAt: Invalid ISO datetime']],
    [{ ...MESSAGE, requestedAt: '2026-11-26T10:00:00+01:00' }, ['requestedAt: Invalid ISO datetime']],
    [{ ...MESSAGE, idempotencyKey: 'short' }, ['idempotencyKey: Invalid string: must match pattern /^[A-Za-z0-9._:-]{8,145}$/']],
    [{ ...MESSAGE, paymentId: '' }, ['paymentId: Too small: expected string to have >=1 characters']],
    [REQUEST, [
      'paymentId: Invalid input: expected string, received undefined',
      'idempotencyKey: Invalid input: expected string, received undefined',
      'requestedAt: Invalid input: expected string, received undefined',
    ]],
  ])('rejects %j with %j', (input, expected) => {
    expect(messagesOf(PaymentMessageSchema, input)).toEqual(expected);
  });

  it('infers PaymentMessage as the request plus paymentId, idempotencyKey and requestedAt', () => {
    expectTypeOf<PaymentMessage>().toEqualTypeOf<{
      accountId: string;
      amount: number;
      currency: (typeof CURRENCIES)[number];
      reference?: string | undefined;
      paymentId: string;
      idempotencyKey: string;
      requestedAt: string;
    }>();
  });
});

describe('PaymentEventSchema', () => {
  it('accepts an applied event and a rejected one with its reason', () => {
    // Act
    const applied = PaymentEventSchema.safeParse(EVENT);
    const rejected = PaymentEventSchema.safeParse({ ...EVENT, eventType: 'PaymentRejected', reason: 'INSUFFICIENT_FUNDS' });

    // Assess
    expect([applied.success, rejected.success]).toEqual([true, true]);
    expect(rejected.data?.reason).toBe('INSUFFICIENT_FUNDS');
  });

  it.each([
    [{ ...EVENT, amount: 1.5 }, ['amount: Invalid input: expected int, received number']],
    [{ ...EVENT, balance: '1' }, ['balance: Invalid input: expected number, received string']],
    [{ ...EVENT, eventType: 'Other' }, ['eventType: Invalid option: expected one of "PaymentApplied"|"PaymentRejected"']],
    [{ ...EVENT, reason: 'X' }, ['reason: Invalid option: expected one of "INSUFFICIENT_FUNDS"|"CURRENCY_MISMATCH"']],
    [{ ...EVENT, eventId: '' }, ['eventId: Too small: expected string to have >=1 characters']],
    [{ ...EVENT, occurredAt: 'nope' }, ['occurredAt: Invalid ISO datetime']],
    [{ ...EVENT, extra: 1 }, [': Unrecognized key: "extra"']],
  ])('rejects %j with %j', (input, expected) => {
    expect(messagesOf(PaymentEventSchema, input)).toEqual(expected);
  });

  it('infers PaymentEvent with an optional reason', () => {
    expectTypeOf<PaymentEvent['reason']>().toEqualTypeOf<'INSUFFICIENT_FUNDS' | 'CURRENCY_MISMATCH' | undefined>();
    expectTypeOf<PaymentEvent['eventType']>().toEqualTypeOf<'PaymentApplied' | 'PaymentRejected'>();
  });
});

describe('AccountId', () => {
  it('rejects 65 characters with the path-parameter message', () => {
    expect(AccountId.safeParse('a'.repeat(64)).success).toBe(true);
    expect(AccountId.safeParse('a'.repeat(65)).error?.issues[0]?.message).toBe('accountId must be 1-64 characters of A-Z, a-z, 0-9, _ or -');
  });
});

describe('handler bundles', () => {
  it('of the payments pipeline contain zod/mini and no classic zod (node_modules/zod/v4/classic) nor other locales than English', async () => {
    // Prepare
    // The payments pipeline's handlers. Consumers generated by `npm run new` are their owners' choice, so not listed.
    const root = join(import.meta.dirname, '..', '..', '..');
    const handlers = ['create-payment', 'get-account', 'ledger', 'notifier', 'relay'];

    // Act: bundle each handler with the stack's esbuild options, keeping only the metafile.
    const inputs = await Promise.all(
      handlers.map(async (name) => {
        const result = await build({
          ...VARIANTS[0]!.options,
          absWorkingDir: root,
          entryPoints: [join('lambdas', name, 'handler.ts')],
          outfile: join(root, '.bench', 'zod-check', name, 'index.mjs'),
          metafile: true,
          write: false,
        });
        // Inputs that contribute code (a re-export barrel esbuild visits but drops shows up with 0 bytes).
        const contributing = Object.values(result.metafile.outputs).flatMap((o) => Object.entries(o.inputs).filter(([, i]) => i.bytesInOutput > 0));
        return { name, paths: contributing.map(([path]) => path) };
      }),
    );

    // Assess
    expect(listHandlers(root)).toEqual(expect.arrayContaining(handlers));
    for (const { name, paths } of inputs) {
      const zod = paths.filter((p) => p.includes('node_modules/zod/'));
      expect({ name, classic: zod.filter((p) => p.includes('/v4/classic/')) }).toEqual({ name, classic: [] });
      // The locales barrel may remain as an empty namespace stub; what matters is that no locale module but en.js is in.
      const locales = zod.filter((p) => p.includes('/v4/locales/') && !p.endsWith('/locales/index.js'));
      expect({ name, locales }).toEqual({ name, locales: ['node_modules/zod/v4/locales/en.js'] });
      expect(zod.some((p) => p.includes('/v4/mini/'))).toBe(true);
    }
  });
});
