import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { LedgerStrategyName } from '../lambdas/ledger/strategy.js';
import { ENV } from '../lambdas/shared/env.js';
import { PAYMENT_EVENT_TYPES } from '../lambdas/shared/payments-model.js';
import { validateNotifierTimeBudget, type PaymentsConfig } from './config.js';
import { HandlerFunction } from './constructs/handler-function.js';
import { OutboxRelay } from './constructs/outbox-relay.js';
import { OutboxSweeper } from './constructs/outbox-sweeper.js';
import { checkStreamViewChange } from './constructs/strategy-switch.js';
import { PipelineMonitoring } from './constructs/pipeline-monitoring.js';
import { QueueConsumer } from './constructs/queue-consumer.js';
import { IdempotencyTable, LEDGER_CONSUMER_ACTIONS, LedgerTable, type LedgerItemAction } from './constructs/tables.js';
import { addConsumers, monitoredConsumers } from './consumers/index.js';
import { addApiKeyOutputs, addPaymentRequestModel, grantAccountRead, grantCreatePayment } from './api-access.js';
import { WebhookSigningSecret } from './constructs/webhook-signing-secret.js';
import { LoyaltyConsumer } from './payments/loyalty.js';
import { UnsafeDeploymentError } from './errors.js';

/** Environment variables that switch fault injection on; the stack refuses to synthesize them (issue 4). */
export const FORBIDDEN_FUNCTION_ENV = [ENV.FAULT_PLAN, ENV.LOCAL_RUNTIME] as const;

/** Stack output names: a contract with the local runtime, the e2e suite and the scripts. */
export const OUTPUT_NAMES = [
  'ApiUrl',
  'PaymentsQueueUrl',
  'PaymentsDlqUrl',
  'EventsQueueUrl',
  'EventsDlqUrl',
  'RelayFailureQueueUrl',
  'LoyaltyQueueUrl',
  'LoyaltyDlqUrl',
  'LoyaltyEventsQueueUrl',
  'LoyaltyEventsDlqUrl',
  'LedgerTableName',
  'IdempotencyTableName',
  'WebhookSigningSecretArn',
] as const;
/** One stack output name. */
export type OutputName = (typeof OUTPUT_NAMES)[number];

/** Seconds a warm notifier keeps the signing secret before reading it again: a rotation reaches every instance within this. */
export const WEBHOOK_SECRET_MAX_AGE_SECONDS = 300;

/** Powertools service names of the functions (the `service` dimension of their metrics). */
export const SERVICE_NAMES = {
  createPayment: 'create-payment',
  getAccount: 'get-account',
  ledger: 'ledger',
  relay: 'relay',
  notifier: 'notifier',
  outboxSweeper: 'outbox-sweeper',
  loyalty: 'loyalty',
} as const;

/**
 * Ledger-table item actions each ledger strategy sends (a TransactWriteItems counts as the item actions it carries,
 * C1). `test/infra/security.test.ts` derives the same sets from the handler's code and fails when they differ.
 */
export const LEDGER_TABLE_ACTIONS: Readonly<Record<LedgerStrategyName, readonly LedgerItemAction[]>> = {
  atomic: LEDGER_CONSUMER_ACTIONS,
  watermark: ['UpdateItem'],
  'at-least-once': ['PutItem', 'UpdateItem'],
  powertools: ['PutItem', 'UpdateItem'],
};

const DEFAULT_LAMBDAS_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'lambdas');

/** Props of {@link PaymentsStack}. */
export interface PaymentsStackProps extends StackProps {
  /** The parsed configuration (see `parseConfig`). */
  readonly config: PaymentsConfig;
  /**
   * Folder holding `<function>/handler.ts` for every function.
   * @default - the repository's `lambdas/` folder
   */
  readonly lambdasRoot?: string;
}

/**
 * The exactly-once payments pipeline: REST API → payments FIFO queue → ledger consumer (one transaction per
 * payment) → ledger stream → outbox relay → events queue → webhook notifier, with alarms and a dashboard.
 */
