import { createHash } from 'node:crypto';
import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { CLIENT_REQUEST_TOKEN_LENGTH } from './constants.js';

/**
 * ClientRequestToken of one transaction attempt, derived from the scope, the idempotency key and the transaction's
 * content.
 *
 * The SDK resends the very same request when it retries after a timeout or a 5xx: with this token DynamoDB answers the
 * resend without applying it twice (F4, 10 minutes). The content is part of the token on purpose: a *redelivery* of the
 * key builds a new transaction (new clock), and a token reused with other parameters fails with
 * IdempotentParameterMismatchException instead of meeting the marker's condition and reporting a duplicate.
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
 */
export function clientRequestToken(scope: string, key: string, transactItems: readonly TransactWriteItem[]): string {
  return createHash('sha256')
    .update(scope)
    .update('\n')
    .update(key)
    .update('\n')
    .update(JSON.stringify(transactItems))
    .digest('hex')
    .slice(0, CLIENT_REQUEST_TOKEN_LENGTH);
}
