import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/emulators.js';
import { TemplateResolutionError } from '../../local/errors.js';
import { startLocalRuntime } from '../../local/runtime.js';
import type { CfnTemplate } from '../../local/template/types.js';
import { canConnect } from '../support/ports.js';

// What AWS rejects at deploy is rejected at start, naming the resource; whatever was started is stopped again.
const dirs: string[] = [];

afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A one-stack cloud assembly with a queue-triggered function, edited per test. */
function assembly(edit: (template: { Resources: Record<string, any> }) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'bad-assembly-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'asset.fn'));
  writeFileSync(join(dir, 'asset.fn', 'index.mjs'), 'export const handler = async () => ({});');
  const template = {
    Resources: {
      Jobs: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 30 } },
      Worker: {
        Type: 'AWS::Lambda::Function',
        Properties: { Code: { S3Key: 'fn.zip' }, Handler: 'index.handler', Runtime: 'nodejs24.x', Timeout: 60 },
        Metadata: { 'aws:asset:path': 'asset.fn' },
      },
      WorkerJobs: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: { FunctionName: { Ref: 'Worker' }, EventSourceArn: { 'Fn::GetAtt': ['Jobs', 'Arn'] } },
      },
    },
  } satisfies CfnTemplate;
  edit(template);
  writeFileSync(join(dir, 'Bad.template.json'), JSON.stringify(template));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ version: '48.0.0', artifacts: { Bad: { type: 'aws:cloudformation:stack', properties: { templateFile: 'Bad.template.json' } } } }));
  return dir;
}

describe('startLocalRuntime rejects what AWS rejects at deploy', () => {
  it('rejects a function timeout above the queue visibility timeout, naming the mapping (S12), and frees its ports', async () => {
    // Prepare
    const ports = { api: await freePort(), dynamodb: await freePort(), sqs: await freePort() };
    const dir = assembly(() => {});
    // Act
    const attempt = startLocalRuntime({ assembly: dir, ports, quiet: true, outDir: join(dir, 'out') });
    // Assess
    await expect(attempt).rejects.toThrow(/WorkerJobs \(S12\)/);
    expect(await canConnect(ports.dynamodb)).toBe(false);
    expect(await canConnect(ports.sqs)).toBe(false);
  });

  it('fails on an environment value it cannot resolve, naming the template path', async () => {
    const dir = assembly((template) => {
      template.Resources.Jobs.Properties.VisibilityTimeout = 360;
      template.Resources.Worker.Properties.Environment = { Variables: { SHARED: { 'Fn::ImportValue': 'OtherStack-Topic' } } };
    });
    const error = await startLocalRuntime({ assembly: dir, ports: { api: 0, dynamodb: 0, sqs: 0 }, quiet: true, outDir: join(dir, 'out') }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(TemplateResolutionError);
    expect((error as Error).message).toMatch(/Resources\.Worker\.Properties\.Environment\.Variables\.SHARED\.Fn::ImportValue: Fn::ImportValue "OtherStack-Topic"/);
  });
});
