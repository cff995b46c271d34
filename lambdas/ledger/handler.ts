import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { getDynamoDbClient, getSqsClient } from '../shared/clients.js';
import { requirePositiveInteger } from '../shared/config.js';
import { ENV, optionalEnv, requireEnv } from '../shared/env.js';
import { createObservability } from '../shared/observability.js';
import { processLedgerBatch } from './consumer.js';
import { createSqsDeadLetterSender } from './dead-letter.js';
import { loadLedgerStrategy } from './strategies/index.js';

/** Payments FIFO queue consumer (partial batch responses on). Configuration is read once, at cold start. */
const tableName = requireEnv(ENV.LEDGER_TABLE_NAME);
const dedupTtlSeconds = requirePositiveInteger(ENV.DEDUP_TTL_SECONDS);
const strategyName = optionalEnv(ENV.LEDGER_STRATEGY, 'atomic');
const observability = createObservability('ledger');
// The stack always sets it; without it (a harness that runs the handler alone) poison and fenced messages are reported
// failed and dead-letter after maxReceiveCount instead.
const deadLetterQueueUrl = optionalEnv(ENV.PAYMENTS_DLQ_URL, '');
const deadLetter = deadLetterQueueUrl ? createSqsDeadLetterSender(getSqsClient(), deadLetterQueueUrl) : undefined;
const strategy = await loadLedgerStrategy(strategyName, {
  client: getDynamoDbClient(),
  tableName,
  dedupTtlSeconds,
  // Only the powertools strategy uses it; the registry says so when it is missing.
  idempotencyTableName: optionalEnv(ENV.IDEMPOTENCY_TABLE_NAME, '') || undefined,
});

/** Lambda entry point. */
export const handler = async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> =>
  processLedgerBatch(event, context, { strategy, observability, deadLetter });

