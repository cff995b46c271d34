import { InvalidRoutesError } from './errors.js';

/** One destination of outbox events, chosen by event type (the OutboxRelay construct writes these). */
export interface OutboxRoute {
  /** Event types sent to this queue. */
  readonly eventTypes?: readonly string[];
  /** Or every event type starting with this prefix (`''` matches every type). */
  readonly eventTypePrefix?: string;
  /** Queue URL; a `.fifo` URL gets MessageGroupId = the item's group key and MessageDeduplicationId = the event id. */
  readonly queueUrl: string;
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
  return parsed.map((raw: unknown, index) => {
    const route = raw as Partial<OutboxRoute> | null;
    if (!route || typeof route.queueUrl !== 'string' || route.queueUrl === '') {
      throw new InvalidRoutesError(`OUTBOX_ROUTES[${index}] has no queueUrl`);
    }
    const byType = Array.isArray(route.eventTypes) && route.eventTypes.every((t) => typeof t === 'string' && t !== '');
    const byPrefix = typeof route.eventTypePrefix === 'string';
    if (byType === byPrefix) {
      throw new InvalidRoutesError(`OUTBOX_ROUTES[${index}] must have either eventTypes (non-empty strings) or eventTypePrefix`);
    }
    return byType
      ? { eventTypes: [...route.eventTypes!], queueUrl: route.queueUrl }
      : { eventTypePrefix: route.eventTypePrefix!, queueUrl: route.queueUrl };
  });
}

/** The queues an event type goes to: every route that names it or whose prefix it starts with (fan-out). */
export function destinationsFor(eventType: string, routes: readonly OutboxRoute[]): string[] {
  const urls = routes
    .filter((r) => (r.eventTypes ? r.eventTypes.includes(eventType) : eventType.startsWith(r.eventTypePrefix ?? '')))
    .map((r) => r.queueUrl);
  return [...new Set(urls)];
}
