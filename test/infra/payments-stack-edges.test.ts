import { readFileSync } from 'node:fs';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CONSUMERS } from '../../lib/consumers/index.js';
import { OUTPUT_NAMES } from '../../lib/payments-stack.js';
import { paymentsStack } from './support.js';


describe('PaymentsStack API, observability, stages and outputs', () => {
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

    it('keeps the account-wide API Gateway logging role when a dev stack is deleted', () => {
      const { template } = paymentsStack({ stage: 'dev' });
      template.hasResource('AWS::IAM::Role', {
        DeletionPolicy: 'Retain',
        Properties: Match.objectLike({
          AssumeRolePolicyDocument: Match.objectLike({
            Statement: [Match.objectLike({ Principal: { Service: 'apigateway.amazonaws.com' } })],
          }),
        }),
      });
      template.hasResourceProperties('AWS::ApiGateway::Account', { CloudWatchRoleArn: Match.anyValue() });
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
      // Each registered consumer adds its own DLQ, queue-age, errors and throttles alarms.
      const consumers = CONSUMERS.length;
      // payments, events, relay failure and loyalty DLQs; payments, events and loyalty queues; 7 functions
      expect(byMetric('ApproximateNumberOfMessagesVisible')).toHaveLength(4 + consumers);
      expect(byMetric('ApproximateAgeOfOldestMessage')).toHaveLength(3 + consumers);
      expect(byMetric('IteratorAge')).toHaveLength(1);
      expect(byMetric('Errors')).toHaveLength(7 + consumers);
      expect(byMetric('Throttles')).toHaveLength(7 + consumers);
      expect(byMetric('OldestUnpublishedOutboxEventAge')).toHaveLength(1);
      for (const alarm of alarms) {
        expect(alarm.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlarmTopic/) }]);
        expect(alarm.AlarmDescription).toMatch(/Runbook: lib\/README.md#[a-z-]+/);
      }
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^OutboxRelayFailureQueue'), 'QueueName'] } }],
      });
    });

    it('links every alarm to an existing section of the runbook (lib/README.md)', () => {
      // GIVEN the runbook's headings as GitHub anchors
      const runbook = readFileSync(new URL('../../lib/README.md', import.meta.url), 'utf8');
      const anchors = new Set(
        [...runbook.matchAll(/^#{2,4} (.+)$/gm)].map((m) => m[1].trim().toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')),
      );
      // WHEN
      const { template } = paymentsStack();
      // THEN
      for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
        const [, anchor] = /#([a-z-]+)$/.exec(alarm.Properties.AlarmDescription) ?? [];
        expect(anchors.has(anchor), `${alarm.Properties.AlarmDescription}`).toBe(true);
      }
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
    // A registered consumer adds outputs named after it (<Name>QueueUrl, <Name>DlqUrl, …): they are its own contract.
    const prefixes = CONSUMERS.map((c) => c.name.split('-').map((w) => w[0]!.toUpperCase() + w.slice(1)).join(''));
    const own = Object.keys(template.toJSON().Outputs).filter((key) => !prefixes.some((p) => key.startsWith(p)));
    expect(own.sort()).toEqual([...OUTPUT_NAMES].sort());
    expect([...OUTPUT_NAMES].sort()).toEqual(
      [
        'ApiUrl',
        'EventsDlqUrl',
        'EventsQueueUrl',
        'IdempotencyTableName',
        'LedgerTableName',
        'LoyaltyDlqUrl',
        'LoyaltyEventsDlqUrl',
        'LoyaltyEventsQueueUrl',
        'LoyaltyQueueUrl',
        'PaymentsDlqUrl',
        'PaymentsQueueUrl',
        'RelayFailureQueueUrl',
        'WebhookSigningSecretArn',
      ].sort(),
    );
    template.hasOutput('PaymentsQueueUrl', { Value: { Ref: Match.stringLikeRegexp('^PaymentsQueue') } });
    template.hasOutput('LedgerTableName', { Value: { Ref: Match.stringLikeRegexp('^LedgerTable') } });
  });
});

describe('changing the ledger strategy on a deployed stage', () => {
  it('refuses a strategy whose stream view type differs from the deployed one, naming the procedure and the key', () => {
    expect(() => paymentsStack({ stage: 'prod', deployedStreamViewType: 'NEW_IMAGE', ledgerStrategy: 'watermark' })).toThrow(
      /deployed stream view type is NEW_IMAGE .* needs NEW_AND_OLD_IMAGES.*"Changing the ledger strategy" in lib\/README.md.*-c acknowledgeStreamReplacement=true/,
    );
  });

  it('allows it with the acknowledgement, with a warning, and allows an unchanged or unpinned stream silently', () => {
    const { stack } = paymentsStack({ deployedStreamViewType: 'NEW_IMAGE', ledgerStrategy: 'watermark', acknowledgeStreamReplacement: 'true' });
    Annotations.fromStack(stack).hasWarning('/ExactlyOncePayments-test', Match.stringLikeRegexp('stream and the relay.s mapping are replaced'));
    expect(() => paymentsStack({ deployedStreamViewType: 'NEW_IMAGE', ledgerStrategy: 'powertools' })).not.toThrow();
    expect(() => paymentsStack({ ledgerStrategy: 'watermark' })).not.toThrow();
  });
});
