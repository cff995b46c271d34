import type { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { OUTPUT_NAMES } from '../../lib/payments-stack.js';
import { paymentsStack } from './support.js';

const POWERTOOLS = ['POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_SERVICE_NAME'];
const DAY = 86_400;

/** Environment variable names of one function of the stack, sorted. */
function envNames(built: ReturnType<typeof paymentsStack>, fn: lambda.Function): string[] {
  const id = built.stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction);
  const props = built.template.toJSON().Resources[id].Properties;
  return Object.keys(props.Environment.Variables).sort();
}

describe('PaymentsStack', () => {
  describe('payments FIFO queue and ledger consumer', () => {
    it('is a high-throughput FIFO queue without content dedup, visibility 6 × timeout, FIFO DLQ after 5 receives', () => {
      // GIVEN / WHEN default context
      const { template } = paymentsStack();
      // THEN
      template.hasResourceProperties('AWS::SQS::Queue', {
        FifoQueue: true,
        ContentBasedDeduplication: false,
        DeduplicationScope: 'messageGroup',
        FifoThroughputLimit: 'perMessageGroupId',
        VisibilityTimeout: 180,
        SqsManagedSseEnabled: true,
        RedrivePolicy: {
          deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PaymentsDeadLetterQueue'), 'Arn'] },
          maxReceiveCount: 5,
        },
      });
      template.hasResourceProperties('AWS::SQS::Queue', {
        FifoQueue: true,
        MessageRetentionPeriod: 14 * DAY,
        RedrivePolicy: Match.absent(),
      });
    });

    it('consumes it with partial batch responses, batches of 10', () => {
      const { template } = paymentsStack();
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PaymentsQueue'), 'Arn'] },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: 10,
      });
    });

    it('gives the ledger exactly its env: table, dedup TTL outliving retention + redrive window, strategy', () => {
      const built = paymentsStack();
      expect(envNames(built, built.stack.ledger.handler.function)).toEqual(
        ['DEDUP_TTL_SECONDS', 'LEDGER_STRATEGY', 'LEDGER_TABLE_NAME', 'NODE_OPTIONS', ...POWERTOOLS].sort(),
      );
      built.template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            // 4 days retention + 14 days redrive window + 1 day margin
            DEDUP_TTL_SECONDS: String(19 * DAY),
            LEDGER_STRATEGY: 'atomic',
            POWERTOOLS_SERVICE_NAME: 'ledger',
            POWERTOOLS_METRICS_NAMESPACE: 'ExactlyOncePayments',
          }),
        },
      });
    });

    it('lets the ledger use the idempotency table only with the powertools strategy', () => {
      const built = paymentsStack({ ledgerStrategy: 'powertools' });
      expect(envNames(built, built.stack.ledger.handler.function)).toContain('IDEMPOTENCY_TABLE_NAME');
      built.template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ LEDGER_STRATEGY: 'powertools' }) },
      });
    });

    it('shortens timeouts and visibility together for local chaos runs (consumerTimeoutSeconds)', () => {
      const { template } = paymentsStack({ consumerTimeoutSeconds: '2' });
      template.hasResourceProperties('AWS::SQS::Queue', { FifoQueue: true, VisibilityTimeout: 12, RedrivePolicy: Match.anyValue() });
      template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 2 });
    });

    it('rejects maxReceiveCount below 5 from context with the construct message', () => {
      expect(() => paymentsStack({ maxReceiveCount: '2' })).toThrow(/maxReceiveCount \(2\) must be at least 5/);
    });
  });

  describe('ledger table and outbox relay', () => {
    it('streams NEW_IMAGE with PITR, TTL expiresAt and encryption', () => {
      const { template } = paymentsStack();
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      });
    });

    it('relays outbox INSERTs with bisect, bounded retries and an on-failure queue', () => {
      const { template } = paymentsStack();
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LedgerTable'), 'StreamArn'] },
        StartingPosition: 'TRIM_HORIZON',
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 10,
        MaximumRecordAgeInSeconds: 3600,
        FilterCriteria: {
          Filters: [{ Pattern: JSON.stringify({ eventName: ['INSERT'], dynamodb: { Keys: { pk: { S: [{ prefix: 'OUTBOX#' }] } } } }) }],
        },
        DestinationConfig: {
          OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^OutboxRelayFailureQueue'), 'Arn'] } },
        },
      });
    });

    it('publishes to the events queue: the relay gets EVENTS_QUEUE_URL and nothing else of ours', () => {
      const built = paymentsStack();
      const relayFn = built.stack.node.findChild('Relay').node.findChild('Function') as lambda.Function;
      expect(envNames(built, relayFn)).toEqual(['EVENTS_QUEUE_URL', 'NODE_OPTIONS', ...POWERTOOLS].sort());
    });

    it('uses NEW_AND_OLD_IMAGES and the account-item filter for the watermark strategy', () => {
      const { template } = paymentsStack({ ledgerStrategy: 'watermark' });
      template.hasResourceProperties('AWS::DynamoDB::Table', { StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' } });
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FilterCriteria: { Filters: Match.arrayWith([{ Pattern: Match.stringLikeRegexp('lastEvent') }]) },
      });
    });

    it('takes the relay retry bound from context', () => {
      const { template } = paymentsStack({ relayRetryAttempts: '3' });
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRetryAttempts: 3 });
    });
  });

  describe('events queue and notifier', () => {
    it('is a standard queue with a DLQ, consumed with partial batch responses in batches that fit the timeout', () => {
      const built = paymentsStack();
      built.template.hasResourceProperties('AWS::SQS::Queue', {
        FifoQueue: Match.absent(),
        VisibilityTimeout: 180,
        RedrivePolicy: {
          deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EventsDeadLetterQueue'), 'Arn'] },
          maxReceiveCount: 5,
        },
      });
      built.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EventsQueue'), 'Arn'] },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        // (30 s - 1 s) / 5 s per webhook call
        BatchSize: 5,
      });
    });

    it('gives the notifier the webhook, its timeout, the idempotency table and a TTL outliving the queue windows', () => {
      const built = paymentsStack();
      expect(envNames(built, built.stack.notifier.handler.function)).toEqual(
        ['IDEMPOTENCY_TABLE_NAME', 'IDEMPOTENCY_TTL_SECONDS', 'NODE_OPTIONS', 'WEBHOOK_TIMEOUT_MS', 'WEBHOOK_URL', ...POWERTOOLS].sort(),
      );
      built.template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            WEBHOOK_URL: 'https://hooks.example.com/payments',
            WEBHOOK_TIMEOUT_MS: '5000',
            IDEMPOTENCY_TTL_SECONDS: String(19 * DAY),
          }),
        },
      });
    });
  });

  describe('functions', () => {
    it('runs every function on nodejs24.x arm64 with 512 MB, an ESM bundle and its own log group', () => {
      const { template } = paymentsStack();
      const functions = template.findResources('AWS::Lambda::Function');
      expect(Object.keys(functions)).toHaveLength(5);
      template.allResourcesProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        MemorySize: 512,
        Handler: 'index.handler',
        LoggingConfig: { LogGroup: { Ref: Match.anyValue() }, LogFormat: 'JSON' },
      });
      template.resourceCountIs('AWS::Logs::LogGroup', 6); // 5 functions + API access logs
    });

    it('takes the memory size from context', () => {
      const { template } = paymentsStack({ memorySize: '1024' });
      template.allResourcesProperties('AWS::Lambda::Function', { MemorySize: 1024 });
    });

    it('gives create-payment and get-account exactly their env', () => {
      const built = paymentsStack();
      const fn = (id: string) => built.stack.node.findChild(id).node.findChild('Function') as lambda.Function;
      expect(envNames(built, fn('CreatePayment'))).toEqual(
        ['IDEMPOTENCY_TABLE_NAME', 'IDEMPOTENCY_TTL_SECONDS', 'NODE_OPTIONS', 'PAYMENTS_QUEUE_URL', ...POWERTOOLS].sort(),
      );
      expect(envNames(built, fn('GetAccount'))).toEqual(['LEDGER_TABLE_NAME', 'NODE_OPTIONS', ...POWERTOOLS].sort());
    });

    it('throws at synth when a function carries the fault plan or the local-runtime switch', () => {
      for (const variable of ['EXACTLY_ONCE_FAULT_PLAN', 'EXACTLY_ONCE_LOCAL_RUNTIME']) {
        // GIVEN a stack whose ledger was given a fault-injection variable after construction
        const { stack } = paymentsStack();
        stack.ledger.handler.function.addEnvironment(variable, '1');
        // WHEN / THEN
        expect(() => (stack.node.root as App).synth({ force: true })).toThrow(
          new RegExp(`sets ${variable}: fault injection is for the local runtime only`),
        );
      }
    });
  });

  describe('API', () => {
    it('routes POST /payments and GET /accounts/{accountId} with IAM auth and required parameters', () => {
      const { template } = paymentsStack();
      template.hasResourceProperties('AWS::ApiGateway::Method', {
        HttpMethod: 'POST',
        AuthorizationType: 'AWS_IAM',
        ApiKeyRequired: false,
        RequestParameters: { 'method.request.header.Idempotency-Key': true },
        RequestValidatorId: { Ref: Match.stringLikeRegexp('RequestValidator') },
        Integration: { Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' },
      });
      template.hasResourceProperties('AWS::ApiGateway::Method', {
        HttpMethod: 'GET',
        AuthorizationType: 'AWS_IAM',
        RequestParameters: { 'method.request.path.accountId': true },
      });
      template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{accountId}' });
      template.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
        ValidateRequestParameters: true,
        ValidateRequestBody: true,
      });
    });

    it('throttles the stage, logs errors and access without request bodies', () => {
      const { template } = paymentsStack({ throttleRateLimit: '50', throttleBurstLimit: '80' });
      template.hasResourceProperties('AWS::ApiGateway::Stage', {
        StageName: 'dev',
        MethodSettings: [
          Match.objectLike({
            ThrottlingRateLimit: 50,
            ThrottlingBurstLimit: 80,
            LoggingLevel: 'ERROR',
            DataTraceEnabled: false,
            HttpMethod: '*',
            ResourcePath: '/*',
          }),
        ],
        AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
      });
    });

    it('adds an API key and usage plan on top of IAM when apiKey=true', () => {
      const { template } = paymentsStack({ apiKey: 'true' });
      template.allResourcesProperties('AWS::ApiGateway::Method', { ApiKeyRequired: true, AuthorizationType: 'AWS_IAM' });
      template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
      template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
        Throttle: { RateLimit: 100, BurstLimit: 200 },
        Quota: { Limit: 1_000_000, Period: 'DAY' },
      });
    });

    it('has no API key or usage plan by default', () => {
      const { template } = paymentsStack();
      template.resourceCountIs('AWS::ApiGateway::ApiKey', 0);
      template.resourceCountIs('AWS::ApiGateway::UsagePlan', 0);
    });
  });

  describe('observability', () => {
    it('alarms on every DLQ, queue age, relay iterator age, function errors and throttles', () => {
      const { template } = paymentsStack();
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
      const byMetric = (name: string) => alarms.filter((a) => a.MetricName === name);
      expect(byMetric('ApproximateNumberOfMessagesVisible')).toHaveLength(3);
      expect(byMetric('ApproximateAgeOfOldestMessage')).toHaveLength(2);
      expect(byMetric('IteratorAge')).toHaveLength(1);
      expect(byMetric('Errors')).toHaveLength(5);
      expect(byMetric('Throttles')).toHaveLength(5);
      for (const alarm of alarms) {
        expect(alarm.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlarmTopic/) }]);
        expect(alarm.AlarmDescription).toMatch(/Runbook: README/);
      }
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^OutboxRelayFailureQueue'), 'QueueName'] } }],
      });
    });

    it('alarms on a duplicate-rate spike from the EMF metrics of the ledger', () => {
      const { template } = paymentsStack();
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Threshold: 20,
        Metrics: Match.arrayWith([
          Match.objectLike({ Expression: Match.stringLikeRegexp('100 \\* dup') }),
          Match.objectLike({
            Id: 'applied',
            MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'PaymentsApplied' }) }),
          }),
          Match.objectLike({
            Id: 'dup',
            MetricStat: Match.objectLike({
              Metric: {
                Namespace: 'ExactlyOncePayments',
                MetricName: 'DuplicatesSkipped',
                Dimensions: [
                  { Name: 'layer', Value: 'ledger' },
                  { Name: 'service', Value: 'ledger' },
                ],
              },
            }),
          }),
        ]),
      });
    });

    it('creates a dashboard and an encrypted-transport alarm topic with the optional email', () => {
      const { template } = paymentsStack({ alarmEmail: 'oncall@example.com' });
      template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
      template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
        },
      });
    });

    it('notifies an existing topic instead of creating one when alarmTopicArn is set', () => {
      const arn = 'arn:aws:sns:eu-west-1:123456789012:ops-alarms';
      const { template } = paymentsStack({ alarmTopicArn: arn });
      template.resourceCountIs('AWS::SNS::Topic', 0);
      template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [arn] });
    });
  });

  describe('stages and encryption', () => {
    it('destroys state in dev', () => {
      const { template } = paymentsStack({ stage: 'dev' });
      template.allResources('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
      template.allResourcesProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
    });

    it('retains state with deletion protection and PITR in prod', () => {
      const { template } = paymentsStack({ stage: 'prod' });
      template.allResources('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
      template.allResourcesProperties('AWS::DynamoDB::Table', {
        DeletionProtectionEnabled: true,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      });
      template.allResources('AWS::SQS::Queue', { DeletionPolicy: 'Retain' });
      template.allResources('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain' });
      template.hasResourceProperties('AWS::ApiGateway::Stage', { StageName: 'prod' });
    });

    it('encrypts tables, queues and the alarm topic with one rotating customer-managed key', () => {
      const { template } = paymentsStack({ kmsKey: 'customer-managed' });
      template.resourceCountIs('AWS::KMS::Key', 1);
      template.hasResourceProperties('AWS::KMS::Key', {
        EnableKeyRotation: true,
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            }),
          ]),
        },
      });
      const keyArn = { 'Fn::GetAtt': [Match.stringLikeRegexp('^DataKey'), 'Arn'] };
      template.allResourcesProperties('AWS::DynamoDB::Table', { SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn } });
      template.allResourcesProperties('AWS::SQS::Queue', { KmsMasterKeyId: keyArn });
      template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: keyArn });
    });
  });

  it('exports exactly the outputs the local runtime, the e2e suite and the scripts read', () => {
    const { template } = paymentsStack();
    expect(Object.keys(template.toJSON().Outputs).sort()).toEqual([...OUTPUT_NAMES].sort());
    expect([...OUTPUT_NAMES].sort()).toEqual(
      [
        'ApiUrl',
        'EventsDlqUrl',
        'EventsQueueUrl',
        'IdempotencyTableName',
        'LedgerTableName',
        'PaymentsDlqUrl',
        'PaymentsQueueUrl',
        'RelayFailureQueueUrl',
      ].sort(),
    );
    template.hasOutput('PaymentsQueueUrl', { Value: { Ref: Match.stringLikeRegexp('^PaymentsQueue') } });
    template.hasOutput('LedgerTableName', { Value: { Ref: Match.stringLikeRegexp('^LedgerTable') } });
  });
});
