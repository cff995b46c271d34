import { Annotations, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaEventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ConstructValidationError } from '../errors.js';
import { ACCOUNT_PREFIX, LEDGER_KEYS, OUTBOX_PREFIX } from '../../lambdas/shared/ledger-keys.js';
import { ENV } from '../../lambdas/shared/env.js';
import { allResolved, describeDuration, DLQ_RETENTION } from './windows.js';

/** Props of {@link OutboxRelay}. */
export interface OutboxRelayProps {
  /** The table whose stream carries the outbox items (must have a stream). */
  readonly table: dynamodb.ITable;
  /** The relay function (receives the filtered stream records). */
  readonly handler: lambda.Function;
  /** The queue the relay publishes events to; the function is granted SendMessage on it. */
  readonly target: sqs.IQueue;
  /**
   * Environment variable that receives the target queue URL.
   * @default ENV.EVENTS_QUEUE_URL
   */
  readonly targetEnvironmentVariable?: string;
  /**
   * Also relay INSERT/MODIFY records of account items that carry `lastEvent` (the watermark strategy's outbox).
   * @default false
   */
  readonly includeWatermarkEvents?: boolean;
  /**
   * Records per invocation, 1–10,000 (D1).
   * @default 100
   */
  readonly batchSize?: number;
  /**
   * Retries of a failing batch before its metadata goes to the failure queue, 0–10,000 (D3). Bounded so a poison
   * record cannot block its shard for the stream's 24 hours.
   * @default 10
   */
  readonly retryAttempts?: number;
  /**
   * Records older than this go to the failure queue, 60 s–7 days (D7).
   * @default Duration.hours(1)
   */
  readonly maxRecordAge?: Duration;
  /**
   * Concurrent batches per shard, 1–10 (D9).
   * @default 1
   */
  readonly parallelizationFactor?: number;
  /**
   * Split a failing batch in two and retry each half (D4).
   * @default true
   */
  readonly bisectBatchOnError?: boolean;
  /**
   * Customer-managed KMS key for the failure queue.
   * @default - SQS-managed server-side encryption
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Removal policy of the failure queue.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The transactional-outbox relay: a DynamoDB Streams mapping that feeds only outbox INSERTs (FilterCriteria) to the
 * relay function, with partial batch responses, bisect on error, bounded retries and record age, and an on-failure
 * SQS destination that receives the metadata of batches that could not be relayed (D6).
 * @see https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html
 */
export class OutboxRelay extends Construct {
  /** On-failure destination: metadata of stream batches that exhausted their retries or record age. */
  readonly failureQueue: sqs.Queue;
  /** The event source mapping. */
  readonly eventSource: lambdaEventSources.DynamoEventSource;

  constructor(scope: Construct, id: string, props: OutboxRelayProps) {
    super(scope, id);
    const batchSize = props.batchSize ?? 100;
    const retryAttempts = props.retryAttempts ?? 10;
    const maxRecordAge = props.maxRecordAge ?? Duration.hours(1);
    const parallelizationFactor = props.parallelizationFactor ?? 1;
    const fail = (message: string): never => {
      throw new ConstructValidationError(this.node.path, message);
    };

    if (!props.table.tableStreamArn) {
      fail(`table ${props.table.node.path} has no stream; create it with stream: NEW_IMAGE (or NEW_AND_OLD_IMAGES)`);
    }
    if (allResolved(batchSize) && (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)) {
      fail(`batchSize (${batchSize}) must be an integer from 1 to 10000 (D1); set batchSize within that range`);
    }
    if (allResolved(retryAttempts) && (!Number.isInteger(retryAttempts) || retryAttempts < 0 || retryAttempts > 10_000)) {
      fail(
        `retryAttempts (${retryAttempts}) must be an integer from 0 to 10000 (D3); an unbounded retry blocks the shard ` +
          'until the record expires; set retryAttempts within that range',
      );
    }
    if (allResolved(maxRecordAge) && (maxRecordAge.toSeconds() < 60 || maxRecordAge.toSeconds() > 604_800)) {
      fail(
        `maxRecordAge (${describeDuration(maxRecordAge)}) must be from 60 s to 7 days (604800 s) (D7); set maxRecordAge ` +
          'within that range',
      );
    }
    if (
      allResolved(parallelizationFactor) &&
      (!Number.isInteger(parallelizationFactor) || parallelizationFactor < 1 || parallelizationFactor > 10)
    ) {
      fail(
        `parallelizationFactor (${parallelizationFactor}) must be an integer from 1 to 10 (D9); set ` +
          'parallelizationFactor within that range',
      );
    }

    if (allResolved(maxRecordAge) && maxRecordAge.toSeconds() > 86_400) {
      Annotations.of(this).addWarningV2(
        'exactly-once:relay-record-age',
        `maxRecordAge (${describeDuration(maxRecordAge)}) exceeds the 24-hour stream retention: records expire first and ` +
          'never reach the failure queue; keep maxRecordAge at 24 hours or less',
      );
    }

    this.failureQueue = new sqs.Queue(this, 'FailureQueue', {
      retentionPeriod: DLQ_RETENTION,
      enforceSSL: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
      ...(props.encryptionKey
        ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }
        : { encryption: sqs.QueueEncryption.SQS_MANAGED }),
    });

