/** Idempotency-aware redrive of dead-letter queues (`npm run redrive`). */
export * from './applied-checker.js';
export * from './args.js';
export * from './errors.js';
export * from './format-report.js';
export * from './project-config.js';
export * from './redrive-messages.js';
export * from './resolve-queues.js';
export * from './run-redrive.js';
