import { Annotations, Duration, Names, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { TENANT_KEY_PATTERN } from '../../lambdas/shared/fair-queue.js';
import { ConstructValidationError } from '../errors.js';
import { HandlerFunction, type HandlerFunctionOptions } from './handler-function.js';
import {
  allResolved,
  DEFAULT_QUEUE_RETENTION,
  defaultDedupTtl,
  describeDuration,
  DLQ_RETENTION,
  FIFO_DEDUP_WINDOW,
  minimumDedupTtl,
} from './windows.js';

/**
 * Provisioned mode of the SQS event source mapping: dedicated event pollers, each handling up to about 1 MB/s and 10
 * concurrent invocations, kept between a minimum and a maximum. Faster scaling, but billed while idle.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
 */
export interface ProvisionedPollers {
  /**
   * Pollers kept at all times: 2–200 for SQS.
   * @default 2
   */
  readonly minimumPollers?: number;
  /**
   * Pollers the mapping may scale up to: 2–2,000 for SQS, and at least `minimumPollers`.
   * @default 200
   */
  readonly maximumPollers?: number;
}

/** SQS provisioned-mode bounds (services-sqs-parameters: minimum 2–200, maximum 2–2000). */
export const PROVISIONED_POLLER_LIMITS = { minimum: { min: 2, max: 200, default: 2 }, maximum: { min: 2, max: 2000, default: 200 } } as const;

/** Props of {@link QueueConsumer}. */
export interface QueueConsumerProps {
  /** Path of the consumer's handler entry (TypeScript, exports `handler`). */
  readonly entry: string;
  /**
   * A FIFO queue (and a FIFO DLQ) instead of a standard one.
   * @default false
   */
  readonly fifo?: boolean;
  /**
   * Function options (timeout, memory, environment merged over the construct's).
   * @default - 30 s timeout, 512 MB
   */
  readonly functionOptions?: HandlerFunctionOptions;
  /**
   * Powertools service name of the function.
   * @default - the construct id in kebab-case
   */
  readonly serviceName?: string;
  /**
   * Visibility timeout of the queue; must be at least 6 × the function timeout + the batching window (S12).
   * @default - 6 × the function timeout + the batching window
   */
  readonly visibilityTimeout?: Duration;
  /**
   * Receives before a message moves to the DLQ; at least 5 so a transient failure does not dead-letter (S13).
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * Records per invocation: 1–10,000 (standard), 1–10 (FIFO) (S1).
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * Batching window, 0–300 s; required (≥ 1 s) when batchSize > 10 (S2); not supported on FIFO (S3).
   * @default - none
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Maximum concurrent invocations by the mapping, 2–1,000 (S11). Cannot be combined with `provisionedPollers`.
   * @default - no cap beyond the account's concurrency
   */
  readonly maxConcurrency?: number;
  /**
   * Provisioned mode of the event source mapping (dedicated pollers, min/max). Mutually exclusive with
   * `maxConcurrency`: bound the scale with `maximumPollers` instead (about 10 concurrent invocations per poller).
   * @default - standard mode: Lambda scales the pollers itself
   */
  readonly provisionedPollers?: ProvisionedPollers;
  /**
   * Makes the (standard) queue an SQS fair queue: names the top-level message body field whose value every producer
   * sends as MessageGroupId (the tenant), so one tenant's backlog does not delay the others'. An `OutboxRelay` route
   * to this queue takes the key over (the relay and the sweeper send `MessageGroupId: tenantGroupId(body, key)`,
   * lambdas/shared/fair-queue.ts); another producer reads it from {@link QueueConsumer.tenantKey}. Not for FIFO queues,
   * whose groups already order and isolate.
   * @default - not a fair queue: producers send no MessageGroupId
   * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues.html
   */
  readonly fairQueueTenantKey?: string;
  /**
   * Message retention of the source queue (60 s–14 days).
   * @default Duration.days(4)
   */
  readonly retentionPeriod?: Duration;
  /**
   * How long a dead-lettered message may wait before it is redriven (at most the DLQ retention, 14 days).
   * @default Duration.days(14)
   */
  readonly redriveWindow?: Duration;
  /**
   * Lifetime of the consumer's dedup records (dedup markers or Powertools idempotency records). Must outlive the
   * source queue's retention + the redrive window, or a late duplicate applies twice.
   * @default - retention + redrive window + 1 day
   */
  readonly dedupTtl?: Duration;
  /**
   * Environment variable that receives {@link QueueConsumer.dedupTtl} in seconds, so the handler and the
   * validation use the same number.
   * @default - not injected
   */
  readonly dedupTtlEnvironmentVariable?: string;
  /**
   * Content-based deduplication on a FIFO queue (off: producers set MessageDeduplicationId).
   * @default false
   */
  readonly contentBasedDeduplication?: boolean;
  /**
   * High-throughput FIFO: DeduplicationScope messageGroup + FifoThroughputLimit perMessageGroupId.
   * @default true
   */
  readonly highThroughputFifo?: boolean;
  /**
   * Customer-managed KMS key for both queues.
   * @default - SQS-managed server-side encryption (SSE-SQS)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Removal policy of the queues.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A queue, its dead-letter queue and the Lambda function that consumes it, wired with partial batch responses
 * (ReportBatchItemFailures) always on. The constructor rejects what AWS rejects at deploy time (S1–S3, S11, S12) and
 * the window combinations that break exactly-once (issue 6).
 * @see https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 */
export class QueueConsumer extends Construct {
  /** The source queue. */
  readonly queue: sqs.Queue;
  /** Its dead-letter queue (FIFO when the source is FIFO), retention 14 days. */
  readonly deadLetterQueue: sqs.Queue;
  /** The consumer function. */
  readonly handler: HandlerFunction;
  /** Lifetime the consumer's dedup records must have (validated against the queue windows). */
  readonly dedupTtl: Duration;
  /** Whether the queue is FIFO. */
  readonly fifo: boolean;
  /** The fair-queue tenant key (body field sent as MessageGroupId), when the queue is a fair queue. */
  readonly tenantKey?: string;

  constructor(scope: Construct, id: string, props: QueueConsumerProps) {
    super(scope, id);
    const fifo = props.fifo ?? false;
    const timeout = props.functionOptions?.timeout ?? Duration.seconds(30);
    const batchSize = props.batchSize ?? 10;
    const window = props.maxBatchingWindow;
    const windowSeconds = window && !window.isUnresolved() ? window.toSeconds() : 0;
    const visibilityTimeout =
      props.visibilityTimeout ??
      (allResolved(timeout, window) ? Duration.seconds(6 * timeout.toSeconds() + windowSeconds) : undefined);
    const maxReceiveCount = props.maxReceiveCount ?? 5;
    const retention = props.retentionPeriod ?? DEFAULT_QUEUE_RETENTION;
    const redriveWindow = props.redriveWindow ?? DLQ_RETENTION;
    this.fifo = fifo;
    this.tenantKey = props.fairQueueTenantKey;

    const fail = (message: string): never => {
      throw new ConstructValidationError(this.node.path, message);
    };

    // S1: batch size ranges.
    if (allResolved(batchSize)) {
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
        fail(`batchSize (${batchSize}) must be an integer from 1 to 10000; set batchSize within that range`);
      }
      if (fifo && batchSize > 10) {
        fail(`batchSize (${batchSize}) must be at most 10 for a FIFO queue (S1); set batchSize to 10 or less`);
      }
    }
    // S3: no batching window on FIFO; window range 0–300 s.
    if (window && allResolved(window)) {
      if (fifo) {
        fail(
          `maxBatchingWindow (${describeDuration(window)}) is not supported on a FIFO queue (S3); remove maxBatchingWindow`,
        );
      }
      if (windowSeconds > 300) {
        fail(`maxBatchingWindow (${describeDuration(window)}) must be at most 300 s; lower maxBatchingWindow`);
      }
    }
    // S2: a batch larger than 10 needs a window of at least 1 s.
    if (allResolved(batchSize, window) && batchSize > 10 && windowSeconds < 1) {
      fail(
        `batchSize (${batchSize}) > 10 requires maxBatchingWindow ≥ 1 s (S2), got ${window ? describeDuration(window) : 'none'}; ` +
          'set maxBatchingWindow to at least Duration.seconds(1) or batchSize to 10 or less',
      );
    }
    // S11: maximum concurrency range.
    if (props.maxConcurrency !== undefined && allResolved(props.maxConcurrency)) {
      const c = props.maxConcurrency;
      if (!Number.isInteger(c) || c < 2 || c > 1000) {
        fail(`maxConcurrency (${c}) must be an integer from 2 to 1000 (S11); set maxConcurrency within that range`);
      }
    }
    // Provisioned mode (services-sqs-scaling, services-sqs-parameters): bounds, order, and no MaximumConcurrency.
    if (props.provisionedPollers) {
      const { minimumPollers, maximumPollers } = props.provisionedPollers;
      const limits = PROVISIONED_POLLER_LIMITS;
      if (props.maxConcurrency !== undefined) {
        fail(
          `provisionedPollers and maxConcurrency (${props.maxConcurrency}) cannot be combined: provisioned mode replaces the ` +
            'concurrency cap on an SQS event source mapping; remove maxConcurrency and bound the scale with ' +
            'provisionedPollers.maximumPollers (about 10 concurrent invocations per poller), or remove provisionedPollers',
        );
      }
      if (minimumPollers !== undefined && allResolved(minimumPollers)) {
        if (!Number.isInteger(minimumPollers) || minimumPollers < limits.minimum.min || minimumPollers > limits.minimum.max) {
          fail(
            `provisionedPollers.minimumPollers (${minimumPollers}) must be an integer from ${limits.minimum.min} to ` +
              `${limits.minimum.max} for an SQS queue; set minimumPollers within that range`,
          );
        }
      }
      if (maximumPollers !== undefined && allResolved(maximumPollers)) {
        if (!Number.isInteger(maximumPollers) || maximumPollers < limits.maximum.min || maximumPollers > limits.maximum.max) {
          fail(
            `provisionedPollers.maximumPollers (${maximumPollers}) must be an integer from ${limits.maximum.min} to ` +
              `${limits.maximum.max} for an SQS queue; set maximumPollers within that range`,
          );
        }
      }
      const min = minimumPollers ?? limits.minimum.default;
      const max = maximumPollers ?? limits.maximum.default;
      if (allResolved(min, max) && min > max) {
        fail(
          `provisionedPollers.minimumPollers (${min}) must not exceed maximumPollers (${max}); ` +
            `raise maximumPollers to at least ${min} or lower minimumPollers`,
        );
      }
    }
    // Fair queues are standard queues; the tenant key is one top-level body field.
    if (props.fairQueueTenantKey !== undefined) {
      if (fifo) {
        fail(
          `fairQueueTenantKey ("${props.fairQueueTenantKey}") applies to standard queues only (SQS fair queues); a FIFO ` +
            'queue already orders and isolates by MessageGroupId: remove fairQueueTenantKey or set fifo to false',
        );
      }
      if (!TENANT_KEY_PATTERN.test(props.fairQueueTenantKey)) {
        fail(
          `fairQueueTenantKey ("${props.fairQueueTenantKey}") must name a top-level field of the message body ` +
            '(letters, digits and _, not starting with a digit), e.g. "accountId"',
        );
      }
    }
    // S13: redrive after enough receives.
    if (allResolved(maxReceiveCount)) {
      if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1) {
        fail(`maxReceiveCount (${maxReceiveCount}) must be an integer ≥ 1; set maxReceiveCount to 5 or more`);
      }
      if (maxReceiveCount < 5) {
        fail(
          `maxReceiveCount (${maxReceiveCount}) must be at least 5 so a transient failure does not dead-letter a ` +
            'message (S13); set maxReceiveCount to 5 or more',
        );
      }
    }
    // S12: visibility ≥ 6 × timeout + window.
    if (visibilityTimeout && allResolved(visibilityTimeout, timeout, window)) {
      const required = 6 * timeout.toSeconds() + windowSeconds;
      if (visibilityTimeout.toSeconds() < required) {
        fail(
          `visibilityTimeout (${visibilityTimeout.toSeconds()} s) must be at least 6 × the function timeout ` +
            `(${timeout.toSeconds()} s)${windowSeconds ? ` + the batching window (${windowSeconds} s)` : ''} = ${required} s (S12); ` +
            `raise visibilityTimeout to ${required} s or lower the function timeout`,
        );
      }
      if (visibilityTimeout.toSeconds() > 43_200) {
        fail(
          `visibilityTimeout (${visibilityTimeout.toSeconds()} s) must be at most 43200 s (12 hours) (F3); lower the ` +
            'function timeout or visibilityTimeout',
        );
      }
    }
    if (allResolved(retention) && (retention.toSeconds() < 60 || retention.toSeconds() > DLQ_RETENTION.toSeconds())) {
      fail(`retentionPeriod (${describeDuration(retention)}) must be from 60 s to 14 days; set retentionPeriod in that range`);
    }
    if (allResolved(redriveWindow) && redriveWindow.toSeconds() > DLQ_RETENTION.toSeconds()) {
      fail(
        `redriveWindow (${describeDuration(redriveWindow)}) cannot exceed the DLQ retention (${describeDuration(DLQ_RETENTION)}); ` +
          'lower redriveWindow',
      );
    }
    // Issue 6: the dedup record must outlive every moment a duplicate can still arrive.
    this.dedupTtl = props.dedupTtl ?? defaultDedupTtl(retention, redriveWindow);
    if (allResolved(this.dedupTtl, retention, redriveWindow)) {
      const minimum = minimumDedupTtl(retention, redriveWindow);
      if (fifo && this.dedupTtl.toSeconds() < FIFO_DEDUP_WINDOW.toSeconds()) {
        fail(
          `dedupTtl (${describeDuration(this.dedupTtl)}) is shorter than the 5-minute SQS FIFO dedup window; a re-send ` +
            `after the window is delivered again and only the dedup record can stop it; set dedupTtl to at least ` +
            `${describeDuration(minimum)} (retention + redrive window)`,
        );
      }
      if (this.dedupTtl.toSeconds() < minimum.toSeconds()) {
        fail(
          `dedupTtl (${describeDuration(this.dedupTtl)}) must outlive the queue retention (${describeDuration(retention)}) + ` +
            `the redrive window (${describeDuration(redriveWindow)}) = ${describeDuration(minimum)}, or a redriven ` +
            'duplicate applies twice; raise dedupTtl, or lower retentionPeriod / redriveWindow',
        );
      }
    }

    const encryption = props.encryptionKey
      ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }
      : { encryption: sqs.QueueEncryption.SQS_MANAGED };
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      fifo: fifo || undefined,
      retentionPeriod: DLQ_RETENTION,
      enforceSSL: true,
      removalPolicy,
      ...encryption,
    });
    const highThroughput = fifo && (props.highThroughputFifo ?? true);
    this.queue = new sqs.Queue(this, 'Queue', {
      fifo: fifo || undefined,
      contentBasedDeduplication: fifo ? (props.contentBasedDeduplication ?? false) : undefined,
      deduplicationScope: highThroughput ? sqs.DeduplicationScope.MESSAGE_GROUP : undefined,
      fifoThroughputLimit: highThroughput ? sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID : undefined,
      visibilityTimeout,
      retentionPeriod: retention,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
      enforceSSL: true,
      removalPolicy,
      ...encryption,
    });

    this.handler = new HandlerFunction(this, 'Handler', {
      ...props.functionOptions,
      entry: props.entry,
      serviceName: props.serviceName,
      timeout,
      environment: {
        ...(props.dedupTtlEnvironmentVariable && !this.dedupTtl.isUnresolved()
          ? { [props.dedupTtlEnvironmentVariable]: String(this.dedupTtl.toSeconds()) }
          : {}),
        ...props.functionOptions?.environment,
      },
    });
    if (fifo && props.contentBasedDeduplication) {
      Annotations.of(this).addWarningV2(
        'exactly-once:content-based-dedup',
        'contentBasedDeduplication is on: two different payments with identical bodies within 5 minutes would be merged; ' +
          'prefer a MessageDeduplicationId derived from the producer idempotency key',
      );
    }
    this.handler.function.addEventSource(
      new LeastPrivilegeSqsEventSource(this.queue, {
        batchSize,
        maxBatchingWindow: window,
        maxConcurrency: props.maxConcurrency,
        provisionedPollerConfig: props.provisionedPollers
          ? {
              minimumPollers: props.provisionedPollers.minimumPollers ?? PROVISIONED_POLLER_LIMITS.minimum.default,
              maximumPollers: props.provisionedPollers.maximumPollers ?? PROVISIONED_POLLER_LIMITS.maximum.default,
            }
          : undefined,
        reportBatchItemFailures: true,
      }),
    );
  }
}

