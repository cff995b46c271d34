import { CONSUMERS } from '../../lib/consumers/index.js';
import { Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it, vi } from 'vitest';
import { LedgerTable } from '../../lib/constructs/tables.js';
import { ENV } from '../../lambdas/shared/env.js';
import { callsOf, compareGrants, expectedPermissions, functionsOf, grantedPermissions } from './least-privilege.js';
import { newApp, paymentsStack, REAL_LAMBDAS } from './support.js';

/** Configurations the security checks run over: the default and every option that adds resources or grants. */
const CONFIGURATIONS: Array<Record<string, string>> = [
  {},
  { stage: 'prod', kmsKey: 'customer-managed', apiKey: 'true', alarmEmail: 'oncall@example.com' },
  { ledgerStrategy: 'powertools' },
  { ledgerStrategy: 'watermark', alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops' },
];

/** Every ledger strategy, and the customer-managed key (KMS grants) with a stage that changes removal policies. */
const LEAST_PRIVILEGE_CONFIGURATIONS: Array<Record<string, string>> = [
  {},
  { ledgerStrategy: 'watermark' },
  { ledgerStrategy: 'powertools' },
  { ledgerStrategy: 'at-least-once' },
  { stage: 'prod', kmsKey: 'customer-managed', apiKey: 'true' },
  { ledgerStrategy: 'powertools', kmsKey: 'customer-managed' },
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
  Condition?: unknown;
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

    it.each(LEAST_PRIVILEGE_CONFIGURATIONS)(
      'grants each function exactly what its code and its mappings call, on the right resources, for context %o',
      async (context) => {
        // GIVEN the stack with the real handlers
        const { stack, template } = paymentsStack(context, REAL_LAMBDAS);
        const resources = template.toJSON().Resources;
        const granted = grantedPermissions(resources);
        const functions = functionsOf(stack, resources);
        // (plus one per consumer of the registry: `npm run new` adds them, and each is checked the same way)
        const registered = CONSUMERS.map((c) => `Consumers/${c.name.split('-').map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')}/Handler`);
        expect(functions.map((f) => f.path.split('/').slice(1).join('/')).sort()).toEqual(
          ['CreatePayment', 'Events/Handler', 'GetAccount', 'Loyalty/Consumer/Handler', 'OutboxSweeperFunction', 'Payments/Handler', 'Relay', ...registered].sort(),
        );
        // THEN every role is a function's role (no role escapes the check) ...
        const functionRoles = new Set(functions.map((f) => f.roleId));
        const apiLoggingRole = [...granted.keys()].filter((role) => !functionRoles.has(role));
        expect(apiLoggingRole, 'roles with policies that belong to no HandlerFunction').toEqual([]);
        // ... and each role has exactly the permissions its function needs
        for (const fn of functions) {
          const expected = await expectedPermissions(fn, resources);
          const difference = compareGrants(expected, granted.get(fn.roleId) ?? new Set());
          expect(difference, `${fn.path} (${fn.entry})`).toEqual({ missing: [], excess: [] });
        }
      },
    );

    it('derives the atomic ledger consumer\'s calls from its code: BatchGetItem, a Put+Update transaction, SendMessage to its DLQ, no DeleteItem', async () => {
      // GIVEN the atomic ledger handler (what the least-privilege test above compares the grants with)
      const { stack, template } = paymentsStack({}, REAL_LAMBDAS);
      const resources = template.toJSON().Resources;
      const ledger = functionsOf(stack, resources).find((f) => f.path.includes('/Payments/'))!;
      // WHEN
      const calls = await callsOf(ledger);
      // THEN
      expect(calls.calls.map((c) => `${c.operation} @ ${c.module.replace(/.*node_modules\//, '')}`).sort()).toEqual([
        'BatchGetItem @ lambdas/ledger/ledger.ts',
        'SendMessage @ lambdas/ledger/dead-letter.ts',
        'TransactWriteItems @ lambdas/shared/atomic-idempotency/AtomicIdempotency.ts',
      ]);
      expect([...calls.transactWriteKinds].sort()).toEqual(['Put', 'Update']);
      // AND its SendMessage goes to the payments DLQ (PAYMENTS_DLQ_URL), not to the queue it consumes
      const dlq = (ledger.environment[ENV.PAYMENTS_DLQ_URL] as { Ref: string }).Ref;
      const expected = await expectedPermissions(ledger, resources);
      expect([...expected.keys()].filter((p) => p.startsWith('sqs:SendMessage'))).toEqual([`sqs:SendMessage ${dlq}.Arn`]);
    });

    it('derives Powertools idempotency\'s calls from its persistence layer in node_modules', async () => {
      const { stack, template } = paymentsStack({}, REAL_LAMBDAS);
      const notifier = functionsOf(stack, template.toJSON().Resources).find((f) => f.path.includes('/Events/'))!;
      const calls = await callsOf(notifier);
      const dynamodb = calls.calls.filter((c) => c.service === 'dynamodb');
      expect(dynamodb.map((c) => c.operation).sort()).toEqual(['DeleteItem', 'GetItem', 'PutItem', 'UpdateItem']);
      for (const call of dynamodb) expect(call.module).toMatch(/@aws-lambda-powertools\/idempotency\/.*DynamoDBPersistenceLayer/);
    });

    it('derives the notifier\'s other calls and their targets: the secret read by Powertools parameters, the retry schedule on its own queue, refusals to its DLQ', async () => {
      // GIVEN the notifier with a customer-managed key (so the KMS side of each call shows too)
      const { stack, template } = paymentsStack({ kmsKey: 'customer-managed' }, REAL_LAMBDAS);
      const resources = template.toJSON().Resources;
      const notifier = functionsOf(stack, resources).find((f) => f.path.includes('/Events/'))!;
      const ref = (name: string) => (notifier.environment[name] as { Ref: string }).Ref;
      // WHEN
      const calls = (await callsOf(notifier)).calls.filter((c) => c.service !== 'dynamodb');
      const expected = await expectedPermissions(notifier, resources);
      // THEN the calls come from the modules that make them
      expect(calls.map((c) => `${c.service}:${c.operation} @ ${c.module.replace(/.*node_modules\//, '')}`).sort()).toEqual([
        'secretsmanager:GetSecretValue @ @aws-lambda-powertools/parameters/lib/esm/secrets/SecretsProvider.js',
        'sqs:ChangeMessageVisibility @ lambdas/notifier/retry-queue.ts',
        'sqs:SendMessage @ lambdas/notifier/retry-queue.ts',
      ]);
      // AND each lands on the one resource it can reach: the secret in WEBHOOK_SECRET_ARN, the events queue the
      // receipt handles come from, the DLQ in EVENTS_DLQ_URL (never a send to its own source queue)
      const permissions = [...expected.keys()];
      expect(permissions.filter((p) => /^(sqs:(SendMessage|ChangeMessageVisibility)|secretsmanager:)/.test(p)).sort()).toEqual([
        `secretsmanager:GetSecretValue ${ref(ENV.WEBHOOK_SECRET_ARN)}.Ref`,
        `sqs:ChangeMessageVisibility ${ref(ENV.EVENTS_QUEUE_URL)}.Arn`,
        `sqs:SendMessage ${ref(ENV.EVENTS_DLQ_URL)}.Arn`,
      ]);
      // AND the key: decrypting the secret and sending to the encrypted DLQ need it (C4)
      const key = permissions.find((p) => p.startsWith('kms:Decrypt '))!.split(' ')[1];
      expect(expected.get(`kms:Decrypt ${key}`)!.join('\n')).toMatch(/GetSecretValue .*CMK-encrypted secret/);
      expect(expected.get(`kms:GenerateDataKey ${key}`)!.join('\n')).toMatch(/SendMessage to EVENTS_DLQ_URL .*CMK-encrypted queue/);
    });

    it('fails a notifier role that cannot read its signing secret, or that may send to its own queue', async () => {
      // GIVEN the default stack's notifier grant without secretsmanager:GetSecretValue, plus a send to its source
      const { stack, template } = paymentsStack({}, REAL_LAMBDAS);
      const resources = template.toJSON().Resources;
      const notifier = functionsOf(stack, resources).find((f) => f.path.includes('/Events/'))!;
      const secret = `${(notifier.environment[ENV.WEBHOOK_SECRET_ARN] as { Ref: string }).Ref}.Ref`;
      const queue = `${(notifier.environment[ENV.EVENTS_QUEUE_URL] as { Ref: string }).Ref}.Arn`;
      const granted = new Set(grantedPermissions(resources).get(notifier.roleId));
      expect(granted.delete(`secretsmanager:GetSecretValue ${secret}`)).toBe(true);
      granted.add(`sqs:SendMessage ${queue}`);
      // WHEN / THEN
      expect(compareGrants(await expectedPermissions(notifier, resources), granted)).toEqual({
        missing: [`secretsmanager:GetSecretValue ${secret}`],
        excess: [`sqs:SendMessage ${queue}`],
      });
    });

    it('fails the pre-fix ledger grant (GetItem, PutItem, UpdateItem, ConditionCheckItem), naming BatchGetItem', async () => {
      // GIVEN the grant as it was before issue 10: what the README promised, not what the code calls
      const spy = vi.spyOn(LedgerTable.prototype, 'grantLedgerWrite').mockImplementation(function (this: LedgerTable, fn) {
        this.table.grant(fn, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem');
        fn.addEnvironment(ENV.LEDGER_TABLE_NAME, this.table.tableName);
      });
      try {
        const { stack, template } = paymentsStack({}, REAL_LAMBDAS);
        const resources = template.toJSON().Resources;
        const ledger = functionsOf(stack, resources).find((f) => f.path.includes('/Payments/'))!;
        // WHEN the derived expectation is compared with it
        const difference = compareGrants(await expectedPermissions(ledger, resources), grantedPermissions(resources).get(ledger.roleId)!);
        // THEN the check names the action that was AccessDenied on AWS (the DeleteItem of expired outbox items that
        // was denied too is gone from the code since issue 11), and the two never used
        const table = ledger.environment[ENV.LEDGER_TABLE_NAME] as { Ref: string };
        expect(difference).toEqual({
          missing: [`dynamodb:BatchGetItem ${table.Ref}.Arn`],
          excess: [`dynamodb:ConditionCheckItem ${table.Ref}.Arn`, `dynamodb:GetItem ${table.Ref}.Arn`],
        });
      } finally {
        spy.mockRestore();
      }
    });

    it('fails a role that keeps CDK\'s SqsEventSource grant (ChangeMessageVisibility, GetQueueUrl the poller never calls)', async () => {
      // GIVEN the default stack, and the extra grants the way grantConsumeMessages adds them, on the ledger (whose
      // code calls neither) and on the notifier (whose retry schedule calls ChangeMessageVisibility itself)
      const { stack, template } = paymentsStack({}, REAL_LAMBDAS);
      const resources = template.toJSON().Resources;
      const functions = functionsOf(stack, resources);
      const withCdkGrant = async (path: string) => {
        const fn = functions.find((f) => f.path.includes(path))!;
        const granted = new Set(grantedPermissions(resources).get(fn.roleId));
        const mapping = Object.values(resources).find(
          (r: any) => r.Type === 'AWS::Lambda::EventSourceMapping' && r.Properties.FunctionName.Ref === fn.functionId,
        ) as any;
        const queueArn = `${mapping.Properties.EventSourceArn['Fn::GetAtt'][0]}.Arn`;
        granted.add(`sqs:ChangeMessageVisibility ${queueArn}`).add(`sqs:GetQueueUrl ${queueArn}`);
        return { queueArn, difference: compareGrants(await expectedPermissions(fn, resources), granted) };
      };
      // WHEN / THEN
      const ledger = await withCdkGrant('/Payments/');
      expect(ledger.difference).toEqual({
        missing: [],
        excess: [`sqs:ChangeMessageVisibility ${ledger.queueArn}`, `sqs:GetQueueUrl ${ledger.queueArn}`],
      });
      const notifier = await withCdkGrant('/Events/');
      expect(notifier.difference).toEqual({ missing: [], excess: [`sqs:GetQueueUrl ${notifier.queueArn}`] });
    });

    it('allows only TLS-denying statements in queue policies', () => {
      const { template } = paymentsStack({ kmsKey: 'customer-managed' });
      const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy'));
      expect(policies.length).toBeGreaterThan(0);
      for (const policy of policies) {
        for (const statement of asArray<Statement>(policy.Properties.PolicyDocument.Statement)) {
          expect(statement.Effect).toBe('Deny');
        }
      }
    });

    it.each([{}, { kmsKey: 'customer-managed' }])(
      'lets exactly the stack\'s alarms publish to the alarm topic (a topic policy replaces SNS\'s default one) for context %o',
      (context) => {
        // GIVEN
        const { template } = paymentsStack(context);
        const [topicId] = Object.keys(template.findResources('AWS::SNS::Topic'));
        const [policy] = Object.values(template.findResources('AWS::SNS::TopicPolicy'));
        const statements = asArray<any>(policy.Properties.PolicyDocument.Statement);
        // THEN the TLS deny stays
        expect(statements.filter((s) => s.Effect === 'Deny')).toEqual([
          expect.objectContaining({ Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]);
        // AND the only Allow is CloudWatch's sns:Publish on this topic, from this account's alarms
        const allows = statements.filter((s) => s.Effect === 'Allow');
        expect(allows).toHaveLength(1);
        expect(allows[0]).toMatchObject({
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: 'sns:Publish',
          Resource: { Ref: topicId },
          Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
        });
        const alarms = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
        expect(alarms.length).toBeGreaterThan(10);
        const sourceArns = asArray<any>(allows[0].Condition.ArnEquals['aws:SourceArn']);
        expect(sourceArns.map((a) => a['Fn::GetAtt']).sort()).toEqual(alarms.map((id) => [id, 'Arn']).sort());
      },
    );

    it('limits the key policy to the account administrators (AWS default), Secrets Manager on their behalf and CloudWatch alarms', () => {
      // The default key policy gives the account root `kms:*` on the key itself (Resource "*" in a key policy means
      // "this key"); IAM policies then decide who may use it. The webhook signing secret adds the account's use of the
      // key through Secrets Manager only (kms:ViaService). CloudWatch may only encrypt alarm notifications.
      const { template } = paymentsStack({ kmsKey: 'customer-managed' });
      const [key] = Object.values(template.findResources('AWS::KMS::Key'));
      const statements = asArray<Statement>(key.Properties.KeyPolicy.Statement);
      expect(statements).toHaveLength(4);
      expect(JSON.stringify(statements[0].Principal)).toMatch(/:root/);
      for (const viaSecretsManager of statements.slice(1, 3)) {
        expect(JSON.stringify(viaSecretsManager.Principal)).toMatch(/:root/);
        expect(JSON.stringify(viaSecretsManager.Condition)).toMatch(/kms:ViaService.*secretsmanager\./);
      }
      expect(statements[3]).toMatchObject({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      });
    });
  });
});
