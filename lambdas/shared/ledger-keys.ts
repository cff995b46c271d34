/**
 * Single-table layout of the ledger table (partition key `pk`, sort key `sk`, TTL attribute `expiresAt`, stream
 * NEW_IMAGE). The relay's FilterCriteria selects INSERTs whose `pk` starts with {@link OUTBOX_PREFIX}.
 */
export const LEDGER_KEYS = { partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'expiresAt' } as const;

export const ACCOUNT_PREFIX = 'ACCOUNT#';
export const DEDUP_PREFIX = 'DEDUP#';
export const OUTBOX_PREFIX = 'OUTBOX#';

/** Account aggregate: `balance`, `applied`, `rejected`, `currency`, `version`. */
export const accountKey = (accountId: string) => ({ pk: `${ACCOUNT_PREFIX}${accountId}`, sk: 'ACCOUNT' });

/** Dedup marker for one producer idempotency key within a consumer scope. */
export const dedupKey = (scope: string, idempotencyKey: string) => ({
  pk: `${DEDUP_PREFIX}${scope}#${idempotencyKey}`,
  sk: 'DEDUP',
});

/** Outbox item for one event; its INSERT on the stream is what the relay publishes. */
export const outboxKey = (eventId: string) => ({ pk: `${OUTBOX_PREFIX}${eventId}`, sk: 'OUTBOX' });
