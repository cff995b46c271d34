import { getDynamoDbClient, getSqsClient } from '../shared/clients.js';
import { ENV, requireEnv } from '../shared/env.js';
import { METRIC, createObservability } from '../shared/observability.js';
import { OUTBOX_EVENTS } from '../relay/event-schemas.js';
import { dynamoDbOutboxMarks } from '../relay/outbox-marks.js';
import { parseRoutes } from '../relay/routes.js';
import { publishOutboxItems, type SweepResult } from './sweeper.js';

/**
 * Outbox sweeper, run on a schedule: publishes the outbox items the relay never published (a stream record the
 * mapping never delivered, a batch that exhausted its retries or record age, a replaced stream) once they are older
 * than OUTBOX_SWEEP_AGE_SECONDS, and reports the age of the oldest one still unpublished.
 */
const tableName = requireEnv(ENV.OUTBOX_TABLE_NAME);
const routes = parseRoutes(requireEnv(ENV.OUTBOX_ROUTES));
const olderThanSeconds = Number(requireEnv(ENV.OUTBOX_SWEEP_AGE_SECONDS));
if (!Number.isInteger(olderThanSeconds) || olderThanSeconds < 0) {
  throw new Error(`Environment variable ${ENV.OUTBOX_SWEEP_AGE_SECONDS} must be a non-negative integer number of seconds`);
}
const observability = createObservability('outbox-sweeper');
const { logger } = observability;
const marks = dynamoDbOutboxMarks(getDynamoDbClient(), tableName);

/** Lambda entry point (EventBridge scheduled event; the event's content is not used). */
export const handler = async (): Promise<{ found: number; published: number; rejected: number; failed: number; oldestUnpublishedAgeSeconds: number }> => {
  try {
    const result: SweepResult = await publishOutboxItems(
      { dynamodb: getDynamoDbClient(), sqs: getSqsClient(), tableName, routes, registry: OUTBOX_EVENTS, marks },
      { olderThanSeconds },
    );
    if (result.published.length > 0) {
      logger.warn('Published outbox events the relay had not published', { eventIds: result.published.map((e) => e.eventId) });
    }
    for (const rejection of result.rejected) logger.error('Outbox event rejected by the sweeper', { ...rejection });
    for (const failure of result.failed) logger.warn('Outbox event still unpublished after the sweep', { ...failure });
    observability.count(METRIC.OutboxEventsSwept, result.published.length);
    if (result.rejected.length > 0) observability.count(METRIC.OutboxEventsRejected, result.rejected.length);
    observability.seconds(METRIC.OldestUnpublishedOutboxEventAge, result.oldestUnpublishedAgeSeconds);
    return {
      found: result.found,
      published: result.published.length,
      rejected: result.rejected.length,
      failed: result.failed.length,
      oldestUnpublishedAgeSeconds: result.oldestUnpublishedAgeSeconds,
    };
  } finally {
    observability.flush();
  }
};
