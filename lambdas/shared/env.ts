/**
 * Environment variable names shared by the CDK stack (which sets them) and the handlers (which read them).
 *
 * One source of truth: the stack imports these constants, so a rename cannot leave a handler reading a variable
 * that is never set.
 */
export const ENV = {
  /** Ledger table: accounts, dedup markers and outbox items (single-table design, see `ledger-keys.ts`). */
  LEDGER_TABLE_NAME: 'LEDGER_TABLE_NAME',
  /** Powertools idempotency table (API requests and notifier deliveries). */
  IDEMPOTENCY_TABLE_NAME: 'IDEMPOTENCY_TABLE_NAME',
  /** FIFO queue the API sends accepted payments to. */
  PAYMENTS_QUEUE_URL: 'PAYMENTS_QUEUE_URL',
  /**
   * Dead-letter queue of the payments queue: the ledger sends a poison or fenced message there at once, with its
   * reason as a message attribute, instead of letting it be re-judged on every receive.
   */
  PAYMENTS_DLQ_URL: 'PAYMENTS_DLQ_URL',
  /**
   * Queue the outbox relay publishes every event to when {@link ENV.OUTBOX_ROUTES} is unset (the single-destination
   * form kept for older stacks).
   */
  EVENTS_QUEUE_URL: 'EVENTS_QUEUE_URL',
  /** The relay's and the sweeper's routes: JSON `[{ eventTypes?, eventTypePrefix?, queueUrl }]` (OutboxRelay sets it). */
  OUTBOX_ROUTES: 'OUTBOX_ROUTES',
  /** Table holding the outbox items the relay marks published (OutboxRelay sets it). */
  OUTBOX_TABLE_NAME: 'OUTBOX_TABLE_NAME',
  /** Age in seconds after which the sweeper re-publishes an outbox item still unpublished. */
  OUTBOX_SWEEP_AGE_SECONDS: 'OUTBOX_SWEEP_AGE_SECONDS',
  /** Webhook the notifier delivers events to. */
  WEBHOOK_URL: 'WEBHOOK_URL',
  /** Secrets Manager secret (ARN) holding the webhook signing key(s); its value is never put in the environment. */
  WEBHOOK_SECRET_ARN: 'WEBHOOK_SECRET_ARN',
  /** Seconds a warm notifier keeps the signing secret before reading it again (a rotation reaches it within this). */
  WEBHOOK_SECRET_MAX_AGE_SECONDS: 'WEBHOOK_SECRET_MAX_AGE_SECONDS',
  /** Webhook delivery attempts in all (the events queue's maxReceiveCount). */
  WEBHOOK_MAX_ATTEMPTS: 'WEBHOOK_MAX_ATTEMPTS',
  /** Nominal time from the first webhook attempt to the last, in seconds. */
  WEBHOOK_RETRY_HORIZON_SECONDS: 'WEBHOOK_RETRY_HORIZON_SECONDS',
  /** Dead-letter queue of the events queue (the notifier dead-letters refused events itself). */
  EVENTS_DLQ_URL: 'EVENTS_DLQ_URL',
  /** Webhook request timeout in milliseconds. */
  WEBHOOK_TIMEOUT_MS: 'WEBHOOK_TIMEOUT_MS',
  /** How long a dedup marker stays live, in seconds (validated against queue retention by the constructs). */
  DEDUP_TTL_SECONDS: 'DEDUP_TTL_SECONDS',
  /** How long Powertools idempotency records stay live, in seconds. */
  IDEMPOTENCY_TTL_SECONDS: 'IDEMPOTENCY_TTL_SECONDS',
  /** Ledger consumer strategy: `atomic` (default) or a benchmark/negative-control variant. */
  LEDGER_STRATEGY: 'LEDGER_STRATEGY',
  /**
   * Fault plan for fault-injection runs (JSON). Honoured only by the local runtime, which also sets
   * {@link ENV.LOCAL_RUNTIME}; the stack refuses to synthesize it.
   */
  FAULT_PLAN: 'EXACTLY_ONCE_FAULT_PLAN',
  /** Set to `1` by the local runtime only. */
  LOCAL_RUNTIME: 'EXACTLY_ONCE_LOCAL_RUNTIME',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/**
 * Reads a required environment variable.
 *
 * Call it at module scope so a missing variable fails the cold start, not a request.
 * @throws Error `Environment variable X is required` when unset or empty.
 */
export function requireEnv(name: EnvName, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new Error(`Environment variable ${name} is required`);
  }
  return value;
}

/** Reads an optional environment variable, returning `fallback` when unset or empty. */
export function optionalEnv(name: EnvName, fallback: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  return value === undefined || value === '' ? fallback : value;
}
