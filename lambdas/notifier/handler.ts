import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { getDynamoDbClient, getSqsClient } from '../shared/clients.js';
import { requirePositiveInteger } from '../shared/config.js';
import { ENV, requireEnv } from '../shared/env.js';
import { createObservability } from '../shared/observability.js';
import { createNotifier } from './notifier.js';
import { SqsRetryQueue } from './retry-queue.js';
import { SecretWebhookSigner } from './signing.js';
import { HttpWebhookClient } from './webhook-client.js';

/**
 * Events queue consumer → signed webhook. Configuration is read once, at cold start. The signing secret is read from
 * Secrets Manager by its ARN when the first delivery needs it and cached (Powertools parameters) for
 * WEBHOOK_SECRET_MAX_AGE_SECONDS: once per cold start, again after a rotation; its value never sits in the environment.
 */
const webhookTimeoutMs = requirePositiveInteger(ENV.WEBHOOK_TIMEOUT_MS);
const secretArn = requireEnv(ENV.WEBHOOK_SECRET_ARN);
const secretMaxAge = requirePositiveInteger(ENV.WEBHOOK_SECRET_MAX_AGE_SECONDS);
const secrets = new SecretsProvider();
const notifier = createNotifier({
  webhook: new HttpWebhookClient({
    url: requireEnv(ENV.WEBHOOK_URL),
    timeoutMs: webhookTimeoutMs,
    signer: new SecretWebhookSigner(async () => {
      const value = await secrets.get(secretArn, { maxAge: secretMaxAge });
      return typeof value === 'string' ? value : undefined;
    }),
  }),
  // Start a record only with time for the webhook's full timeout plus the two idempotency writes.
  minRemainingMs: webhookTimeoutMs + 1000,
  persistenceStore: new DynamoDBPersistenceLayer({
    tableName: requireEnv(ENV.IDEMPOTENCY_TABLE_NAME),
    awsSdkV3Client: getDynamoDbClient(),
  }),
  expiresAfterSeconds: requirePositiveInteger(ENV.IDEMPOTENCY_TTL_SECONDS),
  observability: createObservability('notifier'),
  retry: {
    schedule: {
      maxAttempts: requirePositiveInteger(ENV.WEBHOOK_MAX_ATTEMPTS),
      horizonSeconds: requirePositiveInteger(ENV.WEBHOOK_RETRY_HORIZON_SECONDS),
    },
    queue: new SqsRetryQueue({
      sqs: getSqsClient,
      queueUrl: requireEnv(ENV.EVENTS_QUEUE_URL),
      deadLetterQueueUrl: requireEnv(ENV.EVENTS_DLQ_URL),
    }),
  },
});

/** Lambda entry point (ReportBatchItemFailures on). */
export const handler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => notifier.handle(event, context);
