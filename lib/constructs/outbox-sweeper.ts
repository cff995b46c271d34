import { Annotations, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/shared/env.js';
import { METRIC } from '../../lambdas/shared/observability.js';
import { ConstructValidationError } from '../errors.js';
import { METRICS_NAMESPACE } from './handler-function.js';
import type { OutboxRelay } from './outbox-relay.js';
import { allResolved, describeDuration } from './windows.js';

/** Props of {@link OutboxSweeper}. */
export interface OutboxSweeperProps {
  /** The relay whose outbox items it sweeps: it publishes with the relay's routes and marks the same items. */
  readonly relay: OutboxRelay;
  /** The sweeper function (`lambdas/outbox-sweeper/handler.ts`). */
  readonly handler: lambda.Function;
  /**
   * How often it runs (an EventBridge rule, rate), 1 minute–1 day.
   * @default Duration.minutes(5)
   */
  readonly interval?: Duration;
  /**
   * Age after which an unpublished outbox item is published by the sweeper. Longer than the relay's `maxRecordAge`,
   * so the sweeper does not race the relay's own retries (it would only cause duplicates, deduplicated downstream).
   * @default Duration.minutes(20)
   */
  readonly olderThan?: Duration;
  /**
   * Powertools service name of the sweeper (the `service` dimension of its metrics).
   * @default 'outbox-sweeper'
   */
  readonly serviceName?: string;
}

/**
 * Outbox recovery: a scheduled function that finds outbox items older than `olderThan` that were never published
 * (no `publishedAt`, not rejected) and publishes them with the relay's routes, then marks them. It closes the gaps the
 * stream cannot: a record the mapping never delivered, a batch that went to the failure queue after its retries or
 * record age, records written while a stream was being replaced.
 */
export class OutboxSweeper extends Construct {
  /** The schedule. */
  readonly rule: events.Rule;
  /** The age threshold. */
  readonly olderThan: Duration;
  readonly #serviceName: string;

  constructor(scope: Construct, id: string, props: OutboxSweeperProps) {
    super(scope, id);
    const interval = props.interval ?? Duration.minutes(5);
    this.olderThan = props.olderThan ?? Duration.minutes(20);
    this.#serviceName = props.serviceName ?? 'outbox-sweeper';
    if (allResolved(interval) && (interval.toSeconds() < 60 || interval.toSeconds() > 86_400)) {
      throw new ConstructValidationError(
        this.node.path,
        `interval (${describeDuration(interval)}) must be from 1 minute to 1 day (an EventBridge rate); set interval: Duration.minutes(5)`,
      );
    }
    if (allResolved(this.olderThan) && this.olderThan.toSeconds() > 86_400) {
      throw new ConstructValidationError(
        this.node.path,
        `olderThan (${describeDuration(this.olderThan)}) must be at most 1 day: the lag alarm fires at twice this age; set olderThan: Duration.minutes(20)`,
      );
    }
    const recordAge = props.relay.maxRecordAge;
    if (allResolved(this.olderThan, recordAge) && this.olderThan.toSeconds() <= recordAge.toSeconds()) {
      Annotations.of(this).addWarningV2(
        'exactly-once:sweeper-races-relay',
        `olderThan (${describeDuration(this.olderThan)}) is not above the relay's maxRecordAge (${describeDuration(recordAge)}): the ` +
          'sweeper publishes events the relay is still retrying (duplicates downstream, deduplicated by event id); raise olderThan',
      );
    }
    props.relay.addPublisher(props.handler);
    props.relay.table.grant(props.handler, 'dynamodb:Scan');
    props.handler.addEnvironment(ENV.OUTBOX_SWEEP_AGE_SECONDS, String(this.olderThan.toSeconds()));
    this.rule = new events.Rule(this, 'Schedule', {
      description: `Publishes outbox events still unpublished after ${describeDuration(this.olderThan)}`,
      schedule: events.Schedule.rate(interval),
      targets: [new targets.LambdaFunction(props.handler, { retryAttempts: 2 })],
    });
  }

  /** Age (s) of the oldest outbox event still unpublished after a sweep: the outbox lag. */
  metricOldestUnpublishedAge(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: METRIC.OldestUnpublishedOutboxEventAge,
      dimensionsMap: { service: this.#serviceName, layer: 'outbox-sweeper' },
      statistic: 'Maximum',
      period: Duration.minutes(5),
      ...options,
    });
  }

  /** Outbox events the sweeper published (the relay had not). */
  metricEventsSwept(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: METRIC.OutboxEventsSwept,
      dimensionsMap: { service: this.#serviceName, layer: 'outbox-sweeper' },
      statistic: 'Sum',
      period: Duration.minutes(5),
      ...options,
    });
  }
}
