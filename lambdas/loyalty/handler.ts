import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { AtomicIdempotency } from '../shared/atomic-idempotency/index.js';
import { getDynamoDbClient } from '../shared/clients.js';
import { ENV, requireEnv } from '../shared/env.js';
import { processFifoBatch } from '../shared/fifo-batch.js';
import { awardPoints, parseLoyaltyMessage } from './loyalty.js';

/*
 * loyalty: the second example consumer, on its own FIFO queue fed by the relay with PaymentApplied events (group = the
 * account, dedup id = the event id). Configuration is read once, at cold start.
 */
const tableName = requireEnv(ENV.LEDGER_TABLE_NAME);
const ttlSeconds = Number(requireEnv(ENV.DEDUP_TTL_SECONDS));
if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
  throw new Error(`Environment variable ${ENV.DEDUP_TTL_SECONDS} must be a positive integer number of seconds`);
}
const logger = new Logger();
/** EMF metrics under service `loyalty`: EffectsApplied, DuplicatesSkipped, RecordsFailed. */
const metrics = new Metrics({ defaultDimensions: { layer: 'loyalty' } });
const core = new AtomicIdempotency({ client: getDynamoDbClient(), tableName });

/** Lambda entry point: one record at a time, partial batch response; a failed record stops its group (S10). */
export const handler = async (event: SQSEvent, _context?: Context): Promise<SQSBatchResponse> => {
  try {
    return await processFifoBatch(
      event.Records,
      async (record) => {
        const payment = parseLoyaltyMessage(record.body);
        const outcome = await awardPoints(payment, { core, tableName, ttlSeconds });
        if (outcome.status === 'awarded') metrics.addMetric('EffectsApplied', MetricUnit.Count, 1);
        if (outcome.status === 'duplicate') metrics.addMetric('DuplicatesSkipped', MetricUnit.Count, 1);
        logger.info(`loyalty ${outcome.status}`, { eventId: payment.eventId, points: outcome.points, messageId: record.messageId });
      },
      {
        onFailure: ({ record, error, blockedBy }) => {
          metrics.addMetric('RecordsFailed', MetricUnit.Count, 1);
          if (blockedBy) logger.warn('skipped behind a failed message of its group', { messageId: record.messageId, blockedBy });
          else logger.error('record failed', { messageId: record.messageId, error: error as Error });
        },
      },
    );
  } finally {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};
