export { AtomicIdempotency } from './AtomicIdempotency.js';
export { clientRequestToken } from './clientRequestToken.js';
export * from './constants.js';
export * from './errors.js';
export type * from './types.js';
export { DEFAULT_OUTBOX_TTL_SECONDS, outboxPut, type OutboxEventInput } from './outboxPut.js';
export { readOutboxItem } from './readOutboxItem.js';
