import { getDynamoDbClient } from '../shared/clients.js';
import { ENV, requireEnv } from '../shared/env.js';
import { createObservability } from '../shared/observability.js';
import { getAccountHandler } from './get-account.js';

/** `GET /accounts/{accountId}` (API Gateway REST, Lambda proxy). Configuration is read once, at cold start. */
export const handler = getAccountHandler({
  client: getDynamoDbClient,
  tableName: requireEnv(ENV.LEDGER_TABLE_NAME),
  observability: createObservability('api'),
});
