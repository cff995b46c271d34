import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { formatIssues } from '../shared/errors.js';
import { tenantGroupId } from '../shared/fair-queue.js';
import { registrationFor, type OutboxEventRegistration } from './registration.js';
import { destinationsFor, type OutboxRoute } from './routes.js';

/** SendMessageBatch carries at most 10 entries. */
export const SQS_BATCH_LIMIT = 10;

/** An outbox event checked against its schema and routed, ready to publish. */
export interface RelayEvent {
  readonly eventId: string;
  readonly eventType: string;
  /** FIFO MessageGroupId on a `.fifo` destination. */
  readonly groupKey: string;
  /** The message body: the event's JSON, as stored. */
  readonly body: string;
  /** The parsed payload (validated). */
  readonly payload: unknown;
  /** Queue URLs the routes give its type. */
  readonly destinations: readonly string[];
  /** MessageGroupId per fair-queue destination (queue URL → the body's tenant-key field); `{}` when none is fair. */
  readonly tenantGroupIds: Readonly<Record<string, string>>;
  /** True when it comes from an `OUTBOX#` item (which the relay marks); false for an event carried on an entity item. */
  readonly fromOutbox: boolean;
}

/** The raw parts of an event as an outbox item (or an entity's `lastEvent`) holds them. */
export interface RawOutboxEvent {
  readonly eventId?: string;
  readonly eventType?: string;
  readonly groupKey?: string;
  readonly payload?: string;
  readonly fromOutbox: boolean;
}

/** Why an event cannot be published, ever (retrying will not help): the reasons, and the event id when known. */
export interface EventRejection {
  readonly eventId?: string;
  readonly reasons: string[];
}

/**
 * Checks an outbox event: JSON payload, a schema registered for its type that the payload passes, a route for its
 * type. The item's `eventId` / `eventType` win; the payload's are used for items written before the shared format.
 * @returns the event, or the reasons it can never be published.
 */
export function checkEvent(
  raw: RawOutboxEvent,
  registry: readonly OutboxEventRegistration[],
  routes: readonly OutboxRoute[],
): RelayEvent | EventRejection {
  const eventIdHint = raw.eventId;
  if (raw.payload === undefined) return { eventId: eventIdHint, reasons: ['no `event` attribute (the event JSON)'] };
  let payload: unknown;
  try {
    payload = JSON.parse(raw.payload);
  } catch (error) {
    return { eventId: eventIdHint, reasons: [`event is not JSON (${(error as Error).message})`] };
  }
  const fromPayload = (payload ?? {}) as { eventId?: unknown; eventType?: unknown };
  const eventId = raw.eventId ?? (typeof fromPayload.eventId === 'string' ? fromPayload.eventId : undefined);
  const eventType = raw.eventType ?? (typeof fromPayload.eventType === 'string' ? fromPayload.eventType : undefined);
  if (!eventId) return { reasons: ['no eventId on the item or in the event'] };
  if (!eventType) return { eventId, reasons: ['no eventType on the item or in the event'] };
  const registration = registrationFor(eventType, registry);
  if (!registration) {
    return {
      eventId,
      reasons: [`no schema registered for event type "${eventType}": register it in lambdas/relay/event-schemas.ts (OUTBOX_EVENTS)`],
    };
  }
  const parsed = registration.schema.safeParse(payload);
  if (!parsed.success) return { eventId, reasons: formatIssues(parsed.error.issues).map((r) => `${eventType} schema (${registration.owner}): ${r}`) };
  const destinations = destinationsFor(eventType, routes);
  if (destinations.length === 0) {
    return { eventId, reasons: [`no route for event type "${eventType}": add one to the OutboxRelay construct (routes / addRoute)`] };
  }
  const tenantGroupIds: Record<string, string> = {};
  for (const route of routes) {
    if (route.tenantKey === undefined || !destinations.includes(route.queueUrl)) continue;
    try {
      tenantGroupIds[route.queueUrl] = tenantGroupId(fromPayload as Record<string, unknown>, route.tenantKey);
    } catch (error) {
      return { eventId, reasons: [`fair queue ${route.queueUrl}: ${(error as Error).message}`] };
    }
  }
  const groupKey = raw.groupKey ?? registration.groupKey?.(parsed.data) ?? eventId;
  return { eventId, eventType, groupKey, body: raw.payload, payload: parsed.data, destinations, tenantGroupIds, fromOutbox: raw.fromOutbox };
}

