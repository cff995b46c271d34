export { AtomicIdempotency } from './AtomicIdempotency.js';
export { clientRequestToken } from './clientRequestToken.js';
export * from './constants.js';
export * from './errors.js';
export type * from './types.js';
