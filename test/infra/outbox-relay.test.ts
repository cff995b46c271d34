import { Duration } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { HandlerFunction } from '../../lib/constructs/handler-function.js';
import { OutboxRelay, type OutboxRelayProps } from '../../lib/constructs/outbox-relay.js';
import { QueueConsumer } from '../../lib/constructs/queue-consumer.js';
import { LedgerTable } from '../../lib/constructs/tables.js';
import { fixtureEntry, newStack } from './support.js';

function relay(props: Partial<OutboxRelayProps> = {}, options: { key?: boolean } = {}) {
  const stack = newStack();
  const key = options.key ? new kms.Key(stack, 'Key', { enableKeyRotation: true }) : undefined;
  const ledger = new LedgerTable(stack, 'Ledger', { encryptionKey: key });
  const fn = new HandlerFunction(stack, 'Relay', { entry: fixtureEntry('relay') });
  const target = new sqs.Queue(stack, 'Target', { encryptionMasterKey: key, enforceSSL: true });
  const construct = new OutboxRelay(stack, 'OutboxRelay', {
    table: ledger.table,
    handler: fn.function,
    routes: [{ eventTypes: ['PaymentApplied', 'PaymentRejected'], destination: target }],
    encryptionKey: key,
    ...props,
  });
  return {
    stack,
    construct,
    fn,
    // Synthesized on first use, so a test can still add to the tree.
    get template() {
      return Template.fromStack(stack);
    },
  };
}

const OUTBOX_PATTERN = {
  eventName: ['INSERT'],
  dynamodb: { Keys: { pk: { S: [{ prefix: 'OUTBOX#' }] } } },
};

