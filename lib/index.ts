/**
 * Package entry for other CDK apps: the reusable constructs, the payments stack and its configuration.
 */
export * from './errors.js';
export * from './config.js';
export * from './constructs/windows.js';
export * from './constructs/handler-function.js';
export * from './constructs/queue-consumer.js';
export * from './constructs/outbox-relay.js';
export * from './constructs/tables.js';
export * from './constructs/pipeline-monitoring.js';
export * from './payments-stack.js';
export * from './consumers/index.js';
