import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { OutboxItem } from '../shared/atomic-idempotency/types.js';
import type { OutboxMarks } from '../relay/outbox-marks.js';
import { checkEvent, isRelayEvent, publishEvents, type RelayEvent } from '../relay/publish.js';
import type { OutboxEventRegistration } from '../relay/registration.js';
import type { OutboxRoute } from '../relay/routes.js';
import { findOutboxItems, type OutboxItemFilter } from './find-outbox-items.js';

/** Ports and settings of a sweep (or of an operator's replay). */
export interface SweepDeps {
  readonly dynamodb: Pick<DynamoDBClient, 'send'>;
  readonly sqs: Pick<SQSClient, 'send'>;
  readonly tableName: string;
  readonly routes: readonly OutboxRoute[];
  readonly registry: readonly OutboxEventRegistration[];
  readonly marks: OutboxMarks;
  /** Clock. @default () => new Date() */
  readonly now?: () => Date;
}

/** Outcome of one sweep or replay. */
export interface SweepResult {
  /** Items the scan returned (unpublished ones for a sweep). */
  readonly found: number;
  /** Items old enough to publish (the sweep's candidates, or every item found by a replay). */
  readonly candidates: OutboxItem[];
  /** Events published (or that would be, in a dry run). */
  readonly published: RelayEvent[];
  /** Events that can never be published, with the reasons (marked `rejectedAt` unless a dry run). */
  readonly rejected: { readonly eventId?: string; readonly reasons: readonly string[] }[];
  /** Events a destination did not accept: still unpublished, the next sweep tries again. */
  readonly failed: { readonly eventId: string; readonly reason: string }[];
  /**
   * Age in seconds of the oldest event still unpublished after this sweep (young ones included, 0 when none): the lag
   * the `OutboxLag` alarm watches.
   */
  readonly oldestUnpublishedAgeSeconds: number;
}

/**
 * Publishes outbox items. With `olderThanSeconds` (the sweeper): the unpublished, unrejected items older than that,
 * which the relay should have published long ago (a record it never received, a batch it gave up on). With a filter
 * (replay-outbox): the items it selects. Each event is checked and routed exactly as the relay does, published
 * (consumers dedup by event id, so a second publication is harmless), then marked `publishedAt`.
 */
export async function publishOutboxItems(
  deps: SweepDeps,
  options: { readonly olderThanSeconds?: number; readonly filter?: OutboxItemFilter; readonly dryRun?: boolean },
): Promise<SweepResult> {
  const now = (deps.now ?? (() => new Date()))();
  const items = await findOutboxItems(deps.dynamodb, deps.tableName, options.filter ?? {});
  const ageOf = (item: OutboxItem) => (item.createdAt ? Math.max(0, (now.getTime() - Date.parse(item.createdAt)) / 1000) : Number.POSITIVE_INFINITY);
  const candidates = options.olderThanSeconds === undefined ? items : items.filter((item) => ageOf(item) >= options.olderThanSeconds!);
  const result: SweepResult = { found: items.length, candidates, published: [], rejected: [], failed: [], oldestUnpublishedAgeSeconds: 0 };

  const events: RelayEvent[] = [];
  for (const item of candidates) {
    const checked = checkEvent({ ...item, fromOutbox: true }, deps.registry, deps.routes);
    if (isRelayEvent(checked)) {
      events.push(checked);
      continue;
    }
    result.rejected.push(checked);
    if (!options.dryRun && checked.eventId) await deps.marks.markRejected(checked.eventId, checked.reasons.join('; '), now);
  }
  if (options.dryRun) {
    result.published.push(...events);
  } else {
    const published = await publishEvents(events, deps.sqs);
    result.published.push(...published.published);
    result.failed.push(...published.failed.map((f) => ({ eventId: f.event.eventId, reason: f.reason })));
    const markFailures = await deps.marks.markPublished(
      published.published.map((e) => e.eventId),
      now,
    );
    // A failed mark leaves the item unpublished: the next sweep publishes it again (deduplicated downstream).
    result.failed.push(...markFailures.map((eventId) => ({ eventId, reason: 'published, but the publishedAt mark failed' })));
  }
  const settled = new Set([...result.published.map((e) => e.eventId), ...result.rejected.map((r) => r.eventId)]);
  const stillUnpublished = items.filter((item) => !settled.has(item.eventId) || result.failed.some((f) => f.eventId === item.eventId));
  const oldest = Math.max(0, ...stillUnpublished.map(ageOf).filter(Number.isFinite));
  return { ...result, oldestUnpublishedAgeSeconds: Math.round(oldest) };
}
