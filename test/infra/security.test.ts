import { Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { newApp, paymentsStack } from './support.js';

/** Configurations the security checks run over: the default and every option that adds resources or grants. */
const CONFIGURATIONS: Array<Record<string, string>> = [
  {},
  { stage: 'prod', kmsKey: 'customer-managed', apiKey: 'true', alarmEmail: 'oncall@example.com' },
  { ledgerStrategy: 'powertools' },
  { ledgerStrategy: 'watermark', alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops' },
];

/**
 * `*` resources AWS requires, with the reason. Anything else with a `*` resource fails the test.
 */
const STAR_RESOURCE_ALLOWED: Record<string, string> = {
  'dynamodb:ListStreams': 'ListStreams has no resource-level permissions; the stream mapping needs it',
};

/**
 * Managed policies allowed on roles, with the reason.
 */
const MANAGED_POLICIES_ALLOWED: Record<string, string> = {
  AmazonAPIGatewayPushToCloudWatchLogs: 'the account-level API Gateway logging role; AWS documents this policy for it',
};

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Sid?: string;
}

function asArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** Every identity-policy statement of a template (AWS::IAM::Policy, ManagedPolicy, Role inline policies). */
function identityStatements(resources: Record<string, { Type: string; Properties?: any }>) {
  const found: Array<{ resource: string; statement: Statement }> = [];
  for (const [id, resource] of Object.entries(resources)) {
    const documents: any[] = [];
    if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
      documents.push(resource.Properties.PolicyDocument);
    }
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of asArray(resource.Properties.Policies)) documents.push((policy as any).PolicyDocument);
    }
    for (const document of documents) {
      for (const statement of asArray<Statement>(document.Statement)) found.push({ resource: id, statement });
    }
  }
  return found;
}

