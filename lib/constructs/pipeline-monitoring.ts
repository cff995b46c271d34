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
import type { OutboxSweeper } from './outbox-sweeper.js';
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

/**
 * Runbook sections every alarm links to (`<runbookUrl>#<section>`); lib/README.md has one heading per section, and
 * a test checks that every alarm's anchor exists there.
 */
export const RUNBOOK_SECTIONS = {
  functionErrors: 'function-errors',
  functionThrottles: 'function-throttles',
  consumerDlq: 'consumer-dlq-not-empty',
  consumerOldestMessage: 'consumer-oldest-message-age',
  consumerDuplicateRate: 'consumer-duplicate-rate',
  outboxLag: 'outboxlag',
  outboxRejected: 'outboxeventsrejected',
} as const;

/**
 * A consumer the monitoring watches as one unit: its DLQ, queue age, function errors and throttles, duplicate rate and
 * effect metrics, under its own name. Every consumer of the registry (lib/consumers) gets one.
 */
export interface MonitoredConsumer {
  /** PascalCase name: the alarm ids (`<label>DlqNotEmpty`, `<label>Errors`, `<label>DuplicateRateSpike`…) and widget titles. */
  readonly label: string;
  readonly function: lambda.IFunction;
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  /** Its EMF metrics' dimensions (`service` = the consumer's name, `layer`). */
  readonly metrics: MetricSource;
  /**
   * Metric names that count one effect each (applied, or an outcome such as a rejection).
   * @default ['EffectsApplied']
   */
  readonly effectMetrics?: readonly string[];
  /**
   * Metric name of the deliveries skipped as duplicates.
   * @default 'DuplicatesSkipped'
   */
  readonly duplicateMetric?: string;
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
   * Where the payments ledger's `PaymentsApplied` and `DuplicatesSkipped` come from (the `DuplicateRateSpike` alarm), and
   * its `FencedWithoutMarker` (a payment behind the sequence fence that was never applied: dead-lettered, alarmed).
   * @deprecated pass the ledger in `consumers` with its effect metrics; kept so existing stacks keep their alarm ids
   * @default - no ledger alarm
   */
  readonly ledgerMetrics?: MetricSource;
  /**
   * Every function's metric dimensions, for the dashboard's business widgets.
   * @default []
   */
  readonly metricSources?: MetricSource[];
  /**
   * Consumers watched as units (DLQ, queue age, errors, throttles, duplicate rate, effects), each under its own name.
   * @default []
   */
  readonly consumers?: readonly MonitoredConsumer[];
  /**
   * The outbox sweeper: an `OutboxLag` alarm on the age of the oldest unpublished outbox event, and an
   * `OutboxEventsRejected` alarm on events the relay refused.
   * @default - no outbox alarms
   */
  readonly outbox?: {
    readonly sweeper: OutboxSweeper;
    /** The relay's metric dimensions (its `OutboxEventsRejected`). */
    readonly relayMetrics: MetricSource;
    /**
     * Lag that raises the alarm.
     * @default - twice the sweeper's olderThan
     */
    readonly lagThreshold?: Duration;
  };
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
    const duplicateRate = props.ledgerMetrics
      ? new cloudwatch.MathExpression({
          expression: 'IF((applied + rejected + dup) > 0, 100 * dup / (applied + rejected + dup), 0)',
          usingMetrics: {
            applied: business('PaymentsApplied', props.ledgerMetrics),
            rejected: business('PaymentsRejected', props.ledgerMetrics),
            dup: business('DuplicatesSkipped', props.ledgerMetrics),
          },
          label: 'Ledger duplicate rate (%)',
          period: fiveMinutes,
        })
      : undefined;
    if (duplicateRate) {
      alarm(
        'DuplicateRateSpike',
        duplicateRate,
        rate,
        `More than ${rate} % of ledger deliveries were duplicates over 5 minutes: a producer or the relay is re-sending.`,
      );
    }

