import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { getDynamoDbClient, getSqsClient } from '../shared/clients.js';
import { requirePositiveInteger } from '../shared/config.js';
import { ENV, requireEnv } from '../shared/env.js';
import { createObservability } from '../shared/observability.js';
import { createPaymentHandler } from './create-payment.js';

/** `POST /payments` (API Gateway REST, Lambda proxy). Configuration is read once, at cold start. */
export const handler = createPaymentHandler({
  persistenceStore: new DynamoDBPersistenceLayer({
    tableName: requireEnv(ENV.IDEMPOTENCY_TABLE_NAME),
    awsSdkV3Client: getDynamoDbClient(),
  }),
  expiresAfterSeconds: requirePositiveInteger(ENV.IDEMPOTENCY_TTL_SECONDS),
  sqs: getSqsClient,
  queueUrl: requireEnv(ENV.PAYMENTS_QUEUE_URL),
  observability: createObservability('api'),
});
