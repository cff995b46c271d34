import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import { readOutboxItem } from '../shared/atomic-idempotency/readOutboxItem.js';
import { OUTBOX_PREFIX } from '../shared/ledger-keys.js';
import { UnprocessableRecordError } from './errors.js';
import type { OutboxMarks } from './outbox-marks.js';
import { checkEvent, isRelayEvent, publishEvents, type RawOutboxEvent, type RelayEvent } from './publish.js';
import type { OutboxEventRegistration } from './registration.js';
import type { OutboxRoute } from './routes.js';

export { SQS_BATCH_LIMIT, type RelayEvent } from './publish.js';

/** Ports and configuration of the relay. */
export interface RelayDeps {
  readonly sqs: Pick<SQSClient, 'send'>;
  /** Where each event type goes. */
  readonly routes: readonly OutboxRoute[];
  /** The event types the relay accepts, with their schemas (lambdas/relay/event-schemas.ts). */
  readonly registry: readonly OutboxEventRegistration[];
  /**
   * Marks outbox items published / rejected.
   * @default - no marks (the sweeper then sees every item as unpublished: use only in tests)
   */
  readonly marks?: OutboxMarks;
  /** Clock. @default () => new Date() */
  readonly now?: () => Date;
}

/** Outcome of relaying one stream batch. */
export interface RelayResult {
  /** Sequence numbers to report failed: send failures, and rejections whose mark could not be written. */
  readonly failedSequenceNumbers: string[];
  readonly published: RelayEvent[];
  /** Records that carry no event (other item types, unchanged `lastEvent`, MODIFYs of outbox items). */
  skipped: number;
  /** Events that can never be published (bad JSON, no schema, schema failed, no route): marked, not retried. */
  readonly rejected: UnprocessableRecordError[];
  /** Why entries failed, per sequence number. */
  readonly sendFailures: { readonly sequenceNumber: string; readonly eventId: string; readonly reason: string }[];
  /** Published events whose `publishedAt` mark failed (the sweeper will publish them again; downstream dedups). */
  readonly markFailures: string[];
}

/**
 * The raw event a stream record carries, or `null` when it carries none.
 *
 * - `OUTBOX#…` INSERT: the outbox item (every consumer's format, `outboxPut`).
 * - Any other item whose NewImage has a `lastEvent` that changed (an event carried on the entity item, as the
 *   payments watermark strategy does; with NEW_IMAGE only the change cannot be seen, so it is published and the
 *   event id dedups it downstream). The stream filter decides which of those items reach the relay.
 */
export function rawEventFromRecord(record: DynamoDBRecord): RawOutboxEvent | null {
  const image = record.dynamodb?.NewImage as Parameters<typeof readOutboxItem>[0];
  const pk = record.dynamodb?.Keys?.pk?.S ?? image?.pk?.S ?? '';
  if (pk.startsWith(OUTBOX_PREFIX)) {
    if (record.eventName !== 'INSERT') return null;
    const item = readOutboxItem(image ?? { pk: { S: pk } });
    return item === null ? null : { ...item, fromOutbox: true };
  }
  if (record.eventName !== 'INSERT' && record.eventName !== 'MODIFY') return null;
  const raw = image?.lastEvent?.S;
  if (raw === undefined || raw === record.dynamodb?.OldImage?.lastEvent?.S) return null;
  return { payload: raw, fromOutbox: false };
}

/**
 * Relays one stream batch: checks each event (schema registered for its type, route), publishes the good ones
 * (SendMessageBatch per destination, FIFO order per group), marks them `publishedAt`, and marks the ones that can
 * never be published `rejectedAt` with the reason instead of retrying them: a bad event is reported (log, metric,
 * item) and does not hold the events behind it. Only send failures are reported failed for the stream to retry (D5).
 */
export async function relayRecords(records: readonly DynamoDBRecord[], deps: RelayDeps): Promise<RelayResult> {
  const now = deps.now ?? (() => new Date());
  const result: RelayResult = { failedSequenceNumbers: [], published: [], skipped: 0, rejected: [], sendFailures: [], markFailures: [] };
  const pending: { sequenceNumber: string; event: RelayEvent }[] = [];
  for (const record of records) {
    const sequenceNumber = record.dynamodb?.SequenceNumber ?? '';
    const raw = rawEventFromRecord(record);
    if (raw === null) {
      result.skipped += 1;
      continue;
    }
    const checked = checkEvent(raw, deps.registry, deps.routes);
    if (isRelayEvent(checked)) {
      pending.push({ sequenceNumber, event: checked });
      continue;
    }
    const rejection = new UnprocessableRecordError(sequenceNumber, checked.reasons, { eventId: checked.eventId });
    if (raw.fromOutbox && checked.eventId && deps.marks) {
      try {
        await deps.marks.markRejected(checked.eventId, checked.reasons.join('; '), now());
      } catch (error) {
        // Without the mark the reason would live only in a log line: retry the record instead.
        result.failedSequenceNumbers.push(sequenceNumber);
        result.sendFailures.push({ sequenceNumber, eventId: checked.eventId, reason: `rejected, but its mark failed: ${(error as Error).message}` });
        continue;
      }
    }
    result.rejected.push(rejection);
  }

  const published = await publishEvents(
    pending.map((p) => p.event),
    deps.sqs,
  );
  const sequenceOf = new Map(pending.map((p) => [p.event.eventId, p.sequenceNumber]));
  result.published.push(...published.published);
  for (const { event, reason } of published.failed) {
    const sequenceNumber = sequenceOf.get(event.eventId) ?? '';
    result.failedSequenceNumbers.push(sequenceNumber);
    result.sendFailures.push({ sequenceNumber, eventId: event.eventId, reason });
  }
  const toMark = published.published.filter((e) => e.fromOutbox).map((e) => e.eventId);
  if (deps.marks && toMark.length > 0) result.markFailures.push(...(await deps.marks.markPublished(toMark, now())));
  return result;
}
