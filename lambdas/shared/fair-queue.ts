import { InvalidInputError } from './errors.js';

/**
 * The tenant-key contract of an SQS fair queue (a standard queue whose messages carry a MessageGroupId naming their
 * tenant, so a tenant with a backlog is delivered after quieter ones).
 *
 * The consuming `QueueConsumer` declares `fairQueueTenantKey` (a top-level field of the message body, e.g.
 * `accountId`); an `OutboxRelay` route to its queue takes the key over (in `OUTBOX_ROUTES`), and the relay and the
 * outbox sweeper send every message to it with `MessageGroupId: tenantGroupId(body, tenantKey)`. On a standard queue
 * the group promises no order: consumers must not treat it as a FIFO group (`fifoGroupOf` in fifo-batch.ts does not).
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues.html
 */
export const TENANT_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Longest MessageGroupId SQS accepts. */
export const MAX_MESSAGE_GROUP_ID_LENGTH = 128;

/** SQS MessageGroupId characters: alphanumeric and punctuation. */
const GROUP_ID = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]+$/;

/** A message body whose tenant key cannot become a MessageGroupId. */
export class FairQueueTenantError extends InvalidInputError {
  constructor(message: string) {
    super(message, []);
    this.name = 'FairQueueTenantError';
  }
}

/**
 * The MessageGroupId a producer sends to a fair queue: the body's `tenantKey` field.
 * @throws FairQueueTenantError when the field is missing, not a non-empty string or number, longer than 128
 *   characters, or holds characters SQS refuses (it would fail the send, or silently merge tenants if trimmed).
 */
export function tenantGroupId(body: Readonly<Record<string, unknown>>, tenantKey: string): string {
  const value = body[tenantKey];
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new FairQueueTenantError(`Fair-queue tenant key "${tenantKey}" is missing from the message body (got ${typeof value}); send it as a string`);
  }
  const id = String(value);
  if (id.length === 0 || id.length > MAX_MESSAGE_GROUP_ID_LENGTH) {
    throw new FairQueueTenantError(`Fair-queue tenant "${id.slice(0, 40)}" must be 1–${MAX_MESSAGE_GROUP_ID_LENGTH} characters (MessageGroupId), got ${id.length}`);
  }
  if (!GROUP_ID.test(id)) {
    throw new FairQueueTenantError(`Fair-queue tenant "${id.slice(0, 40)}" holds characters a MessageGroupId refuses: use letters, digits and punctuation only`);
  }
  return id;
}
