import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import type { OutboxEventRegistration } from '../relay/registration.js';
import { AccountId } from '../shared/payments-model.js';

/** The event the loyalty consumer publishes through the outbox, once per payment event it awards points for. */
export const LOYALTY_POINTS_AWARDED = 'LoyaltyPointsAwarded';

/** Schema of {@link LOYALTY_POINTS_AWARDED} (the relay validates every one before it publishes it). */
export const LoyaltyPointsAwardedSchema = z.strictObject({
  eventId: z.string().check(z.minLength(1)),
  eventType: z.literal(LOYALTY_POINTS_AWARDED),
  /** The payment event that earned the points (the consumer's idempotency key). */
  paymentEventId: z.string().check(z.minLength(1)),
  accountId: AccountId,
  points: z.number().check(z.int(), z.positive()),
  occurredAt: z.iso.datetime(),
});
export type LoyaltyPointsAwarded = z.infer<typeof LoyaltyPointsAwardedSchema>;

/** The relay's registration of the loyalty consumer's events (lambdas/relay/event-schemas.ts lists it). */
export const LOYALTY_OUTBOX_EVENTS: OutboxEventRegistration = {
  owner: 'loyalty',
  eventTypes: [LOYALTY_POINTS_AWARDED],
  schema: LoyaltyPointsAwardedSchema,
};

/** Stable event id of the award for one payment event. */
export function loyaltyEventIdFor(paymentEventId: string): string {
  return `evt_loyalty_${createHash('sha256').update(paymentEventId).digest('hex').slice(0, 26)}`;
}
