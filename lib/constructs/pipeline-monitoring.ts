import { Duration, Lazy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ConstructValidationError } from '../errors.js';
import { METRICS_NAMESPACE } from './handler-function.js';
import { allResolved, describeDuration } from './windows.js';

/** The runbook shipped with the blueprint: one section per alarm id. */
export const DEFAULT_RUNBOOK = 'lib/README.md';

/** A function the monitoring watches, with a short label for alarm names and widgets. */
export interface MonitoredFunction {
  readonly label: string;
  readonly function: lambda.IFunction;
}

/** A queue the monitoring watches. */
export interface MonitoredQueue {
  readonly label: string;
  readonly queue: sqs.IQueue;
}

/** The EMF dimensions of one function's business metrics (Powertools adds `service`; the handlers add `layer`). */
export interface MetricSource {
  readonly service: string;
  readonly layer: string;
}

/** Props of {@link PipelineMonitoring}. */
export interface PipelineMonitoringProps {
  /** Topic every alarm notifies. */
  readonly topic: sns.ITopic;
  /** Functions: an Errors alarm and a Throttles alarm each. */
  readonly functions: MonitoredFunction[];
  /** Source queues: an age-of-oldest-message alarm each. */
  readonly queues: MonitoredQueue[];
  /** Dead-letter and failure queues: a not-empty alarm each. */
  readonly deadLetterQueues: MonitoredQueue[];
  /** Stream-consuming functions: an iterator-age alarm each. */
  readonly streamConsumers: MonitoredFunction[];
  /**
   * Where the ledger consumer's `PaymentsApplied` and `DuplicatesSkipped` come from (duplicate-rate alarm), and its
   * `FencedWithoutMarker` (a payment behind the sequence fence that was never applied: dead-lettered, alarmed).
   */
  readonly ledgerMetrics: MetricSource;
  /** Every function's metric dimensions, for the dashboard's business widgets. */
  readonly metricSources: MetricSource[];
  /**
   * Age of the oldest message that raises an alarm.
   * @default Duration.minutes(10)
   */
  readonly oldestMessageAgeThreshold?: Duration;
  /**
   * Stream iterator age that raises an alarm.
   * @default Duration.minutes(5)
   */
  readonly iteratorAgeThreshold?: Duration;
  /**
   * Share of ledger deliveries that were duplicates (percent, 0–100) over 5 minutes that raises an alarm.
   * @default 20
   */
  readonly duplicateRatePercent?: number;
  /**
   * Metrics namespace of the EMF metrics.
   * @default 'ExactlyOncePayments'
   */
  readonly namespace?: string;
  /**
   * Where the runbook lives; each alarm's description links `<runbookUrl>#<section>` (the alarm id in lower case;
   * `function-errors` / `function-throttles` for the per-function alarms).
   * @default 'lib/README.md'
   */
  readonly runbookUrl?: string;
  /**
   * Dashboard title.
   * @default - generated
   */
  readonly dashboardName?: string;
}

/**
 * Alarms (DLQ not empty, age of oldest message, stream iterator age, function errors and throttles, duplicate-rate
 * spike, a payment fenced without a marker) to one SNS topic, and a CloudWatch dashboard of the pipeline. Each alarm's description links its runbook
 * section.
 */