    const filters = [outboxInsertFilter()];
    if (props.includeWatermarkEvents) filters.push(watermarkAccountFilter());

    this.eventSource = new lambdaEventSources.DynamoEventSource(props.table, {
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize,
      retryAttempts,
      maxRecordAge,
      parallelizationFactor,
      bisectBatchOnError: props.bisectBatchOnError ?? true,
      reportBatchItemFailures: true,
      onFailure: new LeastPrivilegeSqsDestination(this.failureQueue),
      filters,
    });
    props.handler.addEventSource(this.eventSource);

    // SendMessageBatch is authorised by sqs:SendMessage; no other action is needed to publish.
    props.target.grant(props.handler, 'sqs:SendMessage');
    props.target.encryptionMasterKey?.grant(props.handler, 'kms:GenerateDataKey', 'kms:Decrypt');
    props.handler.addEnvironment(props.targetEnvironmentVariable ?? ENV.EVENTS_QUEUE_URL, props.target.queueUrl);
  }
}

/** FilterCriteria pattern: INSERTs of outbox items (`pk` begins with `OUTBOX#`). */
export function outboxInsertFilter(): Record<string, unknown> {
  return lambda.FilterCriteria.filter({
    eventName: lambda.FilterRule.isEqual('INSERT'),
    dynamodb: { Keys: { [LEDGER_KEYS.partitionKey]: { S: lambda.FilterRule.beginsWith(OUTBOX_PREFIX) } } },
  });
}

/**
 * FilterCriteria pattern: writes of account items whose new image carries `lastEvent` (watermark strategy): an
 * INSERT for an account's first payment, a MODIFY afterwards.
 */
export function watermarkAccountFilter(): Record<string, unknown> {
  return lambda.FilterCriteria.filter({
    eventName: lambda.FilterRule.or('INSERT', 'MODIFY'),
    dynamodb: {
      Keys: { [LEDGER_KEYS.partitionKey]: { S: lambda.FilterRule.beginsWith(ACCOUNT_PREFIX) } },
      NewImage: { lastEvent: { S: lambda.FilterRule.exists() } },
    },
  });
}

/**
 * On-failure SQS destination granting exactly `sqs:SendMessage` (and, for a KMS queue, `kms:GenerateDataKey` +
 * `kms:Decrypt`), where CDK's `SqsDlq` grants `kms:ReEncrypt*` and `kms:GenerateDataKey*` as well.
 */
export class LeastPrivilegeSqsDestination implements lambda.IEventSourceDlq {
  constructor(private readonly queue: sqs.IQueue) {}

  bind(_target: lambda.IEventSourceMapping, targetHandler: lambda.IFunction): lambda.DlqDestinationConfig {
    this.queue.grant(targetHandler, 'sqs:SendMessage');
    this.queue.encryptionMasterKey?.grant(targetHandler, 'kms:GenerateDataKey', 'kms:Decrypt');
    return { destination: this.queue.queueArn };
  }
}
