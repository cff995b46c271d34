import type { App } from 'aws-cdk-lib';
import { CONSUMERS } from '../../lib/consumers/index.js';
import { Match } from 'aws-cdk-lib/assertions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
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

    it('gives the ledger exactly its env: table, dedup TTL outliving retention + redrive window, strategy, its DLQ', () => {
      const built = paymentsStack();
      expect(envNames(built, built.stack.ledger.handler.function)).toEqual(
        ['DEDUP_TTL_SECONDS', 'LEDGER_STRATEGY', 'LEDGER_TABLE_NAME', 'NODE_OPTIONS', 'PAYMENTS_DLQ_URL', ...POWERTOOLS].sort(),
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
        MaximumRetryAttempts: 3,
        MaximumRecordAgeInSeconds: 900,
        FilterCriteria: {
          Filters: [{ Pattern: JSON.stringify({ eventName: ['INSERT'], dynamodb: { Keys: { pk: { S: [{ prefix: 'OUTBOX#' }] } } } }) }],
        },
        DestinationConfig: {
          OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^OutboxRelayFailureQueue'), 'Arn'] } },
        },
      });
    });

    it('routes the payment events to the events queue: the relay gets its routes and the table to mark, nothing else of ours', () => {
      const built = paymentsStack();
      const relayFn = built.stack.node.findChild('Relay').node.findChild('Function') as lambda.Function;
      expect(envNames(built, relayFn)).toEqual(['NODE_OPTIONS', 'OUTBOX_ROUTES', 'OUTBOX_TABLE_NAME', ...POWERTOOLS].sort());
      const routes = JSON.stringify(built.stack.resolve(relayFn.node.defaultChild && (relayFn.node.defaultChild as lambda.CfnFunction).environment));
      expect(routes).toMatch(/eventTypes.*PaymentApplied.*PaymentRejected.*queueUrl/);
      // The events queue is a fair queue keyed by account: its route carries the tenant key the notifier's consumer declares.
      expect(routes).toMatch(/EventsQueue.*tenantKey\W+accountId/);
    });

    it('uses NEW_AND_OLD_IMAGES and the account-item filter for the watermark strategy', () => {
      const { template } = paymentsStack({ ledgerStrategy: 'watermark' });
      template.hasResourceProperties('AWS::DynamoDB::Table', { StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' } });
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FilterCriteria: { Filters: Match.arrayWith([{ Pattern: Match.stringLikeRegexp('lastEvent') }]) },
      });
    });

    it('takes the relay retry bound from context', () => {
      const { template } = paymentsStack({ relayRetryAttempts: '7' });
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRetryAttempts: 7 });
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
          // One receive per webhook attempt (webhookMaxAttempts, default 10).
          maxReceiveCount: 10,
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
        [
          'EVENTS_DLQ_URL',
          'EVENTS_QUEUE_URL',
          'IDEMPOTENCY_TABLE_NAME',
          'IDEMPOTENCY_TTL_SECONDS',
          'NODE_OPTIONS',
          'WEBHOOK_MAX_ATTEMPTS',
          'WEBHOOK_RETRY_HORIZON_SECONDS',
          'WEBHOOK_SECRET_ARN',
          'WEBHOOK_SECRET_MAX_AGE_SECONDS',
          'WEBHOOK_TIMEOUT_MS',
          'WEBHOOK_URL',
          ...POWERTOOLS,
        ].sort(),
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
      // create-payment, get-account, ledger, relay, notifier, outbox sweeper, loyalty + one per registered consumer
      expect(Object.keys(functions)).toHaveLength(7 + CONSUMERS.length);
      template.allResourcesProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        MemorySize: 512,
        Handler: 'index.handler',
        LoggingConfig: { LogGroup: { Ref: Match.anyValue() }, LogFormat: 'JSON' },
      });
      template.resourceCountIs('AWS::Logs::LogGroup', 8 + CONSUMERS.length); // every function + API access logs
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

});
