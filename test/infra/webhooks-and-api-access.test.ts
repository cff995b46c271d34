import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config.js';
import { nominalDelays } from '../../lambdas/notifier/retry-schedule.js';
import { PaymentsStack } from '../../lib/payments-stack.js';
import { BASE_CONTEXT, FIXTURE_LAMBDAS, newApp, paymentsStack } from './support.js';

const read = (context: Record<string, unknown>) => (key: string) => context[key];

describe('webhook URL rules (lib/config.ts)', () => {
  it('rejects an http webhook outside the dev stage, naming the value and the https fix', () => {
    expect(() => parseConfig(read({ stage: 'prod', webhookUrl: 'http://hooks.example.com/p' }))).toThrow(
      /Invalid context "webhookUrl": "http:\/\/hooks\.example\.com\/p" must use https in stage prod.*pass -c webhookUrl=https:\/\/hooks\.example\.com\/p/,
    );
  });

  it('accepts http in the dev stage (local receivers) and https in prod', () => {
    expect(parseConfig(read({ webhookUrl: 'http://127.0.0.1:4599/webhook' })).webhookUrl).toBe('http://127.0.0.1:4599/webhook');
    expect(parseConfig(read({ stage: 'prod', webhookUrl: 'https://hooks.example.com/p' })).stage).toBe('prod');
  });

  it('fails with a message naming the stage, the key to pass and the local alternative when webhookUrl is missing', () => {
    expect(() => parseConfig(read({ stage: 'prod' }))).toThrow(
      /Invalid context "webhookUrl": is required to deploy stage prod.*pass -c webhookUrl=https:\/\/.*`npm start` without it runs a built-in receiver/,
    );
  });
});

describe('webhook retry schedule configuration', () => {
  it('defaults to 10 attempts over 24 h', () => {
    const config = parseConfig(read({ webhookUrl: 'https://hooks.example.com/p' }));
    expect(config).toMatchObject({ webhookMaxAttempts: 10, webhookRetryHorizonHours: 24 });
  });

  it('rejects a horizon that the capped delays cannot reach, naming both values and the attempts needed', () => {
    // 5 attempts = 4 delays of at most 12 h = 48 h < 72 h
    expect(() => parseConfig(read({ webhookUrl: 'https://h.example.com/', webhookMaxAttempts: '5', webhookRetryHorizonHours: '72' }))).toThrow(
      /Invalid context "webhookRetryHorizonHours": 72 h with webhookMaxAttempts 5: .*cannot be reached with 5 attempts.*raise maxAttempts to 7/,
    );
  });

  it('accepts a decimal horizon so local runs compress the schedule to seconds', () => {
    const config = parseConfig(read({ webhookUrl: 'http://127.0.0.1:1/h', webhookRetryHorizonHours: '0.01' }));
    expect(config.webhookRetryHorizonHours).toBe(0.01);
    expect(nominalDelays({ maxAttempts: config.webhookMaxAttempts, horizonSeconds: 36 })[0]).toBe(1);
    expect(() => parseConfig(read({ webhookUrl: 'http://127.0.0.1:1/h', webhookRetryHorizonHours: '0' }))).toThrow(
      /Invalid context "webhookRetryHorizonHours": "0" must be a number from 0.01 to 72/,
    );
  });

  it('rejects fewer than 5 attempts (the events queue maxReceiveCount rule, S13)', () => {
    expect(() => parseConfig(read({ webhookUrl: 'https://h.example.com/', webhookMaxAttempts: '3' }))).toThrow(
      /Invalid context "webhookMaxAttempts": "3" must be an integer from 5 to 100/,
    );
  });

  it('sets the events queue maxReceiveCount to the attempts and keeps the notifier records beyond retention + redrive', () => {
    const { template } = paymentsStack({ webhookMaxAttempts: '12', webhookRetryHorizonHours: '30' });
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: Match.absent(),
      MessageRetentionPeriod: 4 * 86_400, // longer than the 30 h horizon × 1.25 (jitter)
      RedrivePolicy: { maxReceiveCount: 12, deadLetterTargetArn: Match.anyValue() },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          WEBHOOK_MAX_ATTEMPTS: '12',
          WEBHOOK_RETRY_HORIZON_SECONDS: String(30 * 3600),
          // 4 days retention + 14 days redrive window + 1 day: the windows rule still holds.
          IDEMPOTENCY_TTL_SECONDS: String(19 * 86_400),
        }),
      },
    });
    expect(nominalDelays({ maxAttempts: 12, horizonSeconds: 30 * 3600 }).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(30 * 3600 - 11);
  });
});