export class PipelineMonitoring extends Construct {
  /** Every alarm created, by construct id. */
  readonly alarms: Record<string, cloudwatch.Alarm> = {};
  /** The dashboard. */
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: PipelineMonitoringProps) {
    super(scope, id);
    const rate = props.duplicateRatePercent ?? 20;
    if (allResolved(rate) && (rate <= 0 || rate > 100)) {
      throw new ConstructValidationError(
        this.node.path,
        `duplicateRatePercent (${rate}) must be above 0 and at most 100; set a percentage such as 20`,
      );
    }
    const oldestAge = props.oldestMessageAgeThreshold ?? Duration.minutes(10);
    const iteratorAge = props.iteratorAgeThreshold ?? Duration.minutes(5);
    const namespace = props.namespace ?? METRICS_NAMESPACE;
    const action = new cwActions.SnsAction(props.topic);
    const fiveMinutes = Duration.minutes(5);

    const alarm = (
      alarmId: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      description: string,
      section = alarmId.toLowerCase(),
    ) => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${description} Runbook: ${props.runbookUrl ?? DEFAULT_RUNBOOK}#${section}`,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      this.alarms[alarmId] = created;
      return created;
    };

    for (const { label, queue } of props.deadLetterQueues) {
      alarm(
        `${label}NotEmpty`,
        queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1) }),
        1,
        `${label} holds dead-lettered messages: inspect them, fix the cause, then redrive (npm run redrive).`,
      );
    }
    for (const { label, queue } of props.queues) {
      alarm(
        `${label}OldestMessageAge`,
        queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: Duration.minutes(1) }),
        oldestAge.toSeconds(),
        `The oldest message of ${label} is older than ${describeDuration(oldestAge)}: the consumer is stuck or too slow.`,
      );
    }
    for (const { label, function: fn } of props.streamConsumers) {
      alarm(
        `${label}IteratorAge`,
        fn.metric('IteratorAge', { statistic: 'Maximum', period: Duration.minutes(1) }),
        iteratorAge.toMilliseconds(),
        `${label} reads its stream more than ${describeDuration(iteratorAge)} behind: outbox events are delayed.`,
      );
    }
    for (const { label, function: fn } of props.functions) {
      alarm(
        `${label}Errors`,
        fn.metricErrors({ period: fiveMinutes }),
        1,
        `${label} failed whole invocations.`,
        'function-errors',
      );
      alarm(`${label}Throttles`, fn.metricThrottles({ period: fiveMinutes }), 1, `${label} was throttled.`, 'function-throttles');
    }

    // A topic policy replaces SNS's default one, so the policy the topic gets for `enforceSSL` (a Deny) leaves
    // CloudWatch without any Allow: every alarm notification would fail with "… is not authorized to perform:
    // SNS:Publish". Let exactly these alarms of this account publish (confused-deputy guard: source account and ARNs).
    // An imported topic keeps its own policy (addToResourcePolicy is a no-op there): it must allow the same.
    // @see https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger
    props.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [props.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
          // Lazy: every alarm of this construct, including any added after this statement.
          ArnEquals: { 'aws:SourceArn': Lazy.list({ produce: () => Object.values(this.alarms).map((a) => a.alarmArn) }) },
        },
      }),
    );

    const business = (metricName: string, source: MetricSource) =>
      new cloudwatch.Metric({
        namespace,
        metricName,
        dimensionsMap: { service: source.service, layer: source.layer },
        statistic: 'Sum',
        period: fiveMinutes,
      });
    const duplicateRate = new cloudwatch.MathExpression({
      expression: 'IF((applied + rejected + dup) > 0, 100 * dup / (applied + rejected + dup), 0)',
      usingMetrics: {
        applied: business('PaymentsApplied', props.ledgerMetrics),
        rejected: business('PaymentsRejected', props.ledgerMetrics),
        dup: business('DuplicatesSkipped', props.ledgerMetrics),
      },
      label: 'Ledger duplicate rate (%)',
      period: fiveMinutes,
    });
    alarm(
      'DuplicateRateSpike',
      duplicateRate,
      rate,
      `More than ${rate} % of ledger deliveries were duplicates over 5 minutes: a producer or the relay is re-sending.`,
    );

    alarm(
      'FencedWithoutMarker',
      business('FencedWithoutMarker', props.ledgerMetrics),
      1,
      'A payment reached the ledger behind its account\'s sequence fence and had never been applied (a later payment of ' +
        'the account was applied first): it was dead-lettered, not acknowledged. Redrive it to apply it, after the ' +
        'payments that overtook it.',
    );

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
    });
    const businessMetrics = ['PaymentsAccepted', 'PaymentsApplied', 'PaymentsRejected', 'EventsRelayed', 'WebhookAttempts'];
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Payments flow',
        width: 12,
        left: props.metricSources.flatMap((s) => businessMetrics.map((m) => business(m, s))),
      }),
      new cloudwatch.GraphWidget({
        title: 'Duplicates skipped per layer',
        width: 12,
        left: props.metricSources.map((s) => business('DuplicatesSkipped', s).with({ label: s.layer })),
        right: [duplicateRate],
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Failures (relay, webhook, poison)',
        width: 12,
        left: props.metricSources.flatMap((s) =>
          ['RelayFailures', 'WebhookFailures', 'PoisonMessages', 'ZombieCommitsFenced', 'FencedWithoutMarker', 'DeadLetteredAtOnce'].map((m) => business(m, s)),
        ),
      }),
      new cloudwatch.GraphWidget({
        title: 'Queues: age of oldest message (s)',
        width: 12,
        left: props.queues.map(({ label, queue }) =>
          queue.metricApproximateAgeOfOldestMessage({ label, statistic: 'Maximum' }),
        ),
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Dead-letter queues',
        width: 12,
        left: props.deadLetterQueues.map(({ label, queue }) =>
          queue.metricApproximateNumberOfMessagesVisible({ label, statistic: 'Maximum' }),
        ),
      }),
      new cloudwatch.GraphWidget({
        title: 'Relay iterator age (ms)',
        width: 12,
        left: props.streamConsumers.map(({ label, function: fn }) =>
          fn.metric('IteratorAge', { label, statistic: 'Maximum' }),
        ),
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Function errors and throttles',
        width: 12,
        left: props.functions.map(({ label, function: fn }) => fn.metricErrors({ label: `${label} errors` })),
        right: props.functions.map(({ label, function: fn }) => fn.metricThrottles({ label: `${label} throttles` })),
      }),
      new cloudwatch.GraphWidget({
        title: 'Function duration p99 (ms)',
        width: 12,
        left: props.functions.map(({ label, function: fn }) => fn.metricDuration({ label, statistic: 'p99' })),
      }),
    );
  }
}