describe('security', () => {
  describe('cdk-nag AwsSolutions', () => {
    it.each(CONFIGURATIONS)('reports no unacknowledged finding for context %o', (context) => {
      // GIVEN
      const { stack } = paymentsStack(context);
      // WHEN
      const report = new AwsSolutionsChecks().validateScope(stack);
      // THEN
      expect(report.violations.map((v) => `${v.ruleName} @ ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
      expect(report.success).toBe(true);
    });

    it.each(CONFIGURATIONS)('carries no warning or error annotation for context %o', (context) => {
      // cdk-nag v3 reports through the validation plugin above, not annotations; this catches our own constructs'
      // warnings (addWarningV2) and CDK's, which `cdk synth` would print.
      const { stack } = paymentsStack(context);
      const annotations = Annotations.fromStack(stack);
      expect(annotations.findError('*', Match.anyValue())).toEqual([]);
      expect(annotations.findWarning('*', Match.anyValue())).toEqual([]);
    });

    it('gives every acknowledged finding a reason', () => {
      const { stack } = paymentsStack({ kmsKey: 'customer-managed' });
      const acknowledgements = stack.node
        .findAll()
        .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
        .flatMap((m) => Object.entries(m.data as Record<string, string>));
      expect(acknowledgements.length).toBeGreaterThan(0);
      for (const [id, reason] of acknowledgements) {
        expect(id).toMatch(/AwsSolutions-/);
        expect(reason.length, id).toBeGreaterThan(20);
      }
    });

    it('fails a stack with a finding, so the check above can fail', () => {
      // GIVEN a queue without a DLQ and without TLS enforcement
      const stack = new Stack(newApp(), 'Bad');
      new sqs.Queue(stack, 'Queue');
      // WHEN
      const report = new AwsSolutionsChecks().validateScope(stack);
      // THEN
      expect(report.violations.map((v) => v.ruleName)).toEqual(expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
    });
  });

  describe('least privilege', () => {
    it.each(CONFIGURATIONS)('has no "*" action and no "*" resource outside the allow-list for context %o', (context) => {
      // GIVEN
      const { template } = paymentsStack(context);
      const statements = identityStatements(template.toJSON().Resources);
      expect(statements.length).toBeGreaterThan(10);
      for (const { resource, statement } of statements) {
        const actions = asArray(statement.Action);
        // THEN no wildcard in any action (not `*`, not `sqs:*`, not `kms:GenerateDataKey*`)
        for (const action of actions) expect(action, `${resource}: ${action}`).not.toContain('*');
        // AND a `*` resource only for actions AWS offers no resource-level permission for
        const resources = asArray(statement.Resource);
        if (resources.includes('*')) {
          for (const action of actions) {
            expect(STAR_RESOURCE_ALLOWED[action], `${resource}: ${action} on "*"`).toBeDefined();
          }
        }
        for (const r of resources) {
          if (typeof r === 'string') expect(r === '*' || !r.includes('*'), `${resource}: ${r}`).toBe(true);
        }
      }
    });

    it.each(CONFIGURATIONS)('attaches only allow-listed managed policies for context %o', (context) => {
      const { template } = paymentsStack(context);
      const roles = Object.values(template.findResources('AWS::IAM::Role'));
      const managed = roles.flatMap((r) => asArray(r.Properties.ManagedPolicyArns)).map((arn) => JSON.stringify(arn));
      for (const arn of managed) {
        expect(Object.keys(MANAGED_POLICIES_ALLOWED).some((name) => arn.includes(`policy/service-role/${name}`)), arn).toBe(true);
      }
    });

    it('gives each function exactly the actions it uses', () => {
      // GIVEN the default stack
      const { template, stack } = paymentsStack();
      const resources = template.toJSON().Resources;
      const statements = identityStatements(resources);
      const actionsOf = (roleLogicalIdPrefix: string) => {
        const policyIds = Object.entries(resources)
          .filter(
            ([, r]: [string, any]) =>
              r.Type === 'AWS::IAM::Policy' &&
              r.Properties.Roles.some((role: any) => String(role.Ref).startsWith(roleLogicalIdPrefix)),
          )
          .map(([id]) => id);
        return [...new Set(statements.filter((s) => policyIds.includes(s.resource)).flatMap((s) => asArray(s.statement.Action)))].sort();
      };
      const roleId = (path: string[]) => {
        let node = stack.node.findChild(path[0]);
        for (const part of path.slice(1)) node = node.node.findChild(part);
        return stack.getLogicalId(node.node.defaultChild as any).slice(0, -8);
      };
      const logs = ['logs:CreateLogStream', 'logs:PutLogEvents'];
      const consume = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'];
      const powertools = ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];
      // THEN
      expect(actionsOf(roleId(['Payments', 'Handler', 'Role']))).toEqual(
        [...logs, ...consume, 'dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'].sort(),
      );
      expect(actionsOf(roleId(['Events', 'Handler', 'Role']))).toEqual([...logs, ...consume, ...powertools].sort());
      // The relay marks outbox items publishedAt / rejectedAt (UpdateItem); the sweeper scans for unpublished ones.
      expect(actionsOf(roleId(['Relay', 'Role']))).toEqual(
        [...logs, 'dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams', 'dynamodb:UpdateItem', 'sqs:SendMessage'].sort(),
      );
      expect(actionsOf(roleId(['Loyalty', 'Consumer', 'Handler', 'Role']))).toEqual(
        [...logs, ...consume, 'dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'].sort(),
      );
      expect(actionsOf(roleId(['OutboxSweeperFunction', 'Role']))).toEqual([...logs, 'dynamodb:Scan', 'dynamodb:UpdateItem', 'sqs:SendMessage'].sort());
      expect(actionsOf(roleId(['CreatePayment', 'Role']))).toEqual([...logs, ...powertools, 'sqs:SendMessage'].sort());
      expect(actionsOf(roleId(['GetAccount', 'Role']))).toEqual([...logs, 'dynamodb:GetItem'].sort());
    });

    it('allows only TLS-denying statements in queue and topic resource policies', () => {
      const { template } = paymentsStack({ kmsKey: 'customer-managed' });
      for (const type of ['AWS::SQS::QueuePolicy', 'AWS::SNS::TopicPolicy']) {
        for (const policy of Object.values(template.findResources(type))) {
          for (const statement of asArray<Statement>(policy.Properties.PolicyDocument.Statement)) {
            expect(statement.Effect).toBe('Deny');
          }
        }
      }
    });

    it('limits the key policy to the account administrators (AWS default) and CloudWatch alarms', () => {
      // The default key policy gives the account root `kms:*` on the key itself (Resource "*" in a key policy means
      // "this key"); IAM policies then decide who may use it. CloudWatch may only encrypt alarm notifications.
      const { template } = paymentsStack({ kmsKey: 'customer-managed' });
      const [key] = Object.values(template.findResources('AWS::KMS::Key'));
      const statements = asArray<Statement>(key.Properties.KeyPolicy.Statement);
      expect(statements).toHaveLength(2);
      expect(JSON.stringify(statements[0].Principal)).toMatch(/:root/);
      expect(statements[1]).toMatchObject({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      });
    });
  });
});
