import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * Structured logging and EMF metrics for every handler.
 *
 * Correlation keys appended per record: `idempotencyKey`, `paymentId`, `eventId` (see {@link CORRELATION_KEYS}).
 * Service name and log level come from the standard `POWERTOOLS_SERVICE_NAME` / `POWERTOOLS_LOG_LEVEL` variables.
 * @see https://docs.powertools.aws.dev/lambda/typescript/latest/core/metrics/
 */

/** CloudWatch namespace of every metric this project emits. */
export const METRICS_NAMESPACE = 'ExactlyOncePayments';

/** Metric names (dashboards and alarms in lib/ refer to these). */
export const METRIC = {
  PaymentsAccepted: 'PaymentsAccepted',
  PaymentsApplied: 'PaymentsApplied',
  PaymentsRejected: 'PaymentsRejected',
  DuplicatesSkipped: 'DuplicatesSkipped',
  ZombieCommitsFenced: 'ZombieCommitsFenced',
  /** A FIFO message behind the account's sequence fence whose payment was never applied: dead-lettered, alarmed. */
  FencedWithoutMarker: 'FencedWithoutMarker',
  /** Poison or fenced messages the ledger sent to its dead-letter queue itself (the reason rides as an attribute). */
  DeadLetteredAtOnce: 'DeadLetteredAtOnce',
  PoisonMessages: 'PoisonMessages',
  EventsRelayed: 'EventsRelayed',
  RelayFailures: 'RelayFailures',
  WebhookAttempts: 'WebhookAttempts',
  WebhookFailures: 'WebhookFailures',
  /** Events the webhook refused with a non-retryable 4xx, dead-lettered by the notifier without retries. */
  WebhookDeadLettered: 'WebhookDeadLettered',
  /** Outbox events the relay refused for good (no schema, no route, invalid): marked `rejectedAt`, not retried. */
  OutboxEventsRejected: 'OutboxEventsRejected',
  /** Outbox events the sweeper found unpublished past its threshold and published. */
  OutboxEventsSwept: 'OutboxEventsSwept',
  /** Age in seconds of the oldest outbox event still unpublished after a sweep (0 when none). */
  OldestUnpublishedOutboxEventAge: 'OldestUnpublishedOutboxEventAge',
} as const;
export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** The pipeline layer a function belongs to: the `layer` dimension of its metrics (duplicates per layer). */
export type Layer = 'api' | 'ledger' | 'relay' | 'notifier' | 'outbox-sweeper';

/** Log keys that tie one payment together across functions. */
export const CORRELATION_KEYS = ['idempotencyKey', 'paymentId', 'eventId'] as const;

/** A function's logger and metrics. */
export interface Observability {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Adds `value` (default 1) to a count metric, buffered until {@link Observability.flush}. */
  count(name: MetricName, value?: number): void;
  /** Records a gauge in seconds (for example a lag), buffered until {@link Observability.flush}. */
  seconds(name: MetricName, value: number): void;
  /** Publishes buffered metrics (call once at the end of every invocation, also on failure). */
  flush(): void;
}

/** Creates the logger and metrics of one function; every metric carries the dimension `layer`. */
export function createObservability(layer: Layer): Observability {
  const logger = new Logger({ persistentKeys: { layer } });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, defaultDimensions: { layer } });
  let stored = false;
  return {
    logger,
    metrics,
    count(name, value = 1) {
      metrics.addMetric(name, MetricUnit.Count, value);
      stored = true;
    },
    seconds(name, value) {
      metrics.addMetric(name, MetricUnit.Seconds, value);
      stored = true;
    },
    flush() {
      // publishStoredMetrics warns on an empty buffer; an invocation with nothing to count is normal here.
      if (!stored) return;
      stored = false;
      metrics.publishStoredMetrics();
    },
  };
}
