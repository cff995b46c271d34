import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { HandlerFunction } from '../../lib/constructs/handler-function.js';
import { CONSUMERS } from '../../lib/consumers/index.js';
import type { CfnTemplate } from '../../local/template/types.js';
import { denials, judge, serviceIntegrations } from './service-integrations.js';
import { fixtureEntry, newApp, paymentsStack } from './support.js';

/** Configurations whose integrations differ: the default, a customer-managed key (topic, queues), prod with API key. */
const CONFIGURATIONS: Array<Record<string, string>> = [
  {},
  { kmsKey: 'customer-managed' },
  { stage: 'prod', kmsKey: 'customer-managed', apiKey: 'true', alarmEmail: 'oncall@example.com' },
  { ledgerStrategy: 'watermark', alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops' },
];

const templateOf = (context: Record<string, string>) => paymentsStack(context).template.toJSON() as CfnTemplate & { Resources: Record<string, any> };

/** SQS mappings of the stack: ledger, notifier, loyalty, and one per consumer added with `npm run new`. */
const SQS_MAPPINGS = 3 + CONSUMERS.length;

const counts = (kinds: readonly { kind: string }[]) =>
  kinds.reduce<Record<string, number>>((acc, { kind }) => ({ ...acc, [kind]: (acc[kind] ?? 0) + 1 }), {});

describe('service integrations', () => {
  it.each(CONFIGURATIONS)('lets every AWS service that acts on the stack\'s resources do so, for context %o', (context) => {
    // GIVEN
    const template = templateOf(context);
    const alarms = Object.values(template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm').length;
    // WHEN
    const { integrations, external } = serviceIntegrations(template);
    const judged = judge(integrations);
    // THEN nothing is denied
    expect(denials(judged)).toEqual([]);
    // AND every kind the stack has was found: each alarm's ALARM and OK action, both API methods, the mappings
    // (ledger, notifier, loyalty and any scaffolded consumer on SQS, the relay on the stream), the sweeper's rule
    const found = counts(integrations);
    expect(found['API → Lambda']).toBe(2);
    expect(found['mapping → SQS']).toBe(3 * SQS_MAPPINGS);
    expect(found['rule → Lambda']).toBe(1);
    expect(found['mapping → stream']).toBe(4);
    expect(found['mapping → destination']).toBe(1);
    if (context.alarmTopicArn) {
      // The imported topic's policy is not in the template: every alarm is listed as not judged, none silently.
      expect(found['alarm → SNS']).toBeUndefined();
      expect(external).toHaveLength(alarms);
      for (const line of external) expect(line).toContain(context.alarmTopicArn);
    } else {
      expect(found['alarm → SNS']).toBe(alarms);
      expect(external).toEqual([]);
    }
    if (context.kmsKey === 'customer-managed') {
      expect(found['alarm → KMS']).toBe(2 * alarms);
      // kms:Decrypt for each SQS mapping, GenerateDataKey + Decrypt for the destination
      expect(found['mapping → KMS']).toBe(SQS_MAPPINGS + 2);
    }
  });

  it.each(CONFIGURATIONS)('keeps cdk-nag clean with the service permissions for context %o', (context) => {
    const { stack } = paymentsStack(context);
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });

  describe('negative controls: each fails as AWS would', () => {
    it('denies CloudWatch under the pre-fix topic policy (enforceSSL\'s Deny only)', () => {
      // GIVEN the alarm topic's policy as it was before issue 10
      const template = templateOf({});
      const [policy] = Object.values(template.Resources).filter((r) => r.Type === 'AWS::SNS::TopicPolicy');
      policy.Properties.PolicyDocument.Statement = policy.Properties.PolicyDocument.Statement.filter((s: any) => s.Effect === 'Deny');
      // WHEN
      const judged = judge(serviceIntegrations(template).integrations).filter((j) => j.kind === 'alarm → SNS');
      // THEN every alarm is refused, implicitly (no Allow for the service), as on AWS
      expect(judged.length).toBeGreaterThan(10);
      for (const j of judged) {
        expect(j.decision.decision).toBe('ImplicitDeny');
        expect(j.request).toMatchObject({ action: 'sns:Publish', principal: { arn: 'cloudwatch.amazonaws.com' } });
      }
    });

    it('denies an alarm of another account, and an alarm this topic policy does not name', () => {
      const template = templateOf({});
      const { integrations } = serviceIntegrations(template);
      const [publish] = integrations.filter((i) => i.kind === 'alarm → SNS');
      const otherAccount = { ...publish, request: { ...publish.request, context: { ...publish.request.context, 'aws:SourceAccount': '999999999999' } } };
      const otherAlarm = {
        ...publish,
        request: { ...publish.request, context: { ...publish.request.context, 'aws:SourceArn': 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:someone-else' } },
      };
      expect(judge([otherAccount, otherAlarm]).map((j) => j.decision.decision)).toEqual(['ImplicitDeny', 'ImplicitDeny']);
    });

    it('denies API Gateway when a function lacks its permission for the API', () => {
      // GIVEN the stack without the permissions of GET /accounts/{accountId}
      const template = templateOf({});
      for (const [id, r] of Object.entries(template.Resources)) {
        if (r.Type === 'AWS::Lambda::Permission' && /accounts/i.test(id)) delete template.Resources[id];
      }
      // WHEN
      const judged = judge(serviceIntegrations(template).integrations).filter((j) => j.kind === 'API → Lambda');
      // THEN the GET method is refused and the POST method still allowed
      expect(judged.map((j) => [j.between.split(' ')[0].replace(/[0-9A-F]{8}$/, ''), j.decision.decision]).sort()).toEqual([
        ['ApiaccountsaccountIdGET', 'ImplicitDeny'],
        ['ApipaymentsPOST', 'Allow'],
      ]);
    });

    it('denies CloudWatch the key of an encrypted topic when the key policy lacks the service', () => {
      // GIVEN a customer-managed key whose policy keeps only the account root statement
      const template = templateOf({ kmsKey: 'customer-managed' });
      const [key] = Object.values(template.Resources).filter((r) => r.Type === 'AWS::KMS::Key');
      key.Properties.KeyPolicy.Statement = key.Properties.KeyPolicy.Statement.filter((s: any) => !s.Principal?.Service);
      // WHEN
      const judged = judge(serviceIntegrations(template).integrations);
      // THEN publishing is still allowed by the topic policy, but no alarm can use the key: SNS would drop them
      expect(judged.filter((j) => j.kind === 'alarm → SNS').every((j) => j.decision.decision === 'Allow')).toBe(true);
      const keyUse = judged.filter((j) => j.kind === 'alarm → KMS');
      expect(keyUse.length).toBeGreaterThan(10);
      for (const j of keyUse) expect(j.decision.decision).toBe('ImplicitDeny');
      // AND the functions' roles keep their access: the root statement delegates to their IAM policies
      expect(judged.filter((j) => j.kind === 'mapping → KMS').every((j) => j.decision.decision === 'Allow')).toBe(true);
    });

    it('denies a mapping whose role lost sqs:GetQueueAttributes, naming the role and the action', () => {
      const template = templateOf({});
      for (const r of Object.values(template.Resources)) {
        if (r.Type !== 'AWS::IAM::Policy') continue;
        for (const statement of r.Properties.PolicyDocument.Statement) {
          if (Array.isArray(statement.Action)) statement.Action = statement.Action.filter((a: string) => a !== 'sqs:GetQueueAttributes');
        }
      }
      const refused = denials(judge(serviceIntegrations(template).integrations));
      // one per SQS mapping: ledger, notifier, loyalty (and any scaffolded consumer)
      expect(refused).toHaveLength(SQS_MAPPINGS);
      for (const line of refused) expect(line).toMatch(/^mapping → SQS .*arn:aws:iam::123456789012:role\/.* sqs:GetQueueAttributes on arn:aws:sqs:/);
    });
  });

  describe('EventBridge rule → Lambda', () => {
    const ruleStack = () => {
      const stack = new Stack(newApp(), 'Rules');
      const fn = new HandlerFunction(stack, 'Fn', { entry: fixtureEntry() });
      new events.Rule(stack, 'Every5Minutes', { schedule: events.Schedule.expression('rate(5 minutes)'), targets: [new targets.LambdaFunction(fn.function)] });
      return Template.fromStack(stack).toJSON() as CfnTemplate & { Resources: Record<string, any> };
    };

    it('allows the rule through the permission CDK adds', () => {
      const judged = judge(serviceIntegrations(ruleStack()).integrations);
      expect(judged.map((j) => [j.kind, j.decision.decision])).toEqual([['rule → Lambda', 'Allow']]);
    });

    it('denies the rule without that permission', () => {
      const template = ruleStack();
      for (const [id, r] of Object.entries(template.Resources)) if (r.Type === 'AWS::Lambda::Permission') delete template.Resources[id];
      const judged = judge(serviceIntegrations(template).integrations);
      expect(judged.map((j) => [j.kind, j.decision.decision])).toEqual([['rule → Lambda', 'ImplicitDeny']]);
    });
  });

  describe('EventBridge Scheduler schedule → Lambda', () => {
    const scheduleStack = () => {
      const stack = new Stack(newApp(), 'Schedules');
      const fn = new HandlerFunction(stack, 'Fn', { entry: fixtureEntry() });
      new scheduler.Schedule(stack, 'Nightly', {
        schedule: scheduler.ScheduleExpression.expression('cron(0 2 * * ? *)'),
        target: new schedulerTargets.LambdaInvoke(fn.function),
      });
      return Template.fromStack(stack).toJSON() as CfnTemplate & { Resources: Record<string, any> };
    };

    it('allows the scheduler to assume the target role and the role to invoke the function', () => {
      const judged = judge(serviceIntegrations(scheduleStack()).integrations);
      expect(judged.map((j) => [j.kind, j.decision.decision])).toEqual([
        ['schedule → role', 'Allow'],
        ['schedule → Lambda', 'Allow'],
      ]);
    });

    it('denies the invocation when the schedule role has no lambda:InvokeFunction', () => {
      const template = scheduleStack();
      for (const [id, r] of Object.entries(template.Resources)) {
        if (r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties).includes('lambda:InvokeFunction')) delete template.Resources[id];
      }
      const judged = judge(serviceIntegrations(template).integrations);
      expect(judged.map((j) => [j.kind, j.decision.decision])).toEqual([
        ['schedule → role', 'Allow'],
        ['schedule → Lambda', 'ImplicitDeny'],
      ]);
    });
  });
});