/**
 * The fair-queue tenant key of a queue that a {@link QueueConsumer} created with `fairQueueTenantKey`, else undefined
 * (an imported queue, or another construct's).
 */
export function fairQueueTenantKeyOf(queue: sqs.IQueue): string | undefined {
  const scope = queue.node.scope;
  return scope instanceof QueueConsumer && scope.queue === queue ? scope.tenantKey : undefined;
}

/** Mapping options of {@link LeastPrivilegeSqsEventSource}. */
export interface LeastPrivilegeSqsEventSourceProps {
  /** Records per invocation. */
  readonly batchSize: number;
  /**
   * Batching window.
   * @default - none
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Maximum concurrent invocations by the mapping.
   * @default - no cap
   */
  readonly maxConcurrency?: number;
  /**
   * Provisioned mode: minimum and maximum event pollers (excludes maxConcurrency).
   * @default - on-demand pollers
   */
  readonly provisionedPollerConfig?: lambda.ProvisionedPollerConfig;
  /**
   * Partial batch responses (ReportBatchItemFailures).
   * @default false
   */
  readonly reportBatchItemFailures?: boolean;
}

/**
 * An SQS event source that grants the function's role exactly what the Lambda poller calls — sqs:ReceiveMessage,
 * sqs:DeleteMessage and sqs:GetQueueAttributes on the queue, and kms:Decrypt on its key when it has a
 * customer-managed one (C4, C5) — where CDK's `SqsEventSource` grants `grantConsumeMessages`, which adds
 * sqs:ChangeMessageVisibility and sqs:GetQueueUrl that the poller never calls. The mapping keeps the id
 * `SqsEventSource` gives it, so its logical id does not change.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
 */
export class LeastPrivilegeSqsEventSource implements lambda.IEventSource {
  constructor(
    private readonly queue: sqs.IQueue,
    private readonly props: LeastPrivilegeSqsEventSourceProps,
  ) {}

  bind(target: lambda.IFunction): void {
    target.addEventSourceMapping(`SqsEventSource:${Names.nodeUniqueId(this.queue.node)}`, {
      eventSourceArn: this.queue.queueArn,
      batchSize: this.props.batchSize,
      maxBatchingWindow: this.props.maxBatchingWindow,
      maxConcurrency: this.props.maxConcurrency,
      provisionedPollerConfig: this.props.provisionedPollerConfig,
      reportBatchItemFailures: this.props.reportBatchItemFailures,
    });
    this.queue.grant(target, 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes');
    this.queue.encryptionMasterKey?.grant(target, 'kms:Decrypt');
  }
}
