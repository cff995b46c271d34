import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { getDynamoDbClient } from '../shared/clients.js';
import { requirePositiveInteger } from '../shared/config.js';
import { ENV, requireEnv } from '../shared/env.js';
import { createObservability } from '../shared/observability.js';
import { createNotifier } from './notifier.js';
import { HttpWebhookClient } from './webhook-client.js';

/** Events queue consumer → webhook. Configuration is read once, at cold start. */
const webhookTimeoutMs = requirePositiveInteger(ENV.WEBHOOK_TIMEOUT_MS);
const notifier = createNotifier({
  webhook: new HttpWebhookClient({ url: requireEnv(ENV.WEBHOOK_URL), timeoutMs: webhookTimeoutMs }),
  // Start a record only with time for the webhook's full timeout plus the two idempotency writes.
  minRemainingMs: webhookTimeoutMs + 1000,
  persistenceStore: new DynamoDBPersistenceLayer({
    tableName: requireEnv(ENV.IDEMPOTENCY_TABLE_NAME),
    awsSdkV3Client: getDynamoDbClient(),
  }),
  expiresAfterSeconds: requirePositiveInteger(ENV.IDEMPOTENCY_TTL_SECONDS),
  observability: createObservability('notifier'),
});

/** Lambda entry point (ReportBatchItemFailures on). */
export const handler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => notifier.handle(event, context);