describe('webhook signing secret (Secrets Manager)', () => {
  it('creates a generated secret whose value is valid base64 of 24 bytes (a whsec_ key body)', () => {
    const { template } = paymentsStack();
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 32, ExcludePunctuation: true, IncludeSpace: false, RequireEachIncludedType: true },
    });
  });

  it('lets only the notifier read it: GetSecretValue on that secret, its ARN (never the value) in the environment', () => {
    const { template, stack } = paymentsStack();
    const secretId = stack.getLogicalId(stack.webhookSecret.secret.node.defaultChild as never);
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    const reading = policies.filter((p) => JSON.stringify(p.Properties.PolicyDocument).includes('secretsmanager:'));
    expect(reading).toHaveLength(1);
    expect(JSON.stringify(reading[0]!.Properties.Roles)).toMatch(/^\[\{"Ref":"EventsHandler/);
    const statement = reading[0]!.Properties.PolicyDocument.Statement.find((s: { Action: unknown }) => s.Action === 'secretsmanager:GetSecretValue');
    expect(statement).toEqual({ Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: { Ref: secretId } });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ WEBHOOK_SECRET_ARN: { Ref: secretId }, WEBHOOK_SECRET_MAX_AGE_SECONDS: '300' }) },
    });
  });

  it('adds kms:Decrypt on the customer-managed key for the notifier when the secret uses it', () => {
    const { template } = paymentsStack({ kmsKey: 'customer-managed' });
    template.hasResourceProperties('AWS::SecretsManager::Secret', { KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DataKey'), 'Arn'] } });
  });

  it('outputs the secret ARN for receivers (WebhookSigningSecretArn)', () => {
    const { template } = paymentsStack();
    template.hasOutput('WebhookSigningSecretArn', { Value: { Ref: Match.stringLikeRegexp('^WebhookSigningSecret') } });
  });

  it('lets the notifier delay its own records and dead-letter refused events', () => {
    const { template } = paymentsStack();
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^EventsHandler') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'sqs:ChangeMessageVisibility', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EventsQueue'), 'Arn'] } }),
          Match.objectLike({ Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EventsDeadLetterQueue'), 'Arn'] } }),
        ]),
      },
    });
  });
});

describe('API: request model, API key outputs, per-account read grants', () => {
  it('validates POST /payments bodies against a model with every string bounded (maxLength) and no other property', () => {
    const { template } = paymentsStack();
    template.hasResourceProperties('AWS::ApiGateway::Model', {
      ContentType: 'application/json',
      Schema: Match.objectLike({
        additionalProperties: false,
        required: ['accountId', 'amount', 'currency'],
        properties: {
          accountId: Match.objectLike({ type: 'string', maxLength: 64 }),
          amount: Match.objectLike({ type: 'integer' }),
          currency: Match.objectLike({ type: 'string', maxLength: 3 }),
          reference: { type: 'string', maxLength: 140 },
        },
      }),
    });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      RequestModels: { 'application/json': { Ref: Match.stringLikeRegexp('^ApiPaymentRequest') } },
      RequestValidatorId: { Ref: Match.stringLikeRegexp('^ApiRequestValidator') },
    });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'BAD_REQUEST_BODY' });
  });

  it('with apiKey=true outputs the key id and the command that prints its value (never the value)', () => {
    const { template } = paymentsStack({ apiKey: 'true' });
    template.hasOutput('ApiKeyId', { Value: { Ref: Match.stringLikeRegexp('^ApiApiKey') } });
    const command = JSON.stringify(template.findOutputs('ApiKeyValueCommand'));
    expect(command).toMatch(/aws apigateway get-api-key --api-key /);
    expect(command).toMatch(/--include-value --query value --output text/);
  });

  it('adds no API key outputs without apiKey', () => {
    const { template } = paymentsStack();
    expect(Object.keys(template.findOutputs('ApiKey*'))).toEqual([]);
  });

  it('grants GET /accounts/<id> per account on the method ARN, and POST /payments alone', () => {
    const stack = new PaymentsStack(newApp(), 'Grants', { config: parseConfig(read(BASE_CONTEXT)), lambdasRoot: FIXTURE_LAMBDAS });
    const reader = new iam.Role(stack, 'PartnerReader', { assumedBy: new iam.AccountPrincipal('111122223333') });
    stack.grantAccountRead(reader, ['acc-1', 'acc-2']);
    stack.grantCreatePayment(reader);
    const [policy] = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^PartnerReader') }] } }));
    const json = JSON.stringify(policy!.Properties.PolicyDocument);
    expect(json).toContain('"/GET/accounts/acc-1"');
    expect(json).toContain('"/GET/accounts/acc-2"');
    expect(json).toContain('"/POST/payments"');
    expect(json).toMatch(/"Ref":"ApiDeploymentStagedev[^"]*"/);
    expect(json).not.toMatch(/accounts\/\*/);
  });

  it('rejects a wildcard account id in a read grant', () => {
    const { stack } = paymentsStack();
    const reader = new iam.Role(stack, 'R', { assumedBy: new iam.AccountPrincipal('111122223333') });
    expect(() => stack.grantAccountRead(reader, ['*'])).toThrow(/account id "\*" is not 1-64 characters.*widen the grant/);
  });
});
