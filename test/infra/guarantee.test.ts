import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseConfig, validateNotifierTimeBudget } from '../../lib/config.js';
import { PaymentsStack } from '../../lib/payments-stack.js';
import { BASE_CONTEXT, FIXTURE_LAMBDAS, newApp, paymentsStack } from './support.js';

/** Issue 11: the synth-time rules and the alarm that keep the guarantee's edges visible. */
describe('notifier time budget (issue 11 item 5)', () => {
  const read = (context: Record<string, unknown>) => (key: string) => ({ ...BASE_CONTEXT, ...context })[key];

  it('rejects a webhook timeout equal to the function timeout, naming both values and the fix', () => {
    // WHEN / THEN
    expect(() => parseConfig(read({ consumerTimeoutSeconds: '10', webhookTimeoutMs: '10000' }))).toThrow(
      /webhookTimeoutMs.*10000 ms must be shorter than the notifier's function timeout \(consumerTimeoutSeconds = 10 s = 10000 ms\).*pass -c webhookTimeoutMs=9000 or less, or raise -c consumerTimeoutSeconds to 11 or more/,
    );
  });

  it('rejects a webhook timeout longer than the function timeout', () => {
    expect(() => parseConfig(read({ consumerTimeoutSeconds: '5', webhookTimeoutMs: '12500' }))).toThrow(
      /12500 ms must be shorter than the notifier's function timeout \(consumerTimeoutSeconds = 5 s = 5000 ms\).*raise -c consumerTimeoutSeconds to 13 or more/,
    );
  });

  it('rejects it in the stack too when the config is built by hand (not through parseConfig)', () => {
    // GIVEN a valid parsed config, then an edited timeout
    const config = { ...parseConfig(read({})), webhookTimeoutMs: 30_000 };
    // WHEN / THEN
    expect(() => new PaymentsStack(newApp(), 'Budget', { config, lambdasRoot: FIXTURE_LAMBDAS })).toThrow(
      /30000 ms must be shorter than the notifier's function timeout \(consumerTimeoutSeconds = 30 s = 30000 ms\)/,
    );
  });

  it('accepts a webhook timeout just under the function timeout, and defaults under a short function timeout', () => {
    expect(() => validateNotifierTimeBudget({ consumerTimeoutSeconds: 10, webhookTimeoutMs: 9_999 })).not.toThrow();
    expect(parseConfig(read({ consumerTimeoutSeconds: '2' })).webhookTimeoutMs).toBe(1_000);
    expect(parseConfig(read({})).webhookTimeoutMs).toBe(5_000);
  });
});

describe('ledger dead-lettering and its alarm (issue 11 item 1)', () => {
  it('lets the ledger send to its own DLQ and tells it the DLQ URL', () => {
    // WHEN
    const { stack, template } = paymentsStack();
    // THEN
    const dlqId = stack.getLogicalId(stack.ledger.deadLetterQueue.node.defaultChild as never);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ PAYMENTS_DLQ_URL: { Ref: dlqId } }) },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [dlqId, 'Arn'] } })]),
      },
    });
  });

  it('alarms on a payment fenced without a marker (dead-lettered, never applied)', () => {
    const { template } = paymentsStack();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'FencedWithoutMarker',
      Namespace: 'ExactlyOncePayments',
      Dimensions: Match.arrayWith([{ Name: 'layer', Value: 'ledger' }]),
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmDescription: Match.stringLikeRegexp('never been applied.*Runbook: lib/README.md#fencedwithoutmarker'),
    });
  });
});
