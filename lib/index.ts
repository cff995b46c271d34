/**
 * Package entry for other CDK apps: the reusable parts of the blueprint — consumers, effects, outbox events and
 * markers. The payments pipeline is the example built from them and has its own entry, `lib/payments/index.ts`.
 */
export * from './errors.js';
export * from './constructs/windows.js';
export * from './constructs/handler-function.js';
export * from './constructs/queue-consumer.js';
export * from './constructs/event-queue.js';
export * from './constructs/outbox-relay.js';
export * from './constructs/outbox-sweeper.js';
export * from './constructs/tables.js';
export * from './constructs/pipeline-monitoring.js';
export * from './constructs/strategy-switch.js';
export * from './consumers/index.js';
