/** TransactWriteItems accepts at most 100 actions (F4); the dedup marker takes one of them. */
export const MAX_TRANSACT_ITEMS = 100;

/** How many business items a caller may add next to a separate marker (a carried marker allows {@link MAX_TRANSACT_ITEMS}). */
export const MAX_BUSINESS_ITEMS = MAX_TRANSACT_ITEMS - 1;

/** ClientRequestToken length limit (1–36 characters). */
export const CLIENT_REQUEST_TOKEN_LENGTH = 36;

/** Attributes the core writes on every marker (callers' `marker` attributes may not use these names). */
export const MARKER_ATTRIBUTES = {
  scope: 'scope',
  key: 'idempotencyKey',
  createdAt: 'createdAt',
} as const;

/** Default TTL attribute of the marker item (epoch seconds; DynamoDB TTL deletes late, so it is also checked). */
export const DEFAULT_TTL_ATTRIBUTE = 'expiresAt';

/** Default key attributes used to tell items apart when validating that a transaction's items are distinct. */
export const DEFAULT_KEY_ATTRIBUTES = ['pk', 'sk'] as const;

/** Cancellation reason codes worth retrying: the same transaction may succeed later. */
export const RETRYABLE_CANCELLATION_CODES: ReadonlySet<string> = new Set([
  'TransactionConflict',
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
  'RequestLimitExceeded',
]);

/** SDK exception names worth retrying once the SDK's own retries are spent. */
export const RETRYABLE_EXCEPTION_NAMES: ReadonlySet<string> = new Set([
  'TransactionInProgressException',
  'TransactionConflictException',
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
]);

/**
 * Attributes of an outbox item (`OUTBOX#<eventId>` / `OUTBOX`), the one format every consumer's outbox shares: the
 * relay and the sweeper read these, and the relay marks `publishedAt` (or `rejectedAt` + `rejectReason`) once.
 */
export const OUTBOX_ATTRIBUTES = {
  eventId: 'eventId',
  eventType: 'eventType',
  /** FIFO MessageGroupId downstream (the entity whose order matters: an account, an order). */
  groupKey: 'groupKey',
  /** The event as JSON: the message body published downstream. */
  payload: 'event',
  /** ISO-8601 time the item was written (the marker's `createdAt` when the item carries the marker). */
  createdAt: 'createdAt',
  /** ISO-8601 time the relay (or the sweeper) published the event; absent until then. */
  publishedAt: 'publishedAt',
  /** ISO-8601 time the relay refused the event for good (no schema, no route, invalid), with `rejectReason`. */
  rejectedAt: 'rejectedAt',
  rejectReason: 'rejectReason',
} as const;