/** True when {@link checkEvent} accepted the event. */
export function isRelayEvent(checked: RelayEvent | EventRejection): checked is RelayEvent {
  return 'destinations' in checked;
}

/** Outcome of {@link publishEvents}. */
export interface PublishResult {
  /** Events every destination accepted. */
  readonly published: RelayEvent[];
  /** Events at least one destination did not accept (or that were held back), with why. */
  readonly failed: { readonly event: RelayEvent; readonly reason: string }[];
}

/**
 * Publishes events to their destinations with SendMessageBatch (chunks of 10 per queue). Each message carries the
 * `eventType` and `eventId` message attributes; on a `.fifo` queue MessageGroupId = the group key and
 * MessageDeduplicationId = the event id; on a fair queue (a standard queue whose route has a tenant key)
 * MessageGroupId = the tenant. On a FIFO queue a group whose entry failed sends nothing more in this call,
 * so a group's later events cannot overtake the failed one (they are reported failed too and retried with it).
 */
export async function publishEvents(events: readonly RelayEvent[], sqs: Pick<SQSClient, 'send'>): Promise<PublishResult> {
  const failures = new Map<string, string>();
  const byQueue = new Map<string, RelayEvent[]>();
  for (const event of events) {
    for (const url of event.destinations) byQueue.set(url, [...(byQueue.get(url) ?? []), event]);
  }
  await Promise.all(
    [...byQueue].map(async ([queueUrl, queued]) => {
      const fifo = queueUrl.endsWith('.fifo');
      const blocked = new Set<string>();
      for (let start = 0; start < queued.length; start += SQS_BATCH_LIMIT) {
        const chunk = queued.slice(start, start + SQS_BATCH_LIMIT).filter((event) => {
          if (!fifo || !blocked.has(event.groupKey)) return true;
          failures.set(event.eventId, `not sent to ${queueUrl}: an earlier event of group ${event.groupKey} failed (FIFO order)`);
          return false;
        });
        if (chunk.length === 0) continue;
        const entries: SendMessageBatchRequestEntry[] = chunk.map((event, index) => ({
          Id: String(index),
          MessageBody: event.body,
          MessageAttributes: {
            eventType: { DataType: 'String', StringValue: event.eventType },
            eventId: { DataType: 'String', StringValue: event.eventId },
          },
          ...(fifo ? { MessageGroupId: event.groupKey, MessageDeduplicationId: event.eventId } : tenantOf(event, queueUrl)),
        }));
        const failed = new Map<number, string>();
        try {
          const response = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
          for (const f of response.Failed ?? []) failed.set(Number(f.Id), `${f.Code ?? 'Failed'}: ${f.Message ?? ''}`.trim());
        } catch (error) {
          chunk.forEach((_, index) => failed.set(index, `SendMessageBatch failed: ${(error as Error).message}`));
        }
        for (const [index, reason] of failed) {
          const event = chunk[index]!;
          failures.set(event.eventId, `${queueUrl}: ${reason}`);
          blocked.add(event.groupKey);
        }
      }
    }),
  );
  const result: PublishResult = { published: [], failed: [] };
  for (const event of events) {
    const reason = failures.get(event.eventId);
    if (reason === undefined) result.published.push(event);
    else result.failed.push({ event, reason });
  }
  return result;
}

/** The fair-queue MessageGroupId of an event on a standard queue, or nothing when the queue is not a fair queue. */
function tenantOf(event: RelayEvent, queueUrl: string): { MessageGroupId?: string } {
  const tenant = event.tenantGroupIds[queueUrl];
  return tenant === undefined ? {} : { MessageGroupId: tenant };
}
