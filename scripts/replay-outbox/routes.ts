import { PAYMENT_EVENT_TYPES } from '../../lambdas/shared/payments-model.js';
import { LOYALTY_POINTS_AWARDED } from '../../lambdas/loyalty/events.js';
import type { OutboxRoute } from '../../lambdas/relay/routes.js';
import { OUTBOX_EVENTS } from '../../lambdas/relay/event-schemas.js';
import { ReplayUsageError } from './errors.js';

/**
 * The stack's routes rebuilt from its outputs: the payments example's (payment events to EventsQueueUrl and, for
 * PaymentApplied, LoyaltyQueueUrl; LoyaltyPointsAwarded to LoyaltyEventsQueueUrl) and, for every other registered
 * type `<Name>Recorded` of a generated consumer, `<Name>EventsQueueUrl`. Types without an output are left out
 * (the report names them).
 */
export function routesFromOutputs(output: (key: string) => string | undefined): { routes: OutboxRoute[]; unrouted: string[] } {
  const routes: OutboxRoute[] = [];
  const add = (eventTypes: readonly string[], key: string) => {
    const queueUrl = output(key);
    if (queueUrl) routes.push({ eventTypes: [...eventTypes], queueUrl });
  };
  add(PAYMENT_EVENT_TYPES, 'EventsQueueUrl');
  add(['PaymentApplied'], 'LoyaltyQueueUrl');
  add([LOYALTY_POINTS_AWARDED], 'LoyaltyEventsQueueUrl');
  const known = new Set<string>([...PAYMENT_EVENT_TYPES, LOYALTY_POINTS_AWARDED]);
  const unrouted: string[] = [];
  for (const type of OUTBOX_EVENTS.flatMap((r) => r.eventTypes)) {
    if (known.has(type)) continue;
    const match = /^(.+)Recorded$/.exec(type);
    const queueUrl = match ? output(`${match[1]}EventsQueueUrl`) : undefined;
    if (queueUrl) routes.push({ eventTypes: [type], queueUrl });
    else unrouted.push(type);
  }
  return { routes, unrouted };
}

/** Resolves `--queue` (a URL or an output key) into a catch-all route. */
export function singleQueueRoute(queue: string, output: (key: string) => string | undefined): OutboxRoute[] {
  const url = /^https?:\/\//.test(queue) ? queue : output(queue);
  if (!url) throw new ReplayUsageError(`--queue ${queue} is neither a queue URL nor an output of the stack`);
  return [{ eventTypePrefix: '', queueUrl: url }];
}
