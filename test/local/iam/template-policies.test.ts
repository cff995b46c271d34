import { describe, expect, it } from 'vitest';
import { TemplatePolicies } from '../../../local/iam/template-policies.js';
import { TemplateResolver } from '../../../local/template/resolver.js';
import type { CfnTemplate } from '../../../local/template/types.js';

const read = (template: CfnTemplate): TemplatePolicies => {
  const policies = new TemplatePolicies();
  const resolver = new TemplateResolver(template, { stackName: 'S', region: 'us-east-1', accountId: '000000000000', partition: 'aws', sqsEndpoint: 'http://127.0.0.1:4566' });
  policies.read(resolver, 'S');
  return policies;
};

describe('TemplatePolicies', () => {
  // GIVEN a role with an inline policy, an AWS managed policy, an AWS::IAM::Policy and a customer managed policy
  const template: CfnTemplate = {
    Resources: {
      Jobs: { Type: 'AWS::SQS::Queue', Properties: { KmsMasterKeyId: { 'Fn::GetAtt': ['Key', 'Arn'] } } },
      Plain: { Type: 'AWS::SQS::Queue', Properties: { KmsMasterKeyId: 'alias/aws/sqs' } },
      Key: { Type: 'AWS::KMS::Key', Properties: { KeyPolicy: { Statement: [{ Effect: 'Allow', Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } }, Action: 'kms:*', Resource: '*' }] } } },
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: {
          ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AWSLambdaBasicExecutionRole']] }, { Ref: 'Managed' }, 'arn:aws:iam::aws:policy/SomethingUnknown'],
          Policies: [{ PolicyName: 'inline', PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': ['Jobs', 'Arn'] } }] } }],
        },
      },
      Attached: { Type: 'AWS::IAM::Policy', Properties: { PolicyName: 'p', Roles: [{ Ref: 'Role' }], PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: '*' }] } } },
      Managed: { Type: 'AWS::IAM::ManagedPolicy', Properties: { PolicyDocument: { Statement: [{ Effect: 'Deny', Action: 'sqs:DeleteQueue', Resource: '*' }] } } },
      Fn: { Type: 'AWS::Lambda::Function', Properties: { Role: { 'Fn::GetAtt': ['Role', 'Arn'] } } },
      JobsPolicy: { Type: 'AWS::SQS::QueuePolicy', Properties: { Queues: [{ Ref: 'Jobs' }], PolicyDocument: { Statement: [{ Effect: 'Deny', Principal: '*', Action: 'sqs:*', Resource: '*' }] } } },
    },
  };

  it('collects every identity policy of a role, with intrinsics resolved, and notes an unknown managed policy', () => {
    // WHEN
    const policies = read(template);
    const role = [...policies.roles.values()][0]!;
    // THEN
    expect(role.roleArn).toMatch(/^arn:aws:iam::000000000000:role\/S-Role/);
    expect(role.policies.map((p) => p.source)).toEqual([
      'Role.Policies[0] inline',
      'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
      expect.stringMatching(/^arn:aws:iam::000000000000:policy\//),
      'AWS::IAM::Policy Attached',
    ]);
    expect(JSON.stringify(role.policies[0]!.document)).toContain('arn:aws:sqs:us-east-1:000000000000:S-Jobs');
    expect(policies.notes.join('\n')).toMatch(/managed policy arn:aws:iam::aws:policy\/SomethingUnknown is not known locally/);
    expect(policies.functionRoles.get('arn:aws:lambda:us-east-1:000000000000:function:' + [...policies.functionRoles.keys()][0]!.split(':function:')[1])).toBe(role.roleArn);
  });

  it('maps queue policies and customer-managed keys to their queues, and ignores AWS-managed keys', () => {
    const policies = read(template);
    const jobs = [...policies.resourcePolicies.keys()].find((arn) => arn.includes(':sqs:'))!;
    expect(jobs).toMatch(/^arn:aws:sqs:us-east-1:000000000000:S-Jobs/);
    expect(policies.queueKeys.get(jobs)).toMatch(/^arn:aws:kms:us-east-1:000000000000:key\//);
    expect([...policies.queueKeys.keys()].some((arn) => arn.includes('Plain'))).toBe(false);
    expect(policies.resourcePolicies.get(policies.queueKeys.get(jobs)!)).toBeDefined();
  });
});
