import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyProject, generateAll, synthCopy, VARIANTS, writeScaffoldApp, type ProjectCopy } from './project-copy.js';

// The generated consumers' CDK wiring, synthesized in a temporary copy of the project by a child process (the copy is
// its working directory, as for a user), with cdk-nag's AwsSolutions checks on.

const BUNDLING_OFF = { 'aws:cdk:bundling-stacks': [] };
const WEBHOOK = 'https://downstream.example.com/hook';
const OWN_URL = 'https://crm.example.com/in';
let copy: ProjectCopy;
let template: Template;

beforeAll(async () => {
  copy = copyProject();
  generateAll(copy.root, VARIANTS); // fifo-external gets its own URL from context below
  writeScaffoldApp(copy.root);
  const outdir = join(copy.root, 'cdk.out.consumers');
  const result = await synthCopy(copy.root, { outdir, context: { ...BUNDLING_OFF, webhookUrl: WEBHOOK, fifoExternalUrl: OWN_URL } });
  if (result.code !== 0) throw new Error(`synth failed:\n${result.stdout}\n${result.stderr}`);
  template = Template.fromJSON(JSON.parse(readFileSync(join(outdir, 'ConsumersTest.template.json'), 'utf8')));
});

afterAll(() => copy?.remove());

describe('generated consumers in a stack (synth with cdk-nag, bundling skipped)', () => {
  it('creates a FIFO or standard queue with a DLQ (maxReceiveCount 5) per consumer, encrypted, and an events queue for the outbox one', () => {
    // 5 consumers × (queue + DLQ), the outbox consumer's events queue + DLQ (FIFO like its source), the relay's failure queue
    template.resourceCountIs('AWS::SQS::Queue', 13);
    expect(Object.keys(template.findResources('AWS::SQS::Queue', { Properties: { FifoQueue: true } }))).toHaveLength(8);
    template.resourcePropertiesCountIs(
      'AWS::SQS::Queue',
      { RedrivePolicy: { maxReceiveCount: 5, deadLetterTargetArn: Match.anyValue() }, SqsManagedSseEnabled: true },
      6,
    );
  });

  it('routes the outbox consumer\'s event type to its own events queue through the one relay', () => {
    const relay = Object.values(template.findResources('AWS::Lambda::Function')).find(
      (f) => (f as { Properties: { Environment?: { Variables?: Record<string, unknown> } } }).Properties.Environment?.Variables?.OUTBOX_ROUTES,
    ) as { Properties: { Environment: { Variables: Record<string, unknown> } } };
    const routes = JSON.stringify(relay.Properties.Environment.Variables.OUTBOX_ROUTES);
    expect(routes).toMatch(/eventTypes.*FifoDdbOutboxRecorded.*queueUrl.*FifoDdbOutboxEvents/);
    template.hasOutput('FifoDdbOutboxEventsQueueUrl', { Value: { Ref: Match.stringLikeRegexp('FifoDdbOutboxEvents') } });
  });

  it('maps each queue to its function with partial batch responses, on Node 24 arm64', () => {
    // 5 consumers + the relay's stream mapping
    template.resourcePropertiesCountIs('AWS::Lambda::EventSourceMapping', { FunctionResponseTypes: ['ReportBatchItemFailures'] }, 6);
    template.resourcePropertiesCountIs('AWS::Lambda::Function', { Runtime: 'nodejs24.x', Architectures: ['arm64'] }, 6);
    // External calls run one after another: (30 s timeout - 1 s) / 5 s per call → batches of 5, so a slow batch ends in time.
    template.resourcePropertiesCountIs('AWS::Lambda::EventSourceMapping', { BatchSize: 5 }, 2);
    template.resourcePropertiesCountIs('AWS::Lambda::EventSourceMapping', { BatchSize: 10 }, 3);
  });

  it('gives each function the environment its handler reads, and nothing else', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^fifo-ddb-outbox:'),
      Environment: {
        Variables: Match.objectEquals({
          POWERTOOLS_SERVICE_NAME: 'fifo-ddb-outbox',
          POWERTOOLS_METRICS_NAMESPACE: 'ExactlyOncePayments',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          NODE_OPTIONS: '--enable-source-maps',
          DEDUP_TTL_SECONDS: Match.stringLikeRegexp('^[0-9]+$'),
          LEDGER_TABLE_NAME: Match.anyValue(),
        }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^std-external:'),
      Environment: {
        Variables: Match.objectEquals({
          POWERTOOLS_SERVICE_NAME: 'std-external',
          POWERTOOLS_METRICS_NAMESPACE: 'ExactlyOncePayments',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          NODE_OPTIONS: '--enable-source-maps',
          IDEMPOTENCY_TTL_SECONDS: Match.stringLikeRegexp('^[0-9]+$'),
          IDEMPOTENCY_TABLE_NAME: Match.anyValue(),
          WEBHOOK_URL: WEBHOOK,
          WEBHOOK_TIMEOUT_MS: '5000',
        }),
      },
    });
  });

  it('grants each function only the table actions its effect needs, with no wildcard', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as {
      Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } };
    }[];
    const dynamoActions = policies.map((p) =>
      p.Properties.PolicyDocument.Statement.flatMap((s) => [s.Action].flat()).filter((a) => a.startsWith('dynamodb:')),
    );
    // Three DynamoDB-effect consumers write the ledger with commitOnce's transaction (PutItem + UpdateItem, no read:
    // issue 10, test/infra/scaffold-grants.test.ts derives it); the external ones use the Powertools table (DeleteItem).
    expect(dynamoActions.filter((a) => a.includes('dynamodb:PutItem') && !a.includes('dynamodb:GetItem'))).toHaveLength(3);
    expect(dynamoActions.filter((a) => a.includes('dynamodb:ConditionCheckItem'))).toHaveLength(0);
    expect(dynamoActions.filter((a) => a.includes('dynamodb:DeleteItem'))).toHaveLength(2);
    for (const policy of policies) {
      for (const statement of policy.Properties.PolicyDocument.Statement) {
        expect([statement.Action].flat().some((a) => a.includes('*'))).toBe(false);
        // The relay's dynamodb:ListStreams has no resource-level permission (AWS requires "*").
        if ([statement.Action].flat().includes('dynamodb:ListStreams')) continue;
        expect(statement.Resource).not.toBe('*');
      }
    }
  });

  it('uses a consumer\'s own URL from context (<camelName>Url) over the shared webhook URL', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^fifo-external:'),
      Environment: { Variables: Match.objectLike({ WEBHOOK_URL: OWN_URL }) },
    });
  });

  it('outputs <Name>QueueUrl and <Name>DlqUrl at stack level (the keys npm run redrive uses)', () => {
    for (const v of ['FifoDdb', 'FifoDdbOutbox', 'StdExternal', 'StdDdb', 'FifoExternal']) {
      template.hasOutput(`${v}QueueUrl`, { Value: Match.anyValue() });
      template.hasOutput(`${v}DlqUrl`, { Value: Match.anyValue() });
    }
  });
});

describe('generated consumer synth: context', () => {
  it('fails synth when an external consumer has no downstream URL, naming the context key', async () => {
    const result = await synthCopy(copy.root, { outdir: join(copy.root, 'cdk.out.nourl'), context: BUNDLING_OFF });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/std-external: the downstream URL \(unset\).*context stdExternalUrl/);
  });
  // The real esbuild bundling of generated consumers is proven by local-runtime.test.ts, which bundles and runs them.
});
