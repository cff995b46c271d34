import type { OutboxEventRegistration } from '../relay/registration.js';
import { PAYMENT_EVENT_TYPES, PaymentEventSchema, type PaymentEvent } from './payments-model.js';

/** The payments ledger's outbox events, registered with the relay (lambdas/relay/event-schemas.ts). */
export const PAYMENT_OUTBOX_EVENTS: OutboxEventRegistration = {
  owner: 'ledger',
  eventTypes: PAYMENT_EVENT_TYPES,
  schema: PaymentEventSchema,
  // Ledger outbox items written before the shared format carry the account in the event only.
  groupKey: (payload) => (payload as PaymentEvent).accountId,
};