    const consumerRates = (props.consumers ?? []).map((consumer) => this.#watchConsumer(consumer, { alarm, business, rate, oldestAge, fiveMinutes }));

    if (props.outbox) {
      const { sweeper } = props.outbox;
      const lag = props.outbox.lagThreshold ?? Duration.seconds(2 * sweeper.olderThan.toSeconds());
      alarm(
        'OutboxLag',
        sweeper.metricOldestUnpublishedAge(),
        lag.toSeconds(),
        `An outbox event is still unpublished after ${describeDuration(lag)}, sweeper included: events are not reaching their destinations.`,
        RUNBOOK_SECTIONS.outboxLag,
      );
      alarm(
        'OutboxEventsRejected',
        business('OutboxEventsRejected', props.outbox.relayMetrics),
        1,
        'The relay rejected outbox events for good (no schema registered, no route, or a payload failing its schema): they are not published.',
        RUNBOOK_SECTIONS.outboxRejected,
      );
    }

    if (props.ledgerMetrics) {
      alarm(
        'FencedWithoutMarker',
        business('FencedWithoutMarker', props.ledgerMetrics),
        1,
        'A payment reached the ledger behind its account\'s sequence fence and had never been applied (a later payment of ' +
          'the account was applied first): it was dead-lettered, not acknowledged. Redrive it to apply it, after the ' +
          'payments that overtook it.',
      );
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
    });
    const metricSources = props.metricSources ?? [];
    const businessMetrics = ['PaymentsAccepted', 'PaymentsApplied', 'PaymentsRejected', 'EventsRelayed', 'WebhookAttempts'];
    if (metricSources.length > 0) {
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: 'Payments flow',
          width: 12,
          left: metricSources.flatMap((s) => businessMetrics.map((m) => business(m, s))),
        }),
        new cloudwatch.GraphWidget({
          title: 'Duplicates skipped per layer',
          width: 12,
          left: metricSources.map((s) => business('DuplicatesSkipped', s).with({ label: s.layer })),
          right: duplicateRate ? [duplicateRate] : [],
        }),
      );
    }
    (props.consumers ?? []).forEach((consumer, index) => {
      const effects = consumer.effectMetrics ?? ['EffectsApplied'];
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: `${consumer.label}: effects and duplicates`,
          width: 12,
          left: [...effects, consumer.duplicateMetric ?? 'DuplicatesSkipped'].map((m) => business(m, consumer.metrics).with({ label: m })),
          right: [consumerRates[index]!],
        }),
        new cloudwatch.GraphWidget({
          title: `${consumer.label}: queue age (s) and dead letters`,
          width: 12,
          left: [consumer.queue.metricApproximateAgeOfOldestMessage({ label: 'oldest message age', statistic: 'Maximum' })],
          right: [consumer.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: 'DLQ', statistic: 'Maximum' })],
        }),
      );
    });
    if (props.outbox) {
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: 'Outbox: oldest unpublished event age (s) and events swept',
          width: 24,
          left: [props.outbox.sweeper.metricOldestUnpublishedAge({ label: 'oldest unpublished (s)' })],
          right: [props.outbox.sweeper.metricEventsSwept({ label: 'swept' }), business('OutboxEventsRejected', props.outbox.relayMetrics).with({ label: 'rejected' })],
        }),
      );
    }
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Failures (relay, webhook, poison)',
        width: 12,
        left: metricSources.flatMap((s) =>
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

  /** A consumer's alarms under its own name; returns its duplicate-rate expression for the dashboard. */
  #watchConsumer(
    consumer: MonitoredConsumer,
    tools: {
      alarm: (id: string, metric: cloudwatch.IMetric, threshold: number, description: string, section?: string) => cloudwatch.Alarm;
      business: (metricName: string, source: MetricSource) => cloudwatch.Metric;
      rate: number;
      oldestAge: Duration;
      fiveMinutes: Duration;
    },
  ): cloudwatch.MathExpression {
    const { alarm, business, rate, oldestAge, fiveMinutes } = tools;
    const { label } = consumer;
    if (!/^[A-Z][A-Za-z0-9]*$/.test(label)) {
      throw new ConstructValidationError(this.node.path, `consumer label "${label}" must be PascalCase letters and digits (it names alarms); pass e.g. "Orders"`);
    }
    alarm(
      `${label}DlqNotEmpty`,
      consumer.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1) }),
      1,
      `${label} dead-lettered messages: inspect them, fix the cause, then npm run redrive -- ${label}DlqUrl (applied ones are skipped).`,
      RUNBOOK_SECTIONS.consumerDlq,
    );
    alarm(
      `${label}OldestMessageAge`,
      consumer.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: Duration.minutes(1) }),
      oldestAge.toSeconds(),
      `The oldest message of ${label} is older than ${describeDuration(oldestAge)}: the consumer is stuck or too slow.`,
      RUNBOOK_SECTIONS.consumerOldestMessage,
    );
    alarm(`${label}Errors`, consumer.function.metricErrors({ period: fiveMinutes }), 1, `${label} failed whole invocations.`, RUNBOOK_SECTIONS.functionErrors);
    alarm(`${label}Throttles`, consumer.function.metricThrottles({ period: fiveMinutes }), 1, `${label} was throttled.`, RUNBOOK_SECTIONS.functionThrottles);
    const effects = consumer.effectMetrics ?? ['EffectsApplied'];
    const usingMetrics: Record<string, cloudwatch.IMetric> = { dup: business(consumer.duplicateMetric ?? 'DuplicatesSkipped', consumer.metrics) };
    effects.forEach((name, i) => (usingMetrics[`e${i}`] = business(name, consumer.metrics)));
    const total = ['dup', ...effects.map((_, i) => `e${i}`)].join(' + ');
    const duplicateRate = new cloudwatch.MathExpression({
      expression: `IF((${total}) > 0, 100 * dup / (${total}), 0)`,
      usingMetrics,
      label: `${label} duplicate rate (%)`,
      period: fiveMinutes,
    });
    alarm(
      `${label}DuplicateRateSpike`,
      duplicateRate,
      rate,
      `More than ${rate} % of ${label} deliveries were duplicates over 5 minutes: a producer is re-sending, or redeliveries after timeouts.`,
      RUNBOOK_SECTIONS.consumerDuplicateRate,
    );
    return duplicateRate;
  }
}
