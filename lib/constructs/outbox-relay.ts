import { Annotations, Duration, Lazy, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaEventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ConstructValidationError } from '../errors.js';
import { ACCOUNT_PREFIX, LEDGER_KEYS, OUTBOX_PREFIX } from '../../lambdas/shared/ledger-keys.js';
import { ENV } from '../../lambdas/shared/env.js';
import { TENANT_KEY_PATTERN } from '../../lambdas/shared/fair-queue.js';
import { fairQueueTenantKeyOf } from './queue-consumer.js';
import { allResolved, describeDuration, DLQ_RETENTION } from './windows.js';

/**
 * Where outbox events of some types go: by exact type (`eventTypes`) or by prefix (`eventTypePrefix`, `''` = every
 * type). An event matching several routes is published to each (fan-out); its group key and event id become the
 * FIFO MessageGroupId / MessageDeduplicationId on a `.fifo` destination, and on a fair queue (a standard destination
 * with a tenant key) its tenant becomes the MessageGroupId.
 */
export interface OutboxRoute {
  /**
   * Event types sent to the destination.
   * @default - none: give `eventTypes` or `eventTypePrefix`
   */
  readonly eventTypes?: readonly string[];
  /**
   * Every event type starting with this prefix (`''` matches all).
   * @default - none: give `eventTypes` or `eventTypePrefix`
   */
  readonly eventTypePrefix?: string;
  /** The queue; the relay (and the sweeper) are granted SendMessage on it. */
  readonly destination: sqs.IQueue;
  /**
   * Makes the destination an SQS fair queue for these events: the top-level body field whose value the relay and the
   * sweeper send as MessageGroupId (the tenant). A body without the field is rejected (marked `rejectedAt`), not
   * sent. Standard queues only; when the destination is a `QueueConsumer`'s queue declared with
   * `fairQueueTenantKey`, that key is taken and a different one here is refused.
   * @default - the destination QueueConsumer's `fairQueueTenantKey`; otherwise none (no MessageGroupId)
   * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues.html
   */
  readonly fairQueueTenantKey?: string;
}

/** Props of {@link OutboxRelay}. */
export interface OutboxRelayProps {
  /** The table whose stream carries the outbox items (must have a stream). */
  readonly table: dynamodb.ITable;
  /** The relay function (receives the filtered stream records). */
  readonly handler: lambda.Function;
  /**
   * Routes by event type; more with {@link OutboxRelay.addRoute} (each consumer adds its own). Injected as
   * `OUTBOX_ROUTES`; the schema of each event type is registered in `lambdas/relay/event-schemas.ts`.
   * @default - none besides `target`
   */
  readonly routes?: readonly OutboxRoute[];
  /**
   * Shorthand for a catch-all route (`eventTypePrefix: ''`) to this queue.
   * @deprecated give `routes` (by type or prefix), so a second consumer's events do not land in the first one's queue
   * @default - no catch-all route
   */
  readonly target?: sqs.IQueue;
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
   * Retries of a failing batch before its metadata goes to the failure queue, 0–10,000 (D3). Bounded so a failing
   * destination cannot block the shard for the stream's 24 hours; the outbox sweeper publishes what the relay gave
   * up on (an invalid event is not retried at all: it is marked rejected).
   * @default 3
   */
  readonly retryAttempts?: number;
  /**
   * Records older than this go to the failure queue, 60 s–7 days (D7); the sweeper's age threshold should exceed it.
   * @default Duration.minutes(15)
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
  /** The table whose outbox items the relay reads and marks. */
  readonly table: dynamodb.ITable;
  /** Records older than this go to the failure queue (the sweeper publishes them later). */
  readonly maxRecordAge: Duration;
  readonly #routes: OutboxRoute[] = [];
  readonly #publishers: lambda.IFunction[] = [];

