import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCloudAssembly } from '../../local/assembly/cloud-assembly.js';
import { AssemblyError, TemplateResolutionError } from '../../local/errors.js';
import { generatedPhysicalName } from '../../local/template/physical-names.js';
import { TemplateResolver } from '../../local/template/resolver.js';
import type { CfnTemplate } from '../../local/template/types.js';

const template: CfnTemplate = {
  Parameters: { Stage: { Type: 'String', Default: 'dev' }, NoDefault: { Type: 'String' } },
  Mappings: { Sizes: { dev: { memory: 256 } } },
  Conditions: {
    IsDev: { 'Fn::Equals': [{ Ref: 'Stage' }, 'dev'] },
    IsProd: { 'Fn::Not': [{ Condition: 'IsDev' }] },
    Either: { 'Fn::Or': [{ Condition: 'IsDev' }, { Condition: 'IsProd' }] },
  },
  Resources: {
    Queue: { Type: 'AWS::SQS::Queue', Properties: { FifoQueue: true } },
    NamedQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: { 'Fn::Sub': 'jobs-${Stage}' } } },
    Table: { Type: 'AWS::DynamoDB::Table', Properties: {} },
    Fn: { Type: 'AWS::Lambda::Function', Properties: {} },
    Api: { Type: 'AWS::ApiGateway::RestApi', Properties: {} },
    ProdOnly: { Type: 'AWS::SNS::Topic', Condition: 'IsProd' },
    Alarm: { Type: 'AWS::CloudWatch::Alarm', Properties: {} },
    Policy: { Type: 'AWS::IAM::Policy', Properties: {} },
  },
};

function resolver(overrides: Partial<ConstructorParameters<typeof TemplateResolver>[1]> = {}) {
  return new TemplateResolver(template, {
    stackName: 'Demo',
    region: 'us-east-1',
    accountId: '000000000000',
    partition: 'aws',
    sqsEndpoint: 'http://127.0.0.1:4566',
    ...overrides,
  });
}

describe('TemplateResolver', () => {
  it('resolves pseudo parameters and parameter defaults', () => {
    // Prepare
    const r = resolver();
    // Act
    const value = r.resolve(
      ['AWS::Region', 'AWS::AccountId', 'AWS::Partition', 'AWS::URLSuffix', 'AWS::StackName', 'Stage'].map((name) => ({ Ref: name })),
      'Test',
    );
    // Assess
    expect(value).toEqual(['us-east-1', '000000000000', 'aws', 'amazonaws.com', 'Demo', 'dev']);
  });

  it('resolves Ref and Fn::GetAtt of a queue to its local URL, ARN and CloudFormation-like generated .fifo name', () => {
    const r = resolver();
    const name = generatedPhysicalName('Demo', 'Queue', 'AWS::SQS::Queue', true);
    expect(name).toMatch(/^Demo-Queue-[0-9A-F]{12}\.fifo$/);
    expect(r.resolve({ Ref: 'Queue' }, 'T')).toBe(`http://127.0.0.1:4566/000000000000/${name}`);
    expect(r.resolve({ 'Fn::GetAtt': ['Queue', 'Arn'] }, 'T')).toBe(`arn:aws:sqs:us-east-1:000000000000:${name}`);
    expect(r.resolve({ 'Fn::GetAtt': 'Queue.QueueName' }, 'T')).toBe(name);
  });

  it('uses the physical name the template sets, itself resolved', () => {
    expect(resolver().resolve({ 'Fn::GetAtt': ['NamedQueue', 'QueueName'] }, 'T')).toBe('jobs-dev');
  });

  it('resolves table, function and REST API identities', () => {
    const r = resolver();
    expect(r.resolve({ 'Fn::GetAtt': ['Table', 'Arn'] }, 'T')).toMatch(/^arn:aws:dynamodb:us-east-1:000000000000:table\/Demo-Table-/);
    expect(r.resolve({ 'Fn::GetAtt': ['Fn', 'Arn'] }, 'T')).toMatch(/^arn:aws:lambda:us-east-1:000000000000:function:Demo-Fn-/);
    expect(r.resolve({ Ref: 'Api' }, 'T')).toMatch(/^[0-9a-f]{10}$/);
    expect(r.resolve({ 'Fn::GetAtt': ['Api', 'RootResourceId'] }, 'T')).toMatch(/^[0-9a-f]{10}$/);
  });

  it('uses an identity set after creation (the real StreamArn)', () => {
    const r = resolver();
    r.setIdentity('Table', { ref: 'T1', attributes: { Arn: 'arn:table', StreamArn: 'arn:stream' } });
    expect(r.resolve({ 'Fn::GetAtt': ['Table', 'StreamArn'] }, 'T')).toBe('arn:stream');
  });

  it('resolves Fn::Join, Fn::Sub (with variables, GetAtt and ${!literal}), Fn::Select and Fn::Split', () => {
    const r = resolver();
    expect(r.resolve({ 'Fn::Join': ['-', ['a', { Ref: 'Stage' }, 3]] }, 'T')).toBe('a-dev-3');
    expect(r.resolve({ 'Fn::Sub': ['${X}/${AWS::Region}/${Fn.Arn}/${!Keep}', { X: { Ref: 'Stage' } }] }, 'T')).toMatch(
      /^dev\/us-east-1\/arn:aws:lambda:[^/]+\/\$\{Keep\}$/,
    );
    expect(r.resolve({ 'Fn::Select': [1, { 'Fn::Split': [',', 'a,b,c'] }] }, 'T')).toBe('b');
  });

  it('evaluates conditions in Fn::If and on resources, and drops AWS::NoValue', () => {
    const r = resolver();
    expect(r.resolve({ 'Fn::If': ['IsDev', 'yes', 'no'] }, 'T')).toBe('yes');
    expect(r.resolve({ a: { 'Fn::If': ['IsProd', 1, { Ref: 'AWS::NoValue' }] }, b: 2 }, 'T')).toEqual({ b: 2 });
    expect(r.condition('Either')).toBe(true);
    expect(r.isEnabled('ProdOnly')).toBe(false);
    expect(r.isEnabled('Queue')).toBe(true);
  });

  it('resolves Fn::FindInMap, Fn::Base64, Fn::GetAZs and Fn::ToJsonString', () => {
    const r = resolver();
    expect(r.resolve({ 'Fn::FindInMap': ['Sizes', { Ref: 'Stage' }, 'memory'] }, 'T')).toBe(256);
    expect(r.resolve({ 'Fn::Base64': 'hi' }, 'T')).toBe('aGk=');
    expect(r.resolve({ 'Fn::GetAZs': '' }, 'T')).toEqual(['us-east-1a', 'us-east-1b', 'us-east-1c']);
    expect(r.resolve({ 'Fn::ToJsonString': { a: { Ref: 'Stage' } } }, 'T')).toBe('{"a":"dev"}');
  });

  it('resolves Fn::ImportValue from the exports of stacks resolved earlier', () => {
    const r = resolver({ exports: new Map([['SharedTopic', 'arn:topic']]) });
    expect(r.resolve({ 'Fn::ImportValue': 'SharedTopic' }, 'T')).toBe('arn:topic');
  });

  it('rewrites strings through localize (execute-api URLs to the local API)', () => {
    const r = resolver({ localize: (s) => s.replace('https://abc.execute-api.us-east-1.amazonaws.com', 'http://127.0.0.1:3000') });
    expect(r.resolve({ 'Fn::Join': ['', ['https://', 'abc', '.execute-api.us-east-1.amazonaws.com/prod/']] }, 'T')).toBe('http://127.0.0.1:3000/prod/');
  });

  it('fails on Fn::ImportValue of an export no stack of the assembly provides, naming the path', () => {
    expect(() => resolver().resolve({ 'Fn::ImportValue': 'Elsewhere' }, 'Resources.Fn.Properties.Environment')).toThrow(
      /Resources\.Fn\.Properties\.Environment\.Fn::ImportValue: Fn::ImportValue "Elsewhere": no stack of this assembly exports it/,
    );
  });

  it('fails on a Ref to an unknown logical id, naming the path', () => {
    expect(() => resolver().resolve({ Ref: 'Missing' }, 'Outputs.X.Value')).toThrow(TemplateResolutionError);
    expect(() => resolver().resolve({ Ref: 'Missing' }, 'Outputs.X.Value')).toThrow(/Outputs\.X\.Value\.Ref: no resource or parameter named "Missing"/);
  });

  it('fails on an attribute the local runtime does not model, naming resource, attribute and type', () => {
    expect(() => resolver().resolve({ 'Fn::GetAtt': ['Policy', 'Id'] }, 'Outputs.P.Value')).toThrow(
      /Fn::GetAtt Policy\.Id \(AWS::IAM::Policy\) is not available locally/,
    );
  });

  it('fails on a parameter without a Default and on unsupported functions', () => {
    expect(() => resolver().resolve({ Ref: 'NoDefault' }, 'T')).toThrow(/parameter "NoDefault" has no Default/);
    expect(() => resolver().resolve({ 'Fn::Cidr': ['10.0.0.0/16', 2, 8] }, 'T')).toThrow(/Fn::Cidr is not supported/);
  });
});

