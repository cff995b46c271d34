import { TENANT_KEY_PATTERN } from '../shared/fair-queue.js';
import { InvalidRoutesError } from './errors.js';

/** One destination of outbox events, chosen by event type (the OutboxRelay construct writes these). */
export interface OutboxRoute {
  /** Event types sent to this queue. */
  readonly eventTypes?: readonly string[];
  /** Or every event type starting with this prefix (`''` matches every type). */
  readonly eventTypePrefix?: string;
  /**
   * Queue URL; a `.fifo` URL gets MessageGroupId = the item's group key and MessageDeduplicationId = the event id, a
   * fair queue (with `tenantKey`) MessageGroupId = the tenant.
   */
  readonly queueUrl: string;
  /**
   * On a standard queue that is an SQS fair queue: the top-level body field whose value is sent as MessageGroupId
   * (the tenant, `tenantGroupId` in lambdas/shared/fair-queue.ts).
   */
  readonly tenantKey?: string;
}

/**
 * Parses the relay's routes from `OUTBOX_ROUTES` (JSON), or builds the single catch-all route of an older stack
 * that only sets `EVENTS_QUEUE_URL`.
 * @throws InvalidRoutesError naming the problem when the JSON is malformed or a route has no queue or no selector.
 */
export function parseRoutes(json: string | undefined, fallbackQueueUrl?: string): OutboxRoute[] {
  if (json === undefined || json === '') {
    if (fallbackQueueUrl) return [{ eventTypePrefix: '', queueUrl: fallbackQueueUrl }];
    throw new InvalidRoutesError('OUTBOX_ROUTES is unset and so is EVENTS_QUEUE_URL: give the OutboxRelay construct routes');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new InvalidRoutesError(`OUTBOX_ROUTES is not JSON (${(error as Error).message})`, { cause: error });
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw new InvalidRoutesError(`OUTBOX_ROUTES (${json.slice(0, 200)}) must be a non-empty array of routes`);
  }
  const routes = parsed.map((raw: unknown, index): OutboxRoute => {
    const route = raw as Partial<OutboxRoute> | null;
    if (!route || typeof route.queueUrl !== 'string' || route.queueUrl === '') {
      throw new InvalidRoutesError(`OUTBOX_ROUTES[${index}] has no queueUrl`);
    }
    const byType = Array.isArray(route.eventTypes) && route.eventTypes.every((t) => typeof t === 'string' && t !== '');
    const byPrefix = typeof route.eventTypePrefix === 'string';
    if (byType === byPrefix) {
      throw new InvalidRoutesError(`OUTBOX_ROUTES[${index}] must have either eventTypes (non-empty strings) or eventTypePrefix`);
    }
    if (route.tenantKey !== undefined && (typeof route.tenantKey !== 'string' || !TENANT_KEY_PATTERN.test(route.tenantKey))) {
      throw new InvalidRoutesError(
        `OUTBOX_ROUTES[${index}] tenantKey (${JSON.stringify(route.tenantKey)}) must name a top-level field of the message body, e.g. "accountId"`,
      );
    }
    if (route.tenantKey !== undefined && route.queueUrl.endsWith('.fifo')) {
      throw new InvalidRoutesError(
        `OUTBOX_ROUTES[${index}] has a tenantKey on a FIFO queue (${route.queueUrl}): fair-queue tenants apply to standard queues only`,
      );
    }
    const tenant = route.tenantKey === undefined ? {} : { tenantKey: route.tenantKey };
    return byType
      ? { eventTypes: [...route.eventTypes!], queueUrl: route.queueUrl, ...tenant }
      : { eventTypePrefix: route.eventTypePrefix!, queueUrl: route.queueUrl, ...tenant };
  });
  const keys = new Map<string, string | undefined>();
  for (const route of routes) {
    if (keys.has(route.queueUrl) && keys.get(route.queueUrl) !== route.tenantKey) {
      throw new InvalidRoutesError(
        `OUTBOX_ROUTES give ${route.queueUrl} two tenant keys (${String(keys.get(route.queueUrl))} and ${String(route.tenantKey)}): ` +
          'a fair queue has one tenant key; give every route to it the same one',
      );
    }
    keys.set(route.queueUrl, route.tenantKey);
  }
  return routes;
}

/** The queues an event type goes to: every route that names it or whose prefix it starts with (fan-out). */
export function destinationsFor(eventType: string, routes: readonly OutboxRoute[]): string[] {
  const urls = routes
    .filter((r) => (r.eventTypes ? r.eventTypes.includes(eventType) : eventType.startsWith(r.eventTypePrefix ?? '')))
    .map((r) => r.queueUrl);
  return [...new Set(urls)];
}
