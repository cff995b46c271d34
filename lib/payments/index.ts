/**
 * The payments example, built from the reusable parts in `lib/index.ts`: the stack (API → ledger → relay → notifier,
 * loyalty points as a second consumer), its configuration and the loyalty consumer construct.
 */
export * from '../config.js';
export * from '../payments-stack.js';
export * from './loyalty.js';
