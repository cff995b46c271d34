import { requiredAuthorizations } from '../../local/iam/actions.js';
import type { AuthorizedService } from '../../local/iam/types.js';
import type { TransactWriteKind } from './handler-calls.js';

/** Placeholder names the synthetic request carries; only the action names of the answer are used. */
const TABLE = 'T';
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/q';
const ARNS = {
  region: 'eu-west-1',
  accountId: '123456789012',
  partition: 'aws',
  queueArnForUrl: (url: string) => (url === QUEUE_URL ? 'arn:aws:sqs:eu-west-1:123456789012:q' : undefined),
};
const SERVICES: readonly string[] = ['dynamodb', 'dynamodb-streams', 'sqs', 'kms', 'secretsmanager'];

/**
 * The IAM actions AWS authorizes for one SDK operation (C1), from the local gateway's own mapping
 * (`requiredAuthorizations`, local/iam/actions.ts): the test and the runtime cannot disagree on what a call needs.
 * A synthetic request names one table, queue, secret or key; a TransactWriteItems carries one item of each kind the caller's code
 * builds.
 * @throws Error for a TransactWriteItems whose item kinds are unknown (nothing to authorize would pass silently), or
 *   a service the mapping does not know.
 */
export function iamActionsOf(service: string, operation: string, transactWriteKinds: ReadonlySet<TransactWriteKind>): string[] {
  if (!SERVICES.includes(service)) throw new Error(`no IAM mapping for ${service}:${operation}; extend local/iam/actions.ts`);
  if (service === 'dynamodb' && operation === 'TransactWriteItems' && transactWriteKinds.size === 0) {
    throw new Error('TransactWriteItems with no item kind found in the code');
  }
  const input = {
    TableName: TABLE,
    Key: {},
    RequestItems: { [TABLE]: {} },
    TransactItems:
      operation === 'TransactWriteItems'
        ? [...transactWriteKinds].map((kind) => ({ [kind]: { TableName: TABLE } }))
        : [{ Get: { TableName: TABLE } }],
    QueueUrl: QUEUE_URL,
    QueueName: 'q',
    Entries: [{ Id: '1' }],
    SecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:s-AbCdEf',
    KeyId: 'arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000',
  };
  const authorizations = requiredAuthorizations(service as AuthorizedService, operation, input, ARNS);
  return [...new Set(authorizations.map((a) => a.action))];
}
