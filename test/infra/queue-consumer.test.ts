import { CfnParameter, Duration } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { fairQueueTenantKeyOf, QueueConsumer, type QueueConsumerProps } from '../../lib/constructs/queue-consumer.js';
import { fixtureEntry, newStack } from './support.js';

function consumer(props: Partial<QueueConsumerProps> = {}) {
  const stack = newStack();
  const construct = new QueueConsumer(stack, 'Consumer', { entry: fixtureEntry(), ...props });
  return { stack, construct, template: Template.fromStack(stack) };
}

describe('QueueConsumer', () => {
  describe('FIFO queue', () => {
    it('creates a FIFO queue without content dedup, in high-throughput mode', () => {
      // GIVEN / WHEN
      const { template } = consumer({ fifo: true });
      // THEN
      template.hasResourceProperties('AWS::SQS::Queue', {
        FifoQueue: true,
        ContentBasedDeduplication: false,
        DeduplicationScope: 'messageGroup',
        FifoThroughputLimit: 'perMessageGroupId',
        RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 },
      });
    });

    it('gives a FIFO queue a FIFO dead-letter queue kept 14 days', () => {
      const { template } = consumer({ fifo: true });
      template.hasResourceProperties('AWS::SQS::Queue', {
        FifoQueue: true,
        MessageRetentionPeriod: 14 * 86_400,
        RedrivePolicy: Match.absent(),
      });
    });
  });

  it('creates a standard queue and DLQ when fifo is not set', () => {
    const { template } = consumer();
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { FifoQueue: true }, 0);
    template.resourceCountIs('AWS::SQS::Queue', 2);
  });

  it('sets the visibility timeout to 6 × the function timeout by default', () => {
    // GIVEN a 20 s function
    const { template } = consumer({ functionOptions: { timeout: Duration.seconds(20) } });
    // THEN
    template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 120, RedrivePolicy: Match.anyValue() });
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 20 });
  });

  it('adds the batching window to the default visibility timeout', () => {
    const { template } = consumer({
      functionOptions: { timeout: Duration.seconds(10) },
      batchSize: 50,
      maxBatchingWindow: Duration.seconds(5),
    });
    template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 65, RedrivePolicy: Match.anyValue() });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 50,
      MaximumBatchingWindowInSeconds: 5,
    });
  });

  it('always turns on partial batch responses on the mapping', () => {
    const { template } = consumer({ fifo: true, maxConcurrency: 5 });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 5 },
    });
  });

  it('encrypts both queues with SQS-managed SSE and enforces TLS by default', () => {
    const { template } = consumer();
    template.allResourcesProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.resourcePropertiesCountIs(
      'AWS::SQS::QueuePolicy',
      {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      },
      2,
    );
  });

  it('encrypts both queues with a customer-managed key when one is given', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new QueueConsumer(stack, 'Consumer', { entry: fixtureEntry(), encryptionKey: key });
    Template.fromStack(stack).allResourcesProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] },
    });
  });

  it('injects the dedup lifetime into the named environment variable, merged with the caller environment', () => {
    // GIVEN 1-day retention, 2-day redrive window, a caller variable
    const { template, construct } = consumer({
      retentionPeriod: Duration.days(1),
      redriveWindow: Duration.days(2),
      dedupTtlEnvironmentVariable: 'DEDUP_TTL_SECONDS',
      functionOptions: { environment: { EXTRA: 'kept' } },
    });
    // THEN retention + redrive window + 1 day margin
    expect(construct.dedupTtl.toSeconds()).toBe(4 * 86_400);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DEDUP_TTL_SECONDS: String(4 * 86_400), EXTRA: 'kept' }) },
    });
  });

  it('warns when content-based deduplication is switched on', () => {
    const { stack } = consumer({ fifo: true, contentBasedDeduplication: true });
    Annotations.fromStack(stack).hasWarning('/TestStack/Consumer', Match.stringLikeRegexp('contentBasedDeduplication'));
  });

  it('skips validation of values that are tokens until deploy time', () => {
    // GIVEN a maxReceiveCount and a batch size only known at deploy time
    const stack = newStack();
    const receives = new CfnParameter(stack, 'Receives', { type: 'Number' }).valueAsNumber;
    // WHEN / THEN no synth-time error
    expect(() => new QueueConsumer(stack, 'Consumer', { entry: fixtureEntry(), maxReceiveCount: receives })).not.toThrow();
    Template.fromStack(stack).hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: { Ref: 'Receives' } },
    });
  });

  describe('validation', () => {
    it('throws when the visibility timeout is below 6 × the function timeout', () => {
      expect(() =>
        consumer({ functionOptions: { timeout: Duration.seconds(60) }, visibilityTimeout: Duration.seconds(30) }),
      ).toThrow(/visibilityTimeout \(30 s\) must be at least 6 × the function timeout \(60 s\) = 360 s/);
    });

    it('throws when the visibility timeout does not cover the batching window too', () => {
      expect(() =>
        consumer({
          functionOptions: { timeout: Duration.seconds(10) },
          batchSize: 20,
          maxBatchingWindow: Duration.seconds(10),
          visibilityTimeout: Duration.seconds(60),
        }),
      ).toThrow(/\+ the batching window \(10 s\) = 70 s/);
    });

    it('throws when the visibility timeout exceeds 12 hours', () => {
      expect(() =>
        consumer({ functionOptions: { timeout: Duration.minutes(15) }, visibilityTimeout: Duration.hours(13) }),
      ).toThrow(/at most 43200 s/);
    });

    it('throws when maxReceiveCount is below 5', () => {
      expect(() => consumer({ maxReceiveCount: 3 })).toThrow(/maxReceiveCount \(3\) must be at least 5/);
    });

    it('throws when maxReceiveCount is not a positive integer', () => {
      expect(() => consumer({ maxReceiveCount: 0 })).toThrow(/maxReceiveCount \(0\) must be an integer ≥ 1/);
      expect(() => consumer({ maxReceiveCount: 5.5 })).toThrow(/maxReceiveCount \(5.5\) must be an integer ≥ 1/);
    });

    it('throws when a FIFO batch is larger than 10', () => {
      expect(() => consumer({ fifo: true, batchSize: 11 })).toThrow(/batchSize \(11\) must be at most 10 for a FIFO/);
    });

    it('throws when a FIFO queue is given a batching window', () => {
      expect(() => consumer({ fifo: true, maxBatchingWindow: Duration.seconds(1) })).toThrow(
        /maxBatchingWindow \(1 s\) is not supported on a FIFO queue \(S3\)/,
      );
    });

    it('throws when batchSize > 10 has no batching window of at least 1 s', () => {
      expect(() => consumer({ batchSize: 100 })).toThrow(/batchSize \(100\) > 10 requires maxBatchingWindow ≥ 1 s \(S2\)/);
    });

    it('throws when the batching window exceeds 300 s', () => {
      expect(() => consumer({ maxBatchingWindow: Duration.seconds(301) })).toThrow(
        /maxBatchingWindow \(301 s\) must be at most 300 s/,
      );
    });

    it('throws when batchSize is outside 1–10,000', () => {
      expect(() => consumer({ batchSize: 0 })).toThrow(/batchSize \(0\) must be an integer from 1 to 10000/);
      expect(() => consumer({ batchSize: 10_001, maxBatchingWindow: Duration.seconds(1) })).toThrow(
        /batchSize \(10001\) must be an integer from 1 to 10000/,
      );
    });

    it('throws when maxConcurrency is outside 2–1,000', () => {
      expect(() => consumer({ maxConcurrency: 1 })).toThrow(/maxConcurrency \(1\) must be an integer from 2 to 1000/);
      expect(() => consumer({ maxConcurrency: 1001 })).toThrow(/maxConcurrency \(1001\)/);
    });

    it('throws when the dedup lifetime does not outlive retention + redrive window', () => {
      expect(() =>
        consumer({ retentionPeriod: Duration.days(4), redriveWindow: Duration.days(14), dedupTtl: Duration.days(7) }),
      ).toThrow(
        /dedupTtl \(604800 s \(7 days\)\) must outlive the queue retention \(345600 s \(4 days\)\) \+ the redrive window \(1209600 s \(14 days\)\) = 1555200 s \(18 days\).*raise dedupTtl, or lower retentionPeriod \/ redriveWindow/,
      );
    });

    it('throws when a FIFO dedup lifetime is shorter than the 5-minute FIFO dedup window', () => {
      expect(() =>
        consumer({
          fifo: true,
          retentionPeriod: Duration.minutes(1),
          redriveWindow: Duration.seconds(0),
          dedupTtl: Duration.minutes(2),
        }),
      ).toThrow(/shorter than the 5-minute SQS FIFO dedup window/);
    });

    it('throws when the redrive window exceeds the DLQ retention', () => {
      expect(() => consumer({ redriveWindow: Duration.days(15) })).toThrow(/redriveWindow .* cannot exceed the DLQ retention/);
    });

    it('throws when the retention is outside 60 s–14 days', () => {
      expect(() => consumer({ retentionPeriod: Duration.seconds(30) })).toThrow(/retentionPeriod \(30 s\) must be from 60 s to 14 days/);
    });

    it('throws when memorySize is outside 128–10,240 MB', () => {
      expect(() => consumer({ functionOptions: { memorySize: 64 } })).toThrow(/memorySize \(64\) must be an integer from 128 to 10240/);
    });
  
    it('throws when provisioned pollers are combined with maxConcurrency', () => {
      expect(() => consumer({ maxConcurrency: 10, provisionedPollers: { minimumPollers: 2 } })).toThrow(
        /provisionedPollers and maxConcurrency \(10\) cannot be combined.*remove maxConcurrency and bound the scale with provisionedPollers\.maximumPollers/,
      );
    });

    it('throws when minimumPollers is outside 2–200', () => {
      expect(() => consumer({ provisionedPollers: { minimumPollers: 1 } })).toThrow(
        /provisionedPollers\.minimumPollers \(1\) must be an integer from 2 to 200 for an SQS queue; set minimumPollers within that range/,
      );
      expect(() => consumer({ provisionedPollers: { minimumPollers: 201, maximumPollers: 300 } })).toThrow(/minimumPollers \(201\)/);
    });

    it('throws when maximumPollers is outside 2–2,000', () => {
      expect(() => consumer({ provisionedPollers: { maximumPollers: 2001 } })).toThrow(
        /provisionedPollers\.maximumPollers \(2001\) must be an integer from 2 to 2000 for an SQS queue; set maximumPollers within that range/,
      );
      expect(() => consumer({ provisionedPollers: { maximumPollers: 1 } })).toThrow(/maximumPollers \(1\)/);
    });

    it('throws when minimumPollers exceeds maximumPollers', () => {
      expect(() => consumer({ provisionedPollers: { minimumPollers: 50, maximumPollers: 10 } })).toThrow(
        /provisionedPollers\.minimumPollers \(50\) must not exceed maximumPollers \(10\); raise maximumPollers to at least 50 or lower minimumPollers/,
      );
    });

    it('throws when a FIFO queue is given a fair-queue tenant key', () => {
      expect(() => consumer({ fifo: true, fairQueueTenantKey: 'accountId' })).toThrow(
        /fairQueueTenantKey \("accountId"\) applies to standard queues only \(SQS fair queues\).*remove fairQueueTenantKey or set fifo to false/,
      );
    });

    it('throws when the fair-queue tenant key is not a top-level body field name', () => {
      expect(() => consumer({ fairQueueTenantKey: 'account.id' })).toThrow(
        /fairQueueTenantKey \("account\.id"\) must name a top-level field of the message body/,
      );
    });
  });

  describe('scale options', () => {
    it('puts the mapping in provisioned mode with the given pollers and no MaximumConcurrency', () => {
      // GIVEN / WHEN
      const { template } = consumer({ fifo: true, provisionedPollers: { minimumPollers: 4, maximumPollers: 40 } });
      // THEN
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        ProvisionedPollerConfig: { MinimumPollers: 4, MaximumPollers: 40 },
        ScalingConfig: Match.absent(),
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    });

    it('fills AWS defaults (2 and 200) for bounds not given', () => {
      const { template } = consumer({ provisionedPollers: {} });
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 200 } });
    });

    it('stays in standard mode by default', () => {
      const { template } = consumer();
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ProvisionedPollerConfig: Match.absent() });
    });

    it('names the tenant key of its own fair queue, and none for a plain or foreign queue', () => {
      // GIVEN
      const fair = consumer({ fairQueueTenantKey: 'accountId' });
      const plain = consumer().construct;
      const foreign = new sqs.Queue(fair.stack, 'Foreign');
      // WHEN / THEN
      expect(fair.construct.tenantKey).toBe('accountId');
      expect(fairQueueTenantKeyOf(fair.construct.queue)).toBe('accountId');
      expect(fairQueueTenantKeyOf(fair.construct.deadLetterQueue)).toBeUndefined();
      expect(fairQueueTenantKeyOf(plain.queue)).toBeUndefined();
      expect(fairQueueTenantKeyOf(foreign)).toBeUndefined();
    });
  });
});
