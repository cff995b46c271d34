import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { getSqsClient } from '../shared/clients.js';
import { ENV, requireEnv } from '../shared/env.js';
import { faultPoint } from '../shared/faults.js';
import { METRIC, createObservability } from '../shared/observability.js';
import { relayRecords } from './relay.js';

/** Outbox relay: ledger table stream → events queue. Configuration is read once, at cold start. */
const queueUrl = requireEnv(ENV.EVENTS_QUEUE_URL);
const observability = createObservability('relay');
const { logger } = observability;

/** Lambda entry point (ReportBatchItemFailures: item identifiers are stream sequence numbers). */
export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  try {
    const result = await relayRecords(event.Records, { sqs: getSqsClient(), queueUrl });
    for (const error of result.unprocessable) {
      logger.error('Unprocessable stream record: reported failed, it goes to the on-failure destination after the retries', {
        sequenceNumber: error.sequenceNumber,
        reasons: error.reasons,
      });
    }
    for (const failure of result.sendFailures) {
      logger.warn('Event not accepted by the events queue: reported for retry', failure);
    }
    if (result.published.length > 0) observability.count(METRIC.EventsRelayed, result.published.length);
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