describe('OutboxRelay', () => {
  it('maps the stream from TRIM_HORIZON with partial batch responses, bisect, bounded retries and record age', () => {
    // GIVEN / WHEN defaults
    const { template } = relay();
    // THEN
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Ledger'), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 3,
      MaximumRecordAgeInSeconds: 900,
      ParallelizationFactor: 1,
      BatchSize: 100,
    });
  });

  it('filters the stream to outbox INSERTs only', () => {
    const { template } = relay();
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify(OUTBOX_PATTERN) }] },
    });
  });

  it('adds the account-item pattern (INSERT or MODIFY carrying lastEvent) for the watermark strategy', () => {
    const { template } = relay({ includeWatermarkEvents: true });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FilterCriteria: {
        Filters: [
          { Pattern: JSON.stringify(OUTBOX_PATTERN) },
          {
            Pattern: JSON.stringify({
              eventName: ['INSERT', 'MODIFY'],
              dynamodb: {
                Keys: { pk: { S: [{ prefix: 'ACCOUNT#' }] } },
                NewImage: { lastEvent: { S: [{ exists: true }] } },
              },
            }),
          },
        ],
      },
    });
  });

  it('sends exhausted batches to an encrypted, TLS-only failure queue', () => {
    const { template } = relay();
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^OutboxRelayFailureQueue'), 'Arn'] } },
      },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: Match.stringLikeRegexp('^OutboxRelayFailureQueue') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('grants the relay SendMessage on the destination and the failure queue, UpdateItem on the table, and injects its routes', () => {
    const { template } = relay();
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        // the mapping binds (failure queue) before the target grant
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'sqs:SendMessage',
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^OutboxRelayFailureQueue'), 'Arn'] },
          }),
          Match.objectLike({ Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Target'), 'Arn'] } }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'dynamodb:UpdateItem', Resource: Match.arrayWith([{ 'Fn::GetAtt': [Match.stringLikeRegexp('^Ledger'), 'Arn'] }]) }),
        ]),
      },
    });
    const routes = Template.fromJSON(template.toJSON()).findResources('AWS::Lambda::Function');
    const variables = Object.values(routes).map((r) => (r as { Properties: { Environment?: { Variables?: Record<string, unknown> } } }).Properties.Environment?.Variables ?? {});
    const relayVars = variables.find((v) => 'OUTBOX_ROUTES' in v)!;
    expect(JSON.stringify(relayVars.OUTBOX_ROUTES)).toMatch(/eventTypes.*PaymentApplied.*PaymentRejected.*queueUrl/);
    expect(relayVars.OUTBOX_TABLE_NAME).toEqual({ Ref: expect.stringMatching(/^Ledger/) });
  });

  it('routes each consumer\'s event types to its own queue, added later with addRoute, and grants every publisher', () => {
    // GIVEN a relay with the payments route, and a second consumer's queue
    const { stack, construct, fn } = relay();
    const orders = new sqs.Queue(stack, 'OrdersEvents', { enforceSSL: true });
    const sweeper = new HandlerFunction(stack, 'Sweeper', { entry: fixtureEntry('relay') });
    // WHEN
    construct.addRoute({ eventTypePrefix: 'Order', destination: orders });
    construct.addPublisher(sweeper.function);
    const template = Template.fromStack(stack);
    // THEN both functions carry both routes and may send to both queues
    for (const name of [fn.function, sweeper.function]) {
      const logicalId = stack.getLogicalId(name.node.defaultChild as never);
      const properties = template.toJSON().Resources[logicalId].Properties;
      expect(JSON.stringify(properties.Environment.Variables.OUTBOX_ROUTES)).toMatch(/PaymentApplied.*eventTypePrefix.*Order/);
    }
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^SweeperRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Target'), 'Arn'] } }),
          Match.objectLike({ Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^OrdersEvents'), 'Arn'] } }),
        ]),
      },
    });
  });

  it("takes over a fair queue's tenant key from its QueueConsumer and injects it with the route (relay and sweeper)", () => {
    // GIVEN a relay and a fair events queue declared by its consumer
    const { stack, construct, fn } = relay();
    const events = new QueueConsumer(stack, 'Fair', { entry: fixtureEntry(), fairQueueTenantKey: 'accountId' });
    const sweeper = new HandlerFunction(stack, 'Sweeper', { entry: fixtureEntry('relay') });
    // WHEN
    construct.addRoute({ eventTypes: ['PaymentFair'], destination: events.queue });
    construct.addPublisher(sweeper.function);
    const template = Template.fromStack(stack);
    // THEN the route to the fair queue carries the tenant key; the plain route carries none
    expect(construct.routes.map((r) => r.fairQueueTenantKey)).toEqual([undefined, 'accountId']);
    for (const name of [fn.function, sweeper.function]) {
      const logicalId = stack.getLogicalId(name.node.defaultChild as never);
      const routes = JSON.stringify(template.toJSON().Resources[logicalId].Properties.Environment.Variables.OUTBOX_ROUTES);
      expect(routes).toMatch(/PaymentFair.*Ref.*FairQueue.*tenantKey\W+accountId/);
      expect(routes.match(/tenantKey/g)).toHaveLength(1);
    }
  });

  it('sends a tenant key given on a route to a standard queue that no QueueConsumer declared', () => {
    const { stack, construct } = relay();
    const imported = new sqs.Queue(stack, 'Imported');
    construct.addRoute({ eventTypes: ['X'], destination: imported, fairQueueTenantKey: 'tenantId' });
    expect(construct.routes.at(-1)?.fairQueueTenantKey).toBe('tenantId');
  });

  it('grants exact KMS actions (no wildcards) when the queues use a customer-managed key', () => {
    const { template } = relay({}, { key: true });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: ['kms:GenerateDataKey', 'kms:Decrypt'] })]),
      },
    });
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).not.toMatch(/kms:[A-Za-z]*\*/);
  });

  it('honours custom retries, record age and parallelization', () => {
    const { template } = relay({ retryAttempts: 2, maxRecordAge: Duration.minutes(2), parallelizationFactor: 4 });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      MaximumRetryAttempts: 2,
      MaximumRecordAgeInSeconds: 120,
      ParallelizationFactor: 4,
    });
  });

  it('warns when maxRecordAge outlives the 24-hour stream retention', () => {
    const { stack } = relay({ maxRecordAge: Duration.days(2) });
    Annotations.fromStack(stack).hasWarning('/TestStack/OutboxRelay', Match.stringLikeRegexp('exceeds the 24-hour stream retention'));
  });

  it('does not warn with the default record age', () => {
    const { stack } = relay();
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('stream retention'))).toHaveLength(0);
  });

  describe('validation', () => {
    it('throws when retryAttempts is outside 0–10,000', () => {
      expect(() => relay({ retryAttempts: -1 })).toThrow(/retryAttempts \(-1\) must be an integer from 0 to 10000/);
      expect(() => relay({ retryAttempts: 10_001 })).toThrow(/retryAttempts \(10001\)/);
    });

    it('throws when maxRecordAge is outside 60 s–7 days', () => {
      expect(() => relay({ maxRecordAge: Duration.seconds(59) })).toThrow(/maxRecordAge \(59 s\) must be from 60 s to 7 days/);
      expect(() => relay({ maxRecordAge: Duration.days(8) })).toThrow(/maxRecordAge \(691200 s \(8 days\)\)/);
    });

    it('throws when parallelizationFactor is outside 1–10', () => {
      expect(() => relay({ parallelizationFactor: 11 })).toThrow(/parallelizationFactor \(11\) must be an integer from 1 to 10/);
      expect(() => relay({ parallelizationFactor: 0 })).toThrow(/parallelizationFactor \(0\)/);
    });

    it('throws when batchSize is outside 1–10,000', () => {
      expect(() => relay({ batchSize: 0 })).toThrow(/batchSize \(0\) must be an integer from 1 to 10000/);
    });

    it('throws when a route has both or neither of eventTypes and eventTypePrefix, or an invalid type', () => {
      const { stack, construct } = relay();
      const queue = new sqs.Queue(stack, 'Q');
      expect(() => construct.addRoute({ destination: queue })).toThrow(/must have either eventTypes or eventTypePrefix \(got neither\)/);
      expect(() => construct.addRoute({ eventTypes: ['A'], eventTypePrefix: 'A', destination: queue })).toThrow(/\(got both\)/);
      expect(() => construct.addRoute({ eventTypes: ['has space'], destination: queue })).toThrow(/eventTypes \(\["has space"\]\) must be/);
    });

    it("throws when a route's fair-queue tenant key differs from its QueueConsumer's, is no body field name, or is on a FIFO queue", () => {
      const { stack, construct } = relay();
      const fair = new QueueConsumer(stack, 'Fair', { entry: fixtureEntry(), fairQueueTenantKey: 'accountId' });
      const fifo = new sqs.Queue(stack, 'Fifo', { fifo: true });
      expect(() => construct.addRoute({ eventTypes: ['A'], destination: fair.queue, fairQueueTenantKey: 'merchantId' })).toThrow(
        /fairQueueTenantKey \("merchantId"\) of the route to .*Fair\/Queue differs from the tenant key its QueueConsumer declares \("accountId"\)/,
      );
      expect(() => construct.addRoute({ eventTypes: ['A'], destination: new sqs.Queue(stack, 'Q1'), fairQueueTenantKey: 'a.b' })).toThrow(
        /fairQueueTenantKey \("a\.b"\) of the route to .*Q1 must name a top-level field of the message body/,
      );
      expect(() => construct.addRoute({ eventTypes: ['A'], destination: fifo, fairQueueTenantKey: 'accountId' })).toThrow(
        /applies to standard queues only \(SQS fair queues\), but .*Fifo is FIFO/,
      );
    });

    it('throws when two routes give one queue different fair-queue tenant keys', () => {
      const { stack, construct } = relay();
      const queue = new sqs.Queue(stack, 'Shared');
      construct.addRoute({ eventTypes: ['A'], destination: queue, fairQueueTenantKey: 'accountId' });
      expect(() => construct.addRoute({ eventTypes: ['B'], destination: queue })).toThrow(
        /routes to .*Shared give it two fair-queue tenant keys \(accountId and undefined\)/,
      );
    });

    it('fails synthesis when the relay has no route', () => {
      const stack = newStack();
      const ledger = new LedgerTable(stack, 'Ledger');
      const fn = new HandlerFunction(stack, 'Relay', { entry: fixtureEntry('relay') });
      new OutboxRelay(stack, 'OutboxRelay', { table: ledger.table, handler: fn.function });
      expect(() => Template.fromStack(stack)).toThrow(/has no route: give routes or call addRoute/);
    });

    it('throws when the table has no stream', () => {
      const stack = newStack();
      const table = new dynamodb.Table(stack, 'NoStream', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      });
      const fn = new HandlerFunction(stack, 'Relay', { entry: fixtureEntry('relay') });
      const target = new sqs.Queue(stack, 'Target');
      expect(() => new OutboxRelay(stack, 'OutboxRelay', { table, handler: fn.function, routes: [{ eventTypePrefix: '', destination: target }] })).toThrow(
        /has no stream; create it with stream: NEW_IMAGE/,
      );
    });
  });
});