  constructor(scope: Construct, id: string, props: OutboxRelayProps) {
    super(scope, id);
    const batchSize = props.batchSize ?? 100;
    const retryAttempts = props.retryAttempts ?? 3;
    const maxRecordAge = props.maxRecordAge ?? Duration.minutes(15);
    this.table = props.table;
    this.maxRecordAge = maxRecordAge;
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

    this.addPublisher(props.handler);
    this.#acknowledgeNagFindings(props.handler);
    if (props.target) this.addRoute({ eventTypePrefix: '', destination: props.target });
    for (const route of props.routes ?? []) this.addRoute(route);
    this.node.addValidation({
      validate: () => (this.#routes.length === 0 ? [`${this.node.path} has no route: give routes or call addRoute for each event type`] : []),
    });
  }

  /** cdk-nag findings inherent to a stream relay, acknowledged on the narrowest construct with the reason. */
  #acknowledgeNagFindings(handler: lambda.Function): void {
    const policy = handler.role?.node.tryFindChild('DefaultPolicy');
    // DynamoDB Streams mappings need dynamodb:ListStreams, which has no resource-level permission.
    if (policy) {
      Validations.of(policy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'dynamodb:ListStreams does not support resource-level permissions (AWS requires "*").',
      });
    }
    Validations.of(this.failureQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the on-failure destination of the stream mapping: it is the terminal dead-letter store.',
    });
  }

  /** The routes so far (consumers add theirs with {@link OutboxRelay.addRoute}). */
  get routes(): readonly OutboxRoute[] {
    return [...this.#routes];
  }

  /**
   * Routes event types to a queue and grants every publisher (the relay, the sweeper) SendMessage on it.
   * @throws ConstructValidationError when the route has both or neither of eventTypes / eventTypePrefix, or an empty type;
   *   or a fair-queue tenant key that is not a body field name, is on a FIFO queue, or differs from the one the
   *   destination's QueueConsumer (or another route to it) declares.
   */
  addRoute(route: OutboxRoute): void {
    const byType = route.eventTypes !== undefined;
    const byPrefix = route.eventTypePrefix !== undefined;
    if (byType === byPrefix) {
      throw new ConstructValidationError(
        this.node.path,
        `a route to ${route.destination.node.path} must have either eventTypes or eventTypePrefix (got ${byType ? 'both' : 'neither'}); ` +
          "give eventTypes: ['OrderPlaced'] or eventTypePrefix: 'Order'",
      );
    }
    if (byType && (route.eventTypes!.length === 0 || route.eventTypes!.some((t) => !/^[A-Za-z0-9._:-]{1,128}$/.test(t)))) {
      throw new ConstructValidationError(
        this.node.path,
        `eventTypes (${JSON.stringify(route.eventTypes)}) must be a non-empty list of 1-128 characters of A-Z a-z 0-9 . _ : -`,
      );
    }
    const fairQueueTenantKey = this.#tenantKeyOf(route);
    this.#routes.push(fairQueueTenantKey === undefined ? route : { ...route, fairQueueTenantKey });
    for (const fn of this.#publishers) grantPublish(route.destination, fn);
  }

  /** The route's fair-queue tenant key: given, or declared by the destination's QueueConsumer (both must agree). */
  #tenantKeyOf(route: OutboxRoute): string | undefined {
    const declared = fairQueueTenantKeyOf(route.destination);
    const given = route.fairQueueTenantKey;
    const where = route.destination.node.path;
    if (given !== undefined && declared !== undefined && given !== declared) {
      throw new ConstructValidationError(
        this.node.path,
        `fairQueueTenantKey ("${given}") of the route to ${where} differs from the tenant key its QueueConsumer declares ` +
          `("${declared}"): the consumer and its producers must name one tenant; remove fairQueueTenantKey from the route`,
      );
    }
    if (given !== undefined && !TENANT_KEY_PATTERN.test(given)) {
      throw new ConstructValidationError(
        this.node.path,
        `fairQueueTenantKey ("${given}") of the route to ${where} must name a top-level field of the message body ` +
          '(letters, digits and _, not starting with a digit), e.g. "accountId"',
      );
    }
    if (given !== undefined && route.destination.fifo) {
      throw new ConstructValidationError(
        this.node.path,
        `fairQueueTenantKey ("${given}") applies to standard queues only (SQS fair queues), but ${where} is FIFO: ` +
          'remove fairQueueTenantKey from the route',
      );
    }
    const key = given ?? declared;
    const other = this.#routes.find((r) => r.destination === route.destination && r.fairQueueTenantKey !== key);
    if (other) {
      throw new ConstructValidationError(
        this.node.path,
        `the routes to ${where} give it two fair-queue tenant keys (${String(other.fairQueueTenantKey)} and ${String(key)}): ` +
          'a fair queue has one tenant key; give every route to it the same fairQueueTenantKey',
      );
    }
    return key;
  }

  /**
   * Lets another function publish with the relay's routes (the outbox sweeper): grants SendMessage on every
   * destination, UpdateItem on the table (the `publishedAt` / `rejectedAt` marks), and sets `OUTBOX_ROUTES` and
   * `OUTBOX_TABLE_NAME`.
   */
  addPublisher(fn: lambda.Function): void {
    this.#publishers.push(fn);
    for (const route of this.#routes) grantPublish(route.destination, fn);
    this.table.grant(fn, 'dynamodb:UpdateItem');
    this.table.encryptionKey?.grant(fn, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey');
    fn.addEnvironment(ENV.OUTBOX_TABLE_NAME, this.table.tableName);
    fn.addEnvironment(
      ENV.OUTBOX_ROUTES,
      Lazy.string({
        produce: () =>
          Stack.of(this).toJsonString(
            this.#routes.map((r) => ({
              ...(r.eventTypes ? { eventTypes: r.eventTypes } : { eventTypePrefix: r.eventTypePrefix }),
              queueUrl: r.destination.queueUrl,
              ...(r.fairQueueTenantKey === undefined ? {} : { tenantKey: r.fairQueueTenantKey }),
            })),
          ),
      }),
    );
  }
}

/** SendMessageBatch is authorised by sqs:SendMessage; no other action is needed to publish. */
function grantPublish(queue: sqs.IQueue, fn: lambda.IFunction): void {
  queue.grant(fn, 'sqs:SendMessage');
  queue.encryptionMasterKey?.grant(fn, 'kms:GenerateDataKey', 'kms:Decrypt');
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
