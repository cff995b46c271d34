import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

/**
 * The payment contract shared by the API, the ledger consumer, the relay, the notifier, the local demo, the chaos
 * harness and the benchmarks. Schemas are zod so the API (Powertools parser, through Standard Schema) and the
 * consumers validate the same way.
 *
 * They are written with `zod/mini` (zod v4's tree-shakable functional API, same package), not the classic `z`
 * namespace: classic zod is ~445 KB of each handler bundle and ~25 ms of CPU at import, mini ~16 KB and ~4 ms
 * (BENCHMARKS.md, "zod probe"), which is most of the handlers' init time above a bare SDK handler. Accepted inputs,
 * rejected inputs and error messages are the same as with classic zod (test/lambdas/shared/payments-model.test.ts).
 */

// zod/mini loads no locale, so issues without a custom message would read "Invalid input". Classic zod registers
// English on first use; doing the same here keeps the messages the API returns and the consumers log unchanged.
// Importing the one locale module (not `z.locales`) keeps the other locales out of the bundles.
z.config(en());

/** ISO 4217 currencies the ledger accepts. */
export const CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'CHF', 'CAD', 'AUD', 'SEK', 'NOK', 'DKK'] as const;

/** Largest absolute amount in minor units (10^12 = ten billion in a 2-decimal currency): far inside 2^53. */
export const MAX_ABS_AMOUNT = 1_000_000_000_000;

/** Idempotency-Key: 8–128 characters from a URL- and log-safe alphabet. */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * The key a payment message carries: a client's Idempotency-Key, scoped to its caller by the API
 * (`<16 hex>.<key>`, up to 145 characters), or a producer's own key of the same alphabet.
 */
export const MESSAGE_KEY_PATTERN = /^[A-Za-z0-9._:-]{8,145}$/;

/** Account id: 1–64 characters of A-Z, a-z, 0-9, _ or - (path parameter of `GET /accounts/{accountId}`, FIFO group). */
export const AccountId = z
  .string()
  .check(z.regex(/^[A-Za-z0-9_-]{1,64}$/, 'accountId must be 1-64 characters of A-Z, a-z, 0-9, _ or -'));

/** Body of `POST /payments`. */
export const PaymentRequestSchema = z.strictObject({
  accountId: AccountId,
  amount: z
    .number({ error: 'amount must be an integer number of minor units' })
    .check(
      z.int('amount must be an integer number of minor units (no fractions)'),
      z.refine((n) => n !== 0, 'amount must not be zero (credit > 0, debit < 0)'),
      z.refine((n) => Math.abs(n) <= MAX_ABS_AMOUNT, `amount must be between -${MAX_ABS_AMOUNT} and ${MAX_ABS_AMOUNT}`),
    ),
  currency: z.enum(CURRENCIES, { error: `currency must be one of ${CURRENCIES.join(', ')}` }),
  reference: z.optional(z.string().check(z.maxLength(140, 'reference must be at most 140 characters'))),
});
export type PaymentRequest = z.infer<typeof PaymentRequestSchema>;

/** Message on the payments FIFO queue (group = accountId). */
export const PaymentMessageSchema = z.extend(PaymentRequestSchema, {
  paymentId: z.string().check(z.minLength(1)),
  idempotencyKey: z.string().check(z.regex(MESSAGE_KEY_PATTERN)),
  requestedAt: z.iso.datetime(),
});
export type PaymentMessage = z.infer<typeof PaymentMessageSchema>;

export const PAYMENT_EVENT_TYPES = ['PaymentApplied', 'PaymentRejected'] as const;
export type PaymentEventType = (typeof PAYMENT_EVENT_TYPES)[number];

/** Outbox event, relayed downstream and delivered to the webhook. */
export const PaymentEventSchema = z.strictObject({
  eventId: z.string().check(z.minLength(1)),
  eventType: z.enum(PAYMENT_EVENT_TYPES),
  paymentId: z.string().check(z.minLength(1)),
  idempotencyKey: z.string(),
  accountId: AccountId,
  amount: z.number().check(z.int()),
  currency: z.enum(CURRENCIES),
  /** Balance after this payment (unchanged for a rejection). */
  balance: z.number().check(z.int()),
  /** Why a payment was rejected, for PaymentRejected. */
  reason: z.optional(z.enum(['INSUFFICIENT_FUNDS', 'CURRENCY_MISMATCH'])),
  occurredAt: z.iso.datetime(),
});
export type PaymentEvent = z.infer<typeof PaymentEventSchema>;

/** Deterministic payment id from the producer's key: a retried request always names the same payment. */
export function paymentIdFor(idempotencyKey: string): string {
  return `pay_${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 26)}`;
}

/** Stable event id for a payment's outcome: one payment yields exactly one event, whatever the retries. */
export function eventIdFor(paymentId: string): string {
  return `evt_${paymentId.replace(/^pay_/, '')}`;
}

/** SQS FIFO MessageDeduplicationId from the key (≤ 128 chars, hashed so any allowed key fits). */
export function deduplicationIdFor(idempotencyKey: string): string {
  return createHash('sha256').update(idempotencyKey).digest('hex');
}
