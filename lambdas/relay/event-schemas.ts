import { LOYALTY_OUTBOX_EVENTS } from '../loyalty/events.js';
import { PAYMENT_OUTBOX_EVENTS } from '../shared/payments-outbox.js';
import type { OutboxEventRegistration } from './registration.js';
// scaffold:event-imports — `npm run new -- consumer <name> … --outbox` adds one import above this line.

export type { OutboxEventRegistration, OutboxEventSchema } from './registration.js';

/**
 * Every event type the relay (and the sweeper) accepts, each registered by the consumer that owns it with the schema
 * its payload must pass. An outbox event of a type listed nowhere is rejected with the reason "no schema registered",
 * never published unchecked.
 */
export const OUTBOX_EVENTS: readonly OutboxEventRegistration[] = [
  PAYMENT_OUTBOX_EVENTS,
  LOYALTY_OUTBOX_EVENTS,
  // scaffold:event-schemas — `npm run new` adds one entry above this line.
];
