import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { getDynamoDbClient, getSqsClient } from '../shared/clients.js';
import { ENV } from '../shared/env.js';
import { faultPoint } from '../shared/faults.js';
import { METRIC, createObservability } from '../shared/observability.js';
import { OUTBOX_EVENTS } from './event-schemas.js';
import { dynamoDbOutboxMarks } from './outbox-marks.js';
import { relayRecords } from './relay.js';
import { parseRoutes } from './routes.js';

/**
 * Outbox relay: the effects table's stream → the destination queue(s) each event type is routed to. Configuration is
 * read once, at cold start (routes from OUTBOX_ROUTES, or the single EVENTS_QUEUE_URL of an older stack).
 */
const routes = parseRoutes(process.env[ENV.OUTBOX_ROUTES], process.env[ENV.EVENTS_QUEUE_URL]);
const outboxTable = process.env[ENV.OUTBOX_TABLE_NAME];
const marks = outboxTable ? dynamoDbOutboxMarks(getDynamoDbClient(), outboxTable) : undefined;
const observability = createObservability('relay');
const { logger } = observability;

/** Lambda entry point (ReportBatchItemFailures: item identifiers are stream sequence numbers). */
export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  try {
    faultPoint('relay.exhausted');
    const records = event.Records.filter(() => !droppedByFault());
    const result = await relayRecords(records, { sqs: getSqsClient(), routes, registry: OUTBOX_EVENTS, marks });
    for (const error of result.rejected) {
      logger.error('Outbox event rejected: it will never be published as is; the item is marked rejectedAt with the reason', {
        sequenceNumber: error.sequenceNumber,
        eventId: error.eventId,
        reasons: error.reasons,
      });
    }
    for (const failure of result.sendFailures) {
      logger.warn('Event not accepted by its destination: reported for retry', failure);
    }
    if (result.markFailures.length > 0) {
      logger.warn('Published, but the publishedAt mark failed: the sweeper will publish these again (deduplicated downstream)', {
        eventIds: result.markFailures,
      });
    }
    if (result.published.length > 0) observability.count(METRIC.EventsRelayed, result.published.length);
    if (result.rejected.length > 0) observability.count(METRIC.OutboxEventsRejected, result.rejected.length);
    if (result.failedSequenceNumbers.length > 0) observability.count(METRIC.RelayFailures, result.failedSequenceNumbers.length);
    logger.debug('Relayed stream batch', {
      published: result.published.map((e) => e.eventId),
      skipped: result.skipped,
      failed: result.failedSequenceNumbers,
    });
    if (result.published.length > 0) faultPoint('relay.afterPublish');
    return { batchItemFailures: result.failedSequenceNumbers.map((itemIdentifier) => ({ itemIdentifier })) };
  } finally {
    observability.flush();
  }
};

/** Chaos only: `relay.dropRecord` loses a record as a mapping that skipped it would (it never reaches the relay). */
function droppedByFault(): boolean {
  try {
    faultPoint('relay.dropRecord');
    return false;
  } catch {
    return true;
  }
}