describe('generatedPhysicalName', () => {
  it('keeps names within the service limit and stable across calls', () => {
    const long = 'A'.repeat(60);
    const name = generatedPhysicalName(long, 'B'.repeat(60), 'AWS::Lambda::Function');
    expect(name.length).toBeLessThanOrEqual(64);
    expect(generatedPhysicalName(long, 'B'.repeat(60), 'AWS::Lambda::Function')).toBe(name);
    expect(generatedPhysicalName(long, 'B'.repeat(80), 'AWS::SQS::Queue', true)).toMatch(/\.fifo$/);
    expect(generatedPhysicalName(long, 'B'.repeat(80), 'AWS::SQS::Queue', true).length).toBeLessThanOrEqual(80);
  });
});

describe('readCloudAssembly', () => {
  it('throws an AssemblyError when the directory has no manifest.json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'no-assembly-'));
    expect(() => readCloudAssembly(dir)).toThrow(AssemblyError);
    expect(() => readCloudAssembly(dir)).toThrow(/manifest\.json not found/);
  });

  it('reads stacks in dependency order with their asset directories by object key', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'assembly-'));
    writeFileSync(join(dir, 'A.template.json'), JSON.stringify({ Resources: {} }));
    writeFileSync(join(dir, 'B.template.json'), JSON.stringify({ Resources: {} }));
    writeFileSync(
      join(dir, 'A.assets.json'),
      JSON.stringify({ files: { h1: { source: { path: 'asset.h1', packaging: 'zip' }, destinations: { d: { objectKey: 'h1.zip' } } } } }),
    );
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({
        artifacts: {
          'A.assets': { type: 'cdk:asset-manifest', properties: { file: 'A.assets.json' } },
          B: { type: 'aws:cloudformation:stack', properties: { templateFile: 'B.template.json', stackName: 'Bee' }, dependencies: ['A'] },
          A: { type: 'aws:cloudformation:stack', properties: { templateFile: 'A.template.json' } },
        },
      }),
    );
    // Act
    const stacks = readCloudAssembly(dir);
    // Assess
    expect(stacks.map((s) => s.stackName)).toEqual(['A', 'Bee']);
    expect(stacks[0]!.assetsByObjectKey.get('h1.zip')).toBe(join(dir, 'asset.h1'));
  });
});