export class PaymentsStack extends Stack {
  /** The API. */
  readonly api: apigateway.RestApi;
  /** Ledger table (accounts, dedup markers, outbox). */
  readonly ledgerTable: LedgerTable;
  /** Powertools idempotency table (API and notifier). */
  readonly idempotencyTable: IdempotencyTable;
  /** Payments FIFO queue and ledger consumer. */
  readonly ledger: QueueConsumer;
  /** Events queue and webhook notifier. */
  readonly notifier: QueueConsumer;
  /** The webhook signing secret (Secrets Manager). */
  readonly webhookSecret: WebhookSigningSecret;
  /** Outbox relay mapping and its failure queue. */
  readonly relay: OutboxRelay;
  /** Outbox recovery: publishes what the relay never published. */
  readonly sweeper: OutboxSweeper;
  /** The second example consumer: loyalty points fed by the payment events, with its own outbox events. */
  readonly loyalty: LoyaltyConsumer;
  /** Alarms and dashboard. */
  readonly monitoring: PipelineMonitoring;

  constructor(scope: Construct, id: string, props: PaymentsStackProps) {
    super(scope, id, props);
    const { config } = props;
    // parseConfig checks it too; a config built by hand must not bypass it.
    validateNotifierTimeBudget(config);
    const entry = (name: string) => path.join(props.lambdasRoot ?? DEFAULT_LAMBDAS_ROOT, name, 'handler.ts');
    const prod = config.stage === 'prod';
    const removalPolicy = prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logRetention = prod ? logs.RetentionDays.ONE_YEAR : logs.RetentionDays.ONE_WEEK;
    const functionDefaults = { memorySize: config.memorySize, logRetention, logRemovalPolicy: removalPolicy };
    const consumerTimeout = Duration.seconds(config.consumerTimeoutSeconds);

    const key =
      config.kmsKey === 'customer-managed'
        ? new kms.Key(this, 'DataKey', {
            description: 'Encrypts the payments tables, queues and alarm topic',
            enableKeyRotation: true,
            removalPolicy,
          })
        : undefined;

    // --- State -------------------------------------------------------------------------------------------------
    const streamViewType =
      config.ledgerStrategy === 'watermark' ? dynamodb.StreamViewType.NEW_AND_OLD_IMAGES : dynamodb.StreamViewType.NEW_IMAGE;
    const streamChange = checkStreamViewChange({
      where: id,
      desired: streamViewType,
      deployed: config.deployedStreamViewType,
      acknowledged: config.acknowledgeStreamReplacement,
      contextKeys: { deployed: 'deployedStreamViewType', acknowledge: 'acknowledgeStreamReplacement' },
    });
    if (streamChange === 'acknowledged-replacement') {
      Annotations.of(this).addWarningV2(
        'exactly-once:stream-replacement',
        `the ledger stream changes from ${config.deployedStreamViewType} to ${streamViewType}: the stream and the relay's mapping ` +
          'are replaced; the outbox sweeper publishes outbox items written meanwhile (lib/README.md, "Changing the ledger strategy")',
      );
    }
    this.ledgerTable = new LedgerTable(this, 'Ledger', {
      encryptionKey: key,
      removalPolicy,
      // The watermark strategy carries its event on the account item; the relay compares it with the old image.
      stream: streamViewType,
    });
    this.idempotencyTable = new IdempotencyTable(this, 'Idempotency', { encryptionKey: key, removalPolicy });

    // --- Ledger consumer on the payments FIFO queue ------------------------------------------------------------
    this.ledger = new QueueConsumer(this, 'Payments', {
      entry: entry('ledger'),
      fifo: true,
      serviceName: SERVICE_NAMES.ledger,
      maxReceiveCount: config.maxReceiveCount,
      encryptionKey: key,
      removalPolicy,
      dedupTtlEnvironmentVariable: ENV.DEDUP_TTL_SECONDS,
      functionOptions: {
        ...functionDefaults,
        timeout: consumerTimeout,
        description: 'Applies each payment once: dedup marker + balance + outbox event in one transaction',
        environment: { [ENV.LEDGER_STRATEGY]: config.ledgerStrategy },
      },
    });
    const ledgerFn = this.ledger.handler.function;
    this.ledgerTable.grantLedgerWrite(ledgerFn, LEDGER_TABLE_ACTIONS[config.ledgerStrategy]);
    // Poison and fenced-without-marker messages go to the DLQ at once, their reason as a message attribute.
    this.ledger.deadLetterQueue.grant(ledgerFn, 'sqs:SendMessage');
    this.ledger.deadLetterQueue.encryptionMasterKey?.grant(ledgerFn, 'kms:GenerateDataKey', 'kms:Decrypt');
    ledgerFn.addEnvironment(ENV.PAYMENTS_DLQ_URL, this.ledger.deadLetterQueue.queueUrl);
    if (config.ledgerStrategy === 'powertools') this.idempotencyTable.grantIdempotency(ledgerFn);

    // --- Notifier on the events queue --------------------------------------------------------------------------
    // Deliveries run one after another; size the batch so a batch of slow webhooks still ends before the timeout.
    const notifierBatchSize = Math.max(
      1,
      Math.min(10, Math.floor((config.consumerTimeoutSeconds * 1000 - 1000) / config.webhookTimeoutMs)),
    );
    // One receive per delivery attempt: the retry schedule hides a failed event for its backoff delay
    // (ChangeMessageVisibility) and SQS dead-letters it after the last attempt.
    this.notifier = new QueueConsumer(this, 'Events', {
      entry: entry('notifier'),
      // SQS fair queue: one busy account must not delay other accounts' webhooks. The relay's route to this queue takes
      // the key over; the relay and the sweeper send each event's accountId as MessageGroupId.
      fairQueueTenantKey: 'accountId',
      serviceName: SERVICE_NAMES.notifier,
      batchSize: notifierBatchSize,
      maxReceiveCount: config.webhookMaxAttempts,
      encryptionKey: key,
      removalPolicy,
      dedupTtlEnvironmentVariable: ENV.IDEMPOTENCY_TTL_SECONDS,
      functionOptions: {
        ...functionDefaults,
        timeout: consumerTimeout,
        description: 'Delivers each event to the webhook once (Powertools idempotency per record)',
        environment: {
          [ENV.WEBHOOK_URL]: config.webhookUrl,
          [ENV.WEBHOOK_TIMEOUT_MS]: String(config.webhookTimeoutMs),
          [ENV.WEBHOOK_MAX_ATTEMPTS]: String(config.webhookMaxAttempts),
          [ENV.WEBHOOK_RETRY_HORIZON_SECONDS]: String(Math.round(config.webhookRetryHorizonHours * 3600)),
          [ENV.WEBHOOK_SECRET_MAX_AGE_SECONDS]: String(WEBHOOK_SECRET_MAX_AGE_SECONDS),
        },
      },
    });
    const notifierFn = this.notifier.handler.function;
    this.idempotencyTable.grantIdempotency(notifierFn);
    // The retry schedule: delay a failed record on its queue, dead-letter a refused one directly.
    this.notifier.queue.grant(notifierFn, 'sqs:ChangeMessageVisibility');
    this.notifier.deadLetterQueue.grant(notifierFn, 'sqs:SendMessage');
    key?.grant(notifierFn, 'kms:GenerateDataKey', 'kms:Decrypt');
    notifierFn.addEnvironment(ENV.EVENTS_QUEUE_URL, this.notifier.queue.queueUrl);
    notifierFn.addEnvironment(ENV.EVENTS_DLQ_URL, this.notifier.deadLetterQueue.queueUrl);
    this.webhookSecret = new WebhookSigningSecret(this, 'WebhookSigningSecret', { encryptionKey: key, removalPolicy });
    this.webhookSecret.grantSign(notifierFn);

    // --- Outbox relay: ledger stream → events queue -------------------------------------------------------------
    const relayFn = new HandlerFunction(this, 'Relay', {
      ...functionDefaults,
      entry: entry('relay'),
      serviceName: SERVICE_NAMES.relay,
      timeout: consumerTimeout,
      description: 'Publishes outbox events from the ledger stream to the events queue',
    });
    this.relay = new OutboxRelay(this, 'OutboxRelay', {
      table: this.ledgerTable.table,
      handler: relayFn.function,
      routes: [{ eventTypes: PAYMENT_EVENT_TYPES, destination: this.notifier.queue }],
      includeWatermarkEvents: config.ledgerStrategy === 'watermark',
      retryAttempts: config.relayRetryAttempts,
      encryptionKey: key,
      removalPolicy,
    });

    // --- Second consumer: loyalty points, fed by PaymentApplied events, with its own outbox events -------------
    this.loyalty = new LoyaltyConsumer(this, 'Loyalty', {
      entry: entry('loyalty'),
      ledgerTable: this.ledgerTable,
      relay: this.relay,
      maxReceiveCount: config.maxReceiveCount,
      encryptionKey: key,
      removalPolicy,
      functionOptions: { ...functionDefaults, timeout: consumerTimeout },
    });

    // --- Outbox recovery: a scheduled sweep publishes what the relay never did ----------------------------------
    const sweeperFn = new HandlerFunction(this, 'OutboxSweeperFunction', {
      ...functionDefaults,
      entry: entry('outbox-sweeper'),
      serviceName: SERVICE_NAMES.outboxSweeper,
      timeout: Duration.minutes(5),
      description: 'Publishes outbox events still unpublished after the threshold (records the relay never got)',
    });
    this.sweeper = new OutboxSweeper(this, 'OutboxSweeper', {
      relay: this.relay,
      handler: sweeperFn.function,
      serviceName: SERVICE_NAMES.outboxSweeper,
      olderThan: Duration.seconds(config.outboxSweepAgeSeconds),
    });

    // --- API -----------------------------------------------------------------------------------------------------
    const createPayment = new HandlerFunction(this, 'CreatePayment', {
      ...functionDefaults,
      entry: entry('create-payment'),
      serviceName: SERVICE_NAMES.createPayment,
      timeout: Duration.seconds(10),
      description: 'POST /payments: validates, dedups by Idempotency-Key, enqueues one FIFO message',
      environment: { [ENV.IDEMPOTENCY_TTL_SECONDS]: String(config.apiIdempotencyTtlSeconds) },
    });
    this.idempotencyTable.grantIdempotency(createPayment.function);
    this.ledger.queue.grant(createPayment.function, 'sqs:SendMessage');
    key?.grant(createPayment.function, 'kms:GenerateDataKey', 'kms:Decrypt');
    createPayment.function.addEnvironment(ENV.PAYMENTS_QUEUE_URL, this.ledger.queue.queueUrl);

    const getAccount = new HandlerFunction(this, 'GetAccount', {
      ...functionDefaults,
      entry: entry('get-account'),
      serviceName: SERVICE_NAMES.getAccount,
      timeout: Duration.seconds(5),
      description: 'GET /accounts/{accountId}: balance and counters of one account',
    });
    this.ledgerTable.grantLedgerRead(getAccount.function);

    this.api = this.buildApi(config, createPayment.function, getAccount.function, removalPolicy, logRetention);

    // --- Consumers added with `npm run new -- consumer <name>` (empty until one is generated) ------------------
    const consumers = addConsumers(this, {
      ledgerTable: this.ledgerTable,
      idempotencyTable: this.idempotencyTable,
      outboxRelay: this.relay,
      encryptionKey: key,
      removalPolicy,
      functionDefaults: { ...functionDefaults, timeout: consumerTimeout },
      maxReceiveCount: config.maxReceiveCount,
      webhookUrl: config.webhookUrl,
      httpTimeout: Duration.millis(config.webhookTimeoutMs),
    });

    // --- Alarms and dashboard ------------------------------------------------------------------------------------
    const topic = config.alarmTopicArn
      ? sns.Topic.fromTopicArn(this, 'AlarmTopic', config.alarmTopicArn)
      : new sns.Topic(this, 'AlarmTopic', { enforceSSL: true, masterKey: key, displayName: `${id} alarms` });
    if (config.alarmEmail && topic instanceof sns.Topic) {
      topic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));
    }
    if (key) {
      // CloudWatch publishes alarm notifications to the encrypted topic: it needs the key (key policy).
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowCloudWatchAlarmsToUseTheKey',
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
        }),
      );
    }
    this.monitoring = new PipelineMonitoring(this, 'Monitoring', {
      topic,
      functions: [
        { label: 'CreatePayment', function: createPayment.function },
        { label: 'GetAccount', function: getAccount.function },
        { label: 'Ledger', function: ledgerFn },
        { label: 'Relay', function: relayFn.function },
        { label: 'Notifier', function: this.notifier.handler.function },
        { label: 'OutboxSweeper', function: sweeperFn.function },
      ],
      queues: [
        { label: 'PaymentsQueue', queue: this.ledger.queue },
        { label: 'EventsQueue', queue: this.notifier.queue },
      ],
      deadLetterQueues: [
        { label: 'PaymentsDlq', queue: this.ledger.deadLetterQueue },
        { label: 'EventsDlq', queue: this.notifier.deadLetterQueue },
        { label: 'RelayFailureQueue', queue: this.relay.failureQueue },
      ],
      streamConsumers: [{ label: 'Relay', function: relayFn.function }],
      consumers: [this.loyalty.monitored, ...monitoredConsumers(consumers)],
      outbox: { sweeper: this.sweeper, relayMetrics: { service: SERVICE_NAMES.relay, layer: 'relay' } },
      ledgerMetrics: { service: SERVICE_NAMES.ledger, layer: 'ledger' },
      metricSources: [
        { service: SERVICE_NAMES.createPayment, layer: 'api' },
        { service: SERVICE_NAMES.ledger, layer: 'ledger' },
        { service: SERVICE_NAMES.relay, layer: 'relay' },
        { service: SERVICE_NAMES.notifier, layer: 'notifier' },
      ],
    });

    // --- Outputs (names are a contract: the local runtime, the e2e suite and the scripts read them) -------------
    const outputs: Record<OutputName, string> = {
      ApiUrl: this.api.url,
      PaymentsQueueUrl: this.ledger.queue.queueUrl,
      PaymentsDlqUrl: this.ledger.deadLetterQueue.queueUrl,
      EventsQueueUrl: this.notifier.queue.queueUrl,
      EventsDlqUrl: this.notifier.deadLetterQueue.queueUrl,
      RelayFailureQueueUrl: this.relay.failureQueue.queueUrl,
      LoyaltyQueueUrl: this.loyalty.consumer.queue.queueUrl,
      LoyaltyDlqUrl: this.loyalty.consumer.deadLetterQueue.queueUrl,
      LoyaltyEventsQueueUrl: this.loyalty.events.queue.queueUrl,
      LoyaltyEventsDlqUrl: this.loyalty.events.deadLetterQueue.queueUrl,
      LedgerTableName: this.ledgerTable.table.tableName,
      IdempotencyTableName: this.idempotencyTable.table.tableName,
      WebhookSigningSecretArn: this.webhookSecret.secret.secretArn,
    };
    for (const name of OUTPUT_NAMES) new CfnOutput(this, name, { value: outputs[name] });

    this.acknowledgeNagFindings(key);
    this.node.addValidation({ validate: () => this.findForbiddenEnvironment() });
  }

  /** Lets `grantee` call `POST /payments` (execute-api:Invoke on that method only). */
  grantCreatePayment(grantee: iam.IGrantable): iam.Grant {
    return grantCreatePayment(this.api, grantee);
  }

  /** Lets `grantee` read the listed accounts, and no other, with `GET /accounts/<id>` (one method ARN per account). */
  grantAccountRead(grantee: iam.IGrantable, accountIds: readonly string[]): iam.Grant {
    return grantAccountRead(this.api, grantee, accountIds);
  }

  private buildApi(
    config: PaymentsConfig,
    createPayment: lambda.IFunction,
    getAccount: lambda.IFunction,
    removalPolicy: RemovalPolicy,
    logRetention: logs.RetentionDays,
  ): apigateway.RestApi {
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', { retention: logRetention, removalPolicy });
    const api = new apigateway.RestApi(this, 'Api', {
      description: 'Exactly-once payments API',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      cloudWatchRole: true,
      // The logging role is an account-wide API Gateway setting that other stacks (another stage) may rely on:
      // deleting this stack must not pull it from under them.
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: config.stage,
        throttlingRateLimit: config.throttleRateLimit,
        throttlingBurstLimit: config.throttleBurstLimit,
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        // Request bodies carry payment data: never copy them into execution logs.
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
        accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
      },
      defaultMethodOptions: {
        authorizationType: apigateway.AuthorizationType.IAM,
        apiKeyRequired: config.apiKey,
      },
    });
    // Validates required headers, path parameters and the body against the payment model (sizes bounded, so a body
    // of megabytes is refused by API Gateway with a 400 before it reaches Lambda's 6 MB payload limit); the handler
    // still answers with field-level messages for what the model lets through.
    const validator = api.addRequestValidator('RequestValidator', {
      validateRequestParameters: true,
      validateRequestBody: true,
    });
    api.addGatewayResponse('BadRequestParameters', {
      type: apigateway.ResponseType.BAD_REQUEST_PARAMETERS,
      templates: { 'application/json': '{"message":"$context.error.validationErrorString"}' },
    });

    api.addGatewayResponse('BadRequestBody', {
      type: apigateway.ResponseType.BAD_REQUEST_BODY,
      templates: { 'application/json': '{"error":"InvalidBody","message":"$context.error.validationErrorString"}' },
    });
    api.root.addResource('payments').addMethod('POST', new apigateway.LambdaIntegration(createPayment), {
      requestValidator: validator,
      requestParameters: { 'method.request.header.Idempotency-Key': true },
      requestModels: { 'application/json': addPaymentRequestModel(api) },
    });
    api.root
      .addResource('accounts')
      .addResource('{accountId}')
      .addMethod('GET', new apigateway.LambdaIntegration(getAccount), {
        requestValidator: validator,
        requestParameters: { 'method.request.path.accountId': true },
      });

    if (config.apiKey) {
      const plan = api.addUsagePlan('UsagePlan', {
        description: 'Payments API clients',
        throttle: { rateLimit: config.throttleRateLimit, burstLimit: config.throttleBurstLimit },
        quota: { limit: 1_000_000, period: apigateway.Period.DAY },
      });
      plan.addApiStage({ stage: api.deploymentStage });
      const apiKey = api.addApiKey('ApiKey', { description: 'Payments API key' });
      plan.addApiKey(apiKey);
      addApiKeyOutputs(this, apiKey);
    }
    // RestApi adds an `Endpoint` output; the stack's outputs are a fixed contract (ApiUrl carries the same URL).
    api.node.tryRemoveChild('Endpoint');
    return api;
  }

  /** cdk-nag findings accepted on purpose, each on the narrowest construct with its reason. */
  private acknowledgeNagFindings(key: kms.Key | undefined): void {
    Validations.of(this.api).acknowledge(
      {
        id: 'AwsSolutions-APIG3',
        reason: 'WAF is an account-level choice with its own cost; the API has IAM auth, stage throttling and request validation.',
      },
      {
        id: 'AwsSolutions-COG4',
        reason: 'The API uses IAM (SigV4) authorization, not Cognito: callers are services with AWS credentials.',
      },
    );
    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole) {
      Validations.of(cloudWatchRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: 'The account-level API Gateway logging role; AWS documents this managed policy for it.',
      });
    }
    // The relay's own findings (ListStreams on *, its failure queue as the terminal store) are acknowledged by
    // OutboxRelay itself.
    if (!key) {
      const topic = this.node.tryFindChild('AlarmTopic');
      if (topic instanceof sns.Topic) {
        Validations.of(topic).acknowledge({
          id: 'AwsSolutions-SNS2',
          reason:
            'CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key; alarm messages carry no payment data. Use -c kmsKey=customer-managed to encrypt it.',
        });
      }
    }
  }

  private findForbiddenEnvironment(): string[] {
    const errors: string[] = [];
    for (const child of this.node.findAll()) {
      if (!(child instanceof lambda.CfnFunction)) continue;
      const environment = this.resolve(child.environment) as
        | { variables?: Record<string, unknown>; Variables?: Record<string, unknown> }
        | undefined;
      const variables = environment?.variables ?? environment?.Variables ?? {};
      for (const name of FORBIDDEN_FUNCTION_ENV) {
        if (name in variables) {
          errors.push(
            new UnsafeDeploymentError(
              `${child.node.path} sets ${name}: fault injection is for the local runtime only and must never be ` +
                'deployed; remove the variable (the local runtime passes it with functionEnv)',
            ).message,
          );
        }
      }
    }
    return errors;
  }
}
