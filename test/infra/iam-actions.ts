import type { TransactWriteKind } from './handler-calls.js';

/**
 * The IAM actions AWS authorizes for one SDK operation (C1, /work/shared/docs/lambda-esm-semantics.md): a batch is
 * authorized as its batch action (DynamoDB) or as the single action (SQS), a transaction per item action.
 */
const TRANSACT_ITEM_ACTION: Record<TransactWriteKind, string> = {
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
};

const SQS_BATCH: Record<string, string> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

/**
 * IAM actions of `service`:`operation`.
 * @param transactWriteKinds the item kinds a TransactWriteItems of this caller carries
 * @throws Error for a TransactWriteItems whose item kinds are unknown (nothing to authorize would be a silent pass).
 */
export function iamActionsOf(service: string, operation: string, transactWriteKinds: ReadonlySet<TransactWriteKind>): string[] {
  if (service === 'dynamodb' && operation === 'TransactWriteItems') {
    if (transactWriteKinds.size === 0) throw new Error('TransactWriteItems with no item kind found in the code');
    return [...transactWriteKinds].map((k) => TRANSACT_ITEM_ACTION[k]);
  }
  if (service === 'dynamodb' && operation === 'TransactGetItems') return ['dynamodb:GetItem'];
  if (service === 'dynamodb-streams') return [`dynamodb:${operation}`];
  if (service === 'sqs') return [`sqs:${SQS_BATCH[operation] ?? operation}`];
  return [`${service}:${operation}`];
}
