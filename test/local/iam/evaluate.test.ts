import { describe, expect, it } from 'vitest';
import {
  accessDeniedMessage,
  evaluate,
  type ApplicablePolicies,
  type AuthorizationRequest,
  type Decision,
  type PolicyDocument,
  type PolicyStatement,
  type RequestPrincipal,
} from '../../../local/iam/index.js';
import { ACCOUNT, appPolicies, arnOf, logicalId } from './evaluate-fixtures.js';

/*
 * AWS's documented examples, each cited by page. The pages (IAM User Guide unless noted):
 * [eval]      https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 * [ops]       https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
 * [multi]     https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
 *             (formerly reference_policies_multi-value-conditions.html)
 * [notaction] https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
 * [notres]    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html
 * [resource]  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
 * [action]    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
 * [principal] https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
 * [notprin]   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
 * [cross]     https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
 * [kms]       https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
 */

const DOC_ACCOUNT = '123456789012';
const carlos: RequestPrincipal = { type: 'AWS', arn: `arn:aws:iam::${DOC_ACCOUNT}:user/carlossalazar` };

const policy = (...statements: PolicyStatement[]): PolicyDocument => ({ Version: '2012-10-17', Statement: statements });

function request(
  action: string,
  resource: string,
  context: AuthorizationRequest['context'] = {},
  principal: RequestPrincipal = carlos,
): AuthorizationRequest {
  return { principal, action, resource, context };
}

const decide = (req: AuthorizationRequest, policies: ApplicablePolicies): Decision => evaluate(req, policies);
const kindOf = (req: AuthorizationRequest, policies: ApplicablePolicies): string => evaluate(req, policies).decision;

describe('[eval] the documented identity-based and resource-based example (Carlos)', () => {
  const identity = policy(
    {
      Sid: 'AllowS3ListRead',
      Effect: 'Allow',
      Action: ['s3:GetBucketLocation', 's3:GetAccountPublicAccessBlock', 's3:ListAccessPoints', 's3:ListAllMyBuckets'],
      Resource: 'arn:aws:s3:::*',
    },
    { Sid: 'AllowS3Self', Effect: 'Allow', Action: 's3:*', Resource: ['arn:aws:s3:::carlossalazar/*', 'arn:aws:s3:::carlossalazar'] },
    { Sid: 'DenyS3Logs', Effect: 'Deny', Action: 's3:*', Resource: 'arn:aws:s3:::*log*' },
  );
  const bucketPolicy = policy({
    Effect: 'Allow',
    Principal: { AWS: `arn:aws:iam::${DOC_ACCOUNT}:user/carlossalazar` },
    Action: 's3:*',
    Resource: ['arn:aws:s3:::carlossalazar/*', 'arn:aws:s3:::carlossalazar'],
  });

  it('denies saving to carlossalazar-logs with the explicit deny in his identity-based policy', () => {
    // Prepare / Act
    const decision = decide(request('s3:PutObject', 'arn:aws:s3:::carlossalazar-logs/file.txt'), { identity: [identity] });
    // Assess
    expect(decision).toEqual({
      decision: 'ExplicitDeny',
      by: { policy: 'identity', statement: 'DenyS3Logs' },
      reason: 'with an explicit deny in an identity-based policy',
    });
  });

  it('allows saving to carlossalazar when both policies allow, and when only one of them does', () => {
    const req = request('s3:PutObject', 'arn:aws:s3:::carlossalazar/file.txt');
    expect(decide(req, { identity: [identity], resource: bucketPolicy }).by).toEqual({ policy: 'identity', statement: 'AllowS3Self' });
    // "If one of the policy types allows the request and the other doesn't, the request is still allowed."
    expect(decide(req, { identity: [], resource: bucketPolicy })).toMatchObject({ decision: 'Allow', by: { policy: 'resource' } });
    expect(kindOf(req, { identity: [identity] })).toBe('Allow');
    expect(kindOf(req, { identity: [] })).toBe('ImplicitDeny');
  });

  it('denies when either policy explicitly denies, even if the other allows', () => {
    const req = request('s3:PutObject', 'arn:aws:s3:::carlossalazar/file.txt');
    const denyingBucket = policy({ Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: 'arn:aws:s3:::carlossalazar/*' });
    expect(decide(req, { identity: [identity], resource: denyingBucket })).toMatchObject({
      decision: 'ExplicitDeny',
      reason: 'with an explicit deny in a resource-based policy',
    });
  });

  it('lists buckets through AllowS3ListRead', () => {
    expect(kindOf(request('s3:GetBucketLocation', 'arn:aws:s3:::anything'), { identity: [identity] })).toBe('Allow');
    // but a bucket with "log" in its name is still denied by DenyS3Logs
    expect(kindOf(request('s3:GetBucketLocation', 'arn:aws:s3:::weblogs'), { identity: [identity] })).toBe('ExplicitDeny');
  });
});

describe('[eval] the difference between explicit and implicit denies (AllowGetList / DenyReports)', () => {
  const iamRead = policy(
    { Sid: 'AllowGetList', Effect: 'Allow', Action: ['iam:Get*', 'iam:List*'], Resource: '*' },
    { Sid: 'DenyReports', Effect: 'Deny', Action: 'iam:*Report', Resource: '*' },
  );
  const user = `arn:aws:iam::${DOC_ACCOUNT}:user/exampleuser`;

  it('allows Get and List actions', () => {
    expect(kindOf(request('iam:GetUser', user), { identity: [iamRead] })).toBe('Allow');
    expect(kindOf(request('iam:ListRoles', '*'), { identity: [iamRead] })).toBe('Allow');
  });

  it('implicitly denies iam:CreatePolicy with AWS wording', () => {
    expect(decide(request('iam:CreatePolicy', '*'), { identity: [iamRead] })).toEqual({
      decision: 'ImplicitDeny',
      reason: 'because no identity-based policy allows the iam:CreatePolicy action',
    });
  });

  it('explicitly denies report actions even when another policy allows them', () => {
    const reports = policy({ Effect: 'Allow', Action: 'iam:GenerateCredentialReport', Resource: '*' });
    expect(kindOf(request('iam:GetOrganizationsAccessReport', '*'), { identity: [iamRead] })).toBe('ExplicitDeny');
    expect(decide(request('iam:GenerateCredentialReport', '*'), { identity: [iamRead, reports] }).by).toEqual({
      policy: 'identity',
      statement: 'DenyReports',
    });
  });
});

describe('[action] / [resource] element matching', () => {
  it('matches action names case-insensitively, with * and ?', () => {
    const p = policy({ Effect: 'Allow', Action: ['DynamoDB:getitem', 'sqs:Send?essage', 'kms:Generate*'], Resource: '*' });
    for (const action of ['dynamodb:GetItem', 'sqs:SendMessage', 'kms:GenerateDataKey', 'KMS:GENERATEDATAKEYPAIR']) {
      expect(kindOf(request(action, 'arn:aws:x:::y'), { identity: [p] }), action).toBe('Allow');
    }
    expect(kindOf(request('sqs:SendMessageBatch', '*'), { identity: [p] })).toBe('ImplicitDeny');
    expect(kindOf(request('dynamodb:GetItems', '*'), { identity: [p] })).toBe('ImplicitDeny');
  });

  it('matches the documented amzn-s3-demo-bucket/*/test/* examples, and not its counter-examples', () => {
    const p = policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::amzn-s3-demo-bucket/*/test/*' });
    const at = (key: string) => kindOf(request('s3:GetObject', `arn:aws:s3:::amzn-s3-demo-bucket/${key}`), { identity: [p] });
    expect(at('1///test///object.jpg')).toBe('Allow');
    expect(at('1/test/object.jpg')).toBe('Allow');
    expect(at('1/2/test/object.jpg')).toBe('Allow');
    expect(at('1/test/')).toBe('Allow');
    expect(at('1-test/object.jpg')).toBe('ImplicitDeny');
    expect(at('test/object.jpg')).toBe('ImplicitDeny');
    expect(at('1/2/test.jpg')).toBe('ImplicitDeny');
  });

  it('keeps * and ? inside an ARN part unless * ends the part, and compares resources case-sensitively', () => {
    const p = policy({
      Effect: 'Allow',
      Action: 'dynamodb:GetItem',
      Resource: ['arn:aws:dynamodb:us-east-1:000000000000:table/Ledger', 'arn:aws:dynamodb:*:000000000000:table/Idem*'],
    });
    const get = (arn: string) => kindOf(request('dynamodb:GetItem', arn), { identity: [p] });
    expect(get('arn:aws:dynamodb:us-east-1:000000000000:table/Ledger')).toBe('Allow');
    expect(get('arn:aws:dynamodb:us-east-1:000000000000:table/ledger')).toBe('ImplicitDeny');
    expect(get('arn:aws:dynamodb:us-east-1:000000000000:table/Ledger/index/ByAccount')).toBe('ImplicitDeny');
    expect(get('arn:aws:dynamodb:eu-west-1:000000000000:table/Idempotency')).toBe('Allow');
    const midPart = policy({ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: 'arn:aws:sqs:us-*-1:000000000000:q' });
    expect(kindOf(request('sqs:SendMessage', 'arn:aws:sqs:us-east-1:000000000000:q'), { identity: [midPart] })).toBe('Allow');
    expect(kindOf(request('sqs:SendMessage', 'arn:aws:sqs:us-east-1:x-1:000000000000:q'), { identity: [midPart] })).toBe('ImplicitDeny');
  });

  it('treats Resource "*" as the only match for actions that take no resource', () => {
    const p = policy({ Effect: 'Allow', Action: 'sqs:*', Resource: 'arn:aws:sqs:*:*:*' });
    expect(kindOf(request('sqs:ListQueues', '*'), { identity: [p] })).toBe('ImplicitDeny');
    const star = policy({ Effect: 'Allow', Action: 'sqs:ListQueues', Resource: '*' });
    expect(kindOf(request('sqs:ListQueues', '*'), { identity: [star] })).toBe('Allow');
  });
});

describe('[notaction] NotAction', () => {
  it('allows every S3 action on S3 resources except DeleteBucket, and neither ListAllMyBuckets nor other services', () => {
    const p = policy({ Effect: 'Allow', NotAction: 's3:DeleteBucket', Resource: 'arn:aws:s3:::*' });
    expect(kindOf(request('s3:GetObject', 'arn:aws:s3:::bucket/key'), { identity: [p] })).toBe('Allow');
    expect(kindOf(request('s3:DeleteBucket', 'arn:aws:s3:::bucket'), { identity: [p] })).toBe('ImplicitDeny');
    // "This does not allow users to use the ListAllMyBuckets S3 API operation, because that action requires the "*" resource."
    expect(kindOf(request('s3:ListAllMyBuckets', '*'), { identity: [p] })).toBe('ImplicitDeny');
    expect(kindOf(request('dynamodb:GetItem', 'arn:aws:dynamodb:us-east-1:1:table/t'), { identity: [p] })).toBe('ImplicitDeny');
  });

  it('allows every action in every service except IAM with NotAction iam:* on *', () => {
    const p = policy({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' });
    expect(kindOf(request('dynamodb:DeleteTable', 'arn:aws:dynamodb:us-east-1:1:table/t'), { identity: [p] })).toBe('Allow');
    expect(kindOf(request('iam:CreateUser', '*'), { identity: [p] })).toBe('ImplicitDeny');
  });

  it('denies non-IAM actions without MFA (DenyAllUsersNotUsingMFA, BoolIfExists)', () => {
    const allowAll = policy({ Effect: 'Allow', Action: '*', Resource: '*' });
    const deny = policy({
      Sid: 'DenyAllUsersNotUsingMFA',
      Effect: 'Deny',
      NotAction: 'iam:*',
      Resource: '*',
      Condition: { BoolIfExists: { 'aws:MultiFactorAuthPresent': 'false' } },
    });
    const identity = [allowAll, deny];
    // access keys: the key is absent, so IfExists makes the condition true and the Deny applies
    expect(kindOf(request('s3:GetObject', 'arn:aws:s3:::b/k'), { identity })).toBe('ExplicitDeny');
    expect(kindOf(request('s3:GetObject', 'arn:aws:s3:::b/k', { 'aws:MultiFactorAuthPresent': 'false' }), { identity })).toBe('ExplicitDeny');
    expect(kindOf(request('s3:GetObject', 'arn:aws:s3:::b/k', { 'aws:MultiFactorAuthPresent': true }), { identity })).toBe('Allow');
    expect(kindOf(request('iam:ListUsers', '*'), { identity })).toBe('Allow');
  });
});

describe('[notres] NotResource (HRPayroll)', () => {
  const allowS3 = policy({ Effect: 'Allow', Action: 's3:*', Resource: '*' });
  const hr = policy({ Effect: 'Deny', Action: 's3:*', NotResource: ['arn:aws:s3:::HRBucket/Payroll', 'arn:aws:s3:::HRBucket/Payroll/*'] });

  it('denies every S3 resource except the Payroll folder', () => {
    expect(kindOf(request('s3:GetObject', 'arn:aws:s3:::HRBucket/Payroll/jan.csv'), { identity: [allowS3, hr] })).toBe('Allow');
    expect(kindOf(request('s3:GetObject', 'arn:aws:s3:::HRBucket/Other/x'), { identity: [allowS3, hr] })).toBe('ExplicitDeny');
    expect(kindOf(request('s3:ListAllMyBuckets', '*'), { identity: [allowS3, hr] })).toBe('ExplicitDeny');
  });

  it('does not grant anything by itself', () => {
    expect(kindOf(request('s3:GetObject', 'arn:aws:s3:::HRBucket/Payroll/jan.csv'), { identity: [hr] })).toBe('ImplicitDeny');
  });
});

describe('[ops] condition operators, with the page examples', () => {
  const allowIf = (condition: PolicyStatement['Condition'], action = 'iam:CreateAccessKey'): PolicyDocument =>
    policy({ Effect: 'Allow', Action: action, Resource: '*', ...(condition ? { Condition: condition } : {}) });
  const check = (p: PolicyDocument, context: AuthorizationRequest['context'], action = 'iam:CreateAccessKey') =>
    kindOf(request(action, `arn:aws:iam::${DOC_ACCOUNT}:user/bob`, context), { identity: [p] });

  it('StringEquals on aws:PrincipalTag/job-category: a principal without the tag is implicitly denied', () => {
    const p = allowIf({ StringEquals: { 'aws:PrincipalTag/job-category': 'iamuser-admin' } });
    expect(check(p, { 'aws:PrincipalTag/job-category': 'iamuser-admin' })).toBe('Allow');
    expect(check(p, { 'aws:PrincipalTag/job-category': 'IAMUSER-ADMIN' })).toBe('ImplicitDeny');
    expect(check(p, {})).toBe('ImplicitDeny');
    // condition key names are case-insensitive
    expect(check(p, { 'AWS:principaltag/JOB-category': 'iamuser-admin' })).toBe('Allow');
  });

  it('StringEqualsIgnoreCase, StringNotEquals and StringNotLike (a missing key satisfies the negated ones)', () => {
    expect(check(allowIf({ StringEqualsIgnoreCase: { 'aws:PrincipalTag/team': 'Payments' } }), { 'aws:PrincipalTag/team': 'PAYMENTS' })).toBe('Allow');
    const notEquals = allowIf({ StringNotEquals: { 'aws:PrincipalTag/team': ['ops', 'sec'] } });
    expect(check(notEquals, { 'aws:PrincipalTag/team': 'payments' })).toBe('Allow');
    expect(check(notEquals, { 'aws:PrincipalTag/team': 'sec' })).toBe('ImplicitDeny');
    expect(check(notEquals, {})).toBe('Allow');
    const notLike = allowIf({ StringNotLike: { 'aws:PrincipalTag/team': 'o*' } });
    expect(check(notLike, { 'aws:PrincipalTag/team': 'ops' })).toBe('ImplicitDeny');
    expect(check(notLike, {})).toBe('Allow');
  });

  it('StringLike with ${aws:username}: the S3 home-directory example', () => {
    const home = policy(
      { Effect: 'Allow', Action: ['s3:ListAllMyBuckets', 's3:GetBucketLocation'], Resource: 'arn:aws:s3:::*' },
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: 'arn:aws:s3:::BUCKET-NAME',
        Condition: { StringLike: { 's3:prefix': ['', 'home/', 'home/${aws:username}/'] } },
      },
      {
        Effect: 'Allow',
        Action: 's3:*',
        Resource: ['arn:aws:s3:::BUCKET-NAME/home/${aws:username}', 'arn:aws:s3:::BUCKET-NAME/home/${aws:username}/*'],
      },
    );
    const alice: RequestPrincipal = { type: 'AWS', arn: `arn:aws:iam::${DOC_ACCOUNT}:user/alice` };
    const as = (action: string, resource: string, context: AuthorizationRequest['context'] = {}) =>
      kindOf(request(action, resource, context, alice), { identity: [home] });
    expect(as('s3:ListBucket', 'arn:aws:s3:::BUCKET-NAME', { 's3:prefix': 'home/alice/' })).toBe('Allow');
    expect(as('s3:ListBucket', 'arn:aws:s3:::BUCKET-NAME', { 's3:prefix': '' })).toBe('Allow');
    expect(as('s3:ListBucket', 'arn:aws:s3:::BUCKET-NAME', { 's3:prefix': 'home/bob/' })).toBe('ImplicitDeny');
    expect(as('s3:GetObject', 'arn:aws:s3:::BUCKET-NAME/home/alice/notes.txt')).toBe('Allow');
    expect(as('s3:GetObject', 'arn:aws:s3:::BUCKET-NAME/home/bob/notes.txt')).toBe('ImplicitDeny');
    // a role has no aws:username: the variable does not resolve and the statement does not match
    const role: RequestPrincipal = { type: 'AWS', arn: `arn:aws:iam::${DOC_ACCOUNT}:role/alice` };
    expect(kindOf(request('s3:GetObject', 'arn:aws:s3:::BUCKET-NAME/home/alice/x', {}, role), { identity: [home] })).toBe('ImplicitDeny');
    // before Version 2012-10-17 the text is literal, as AWS treats it
    const legacy: PolicyDocument = { ...home, Version: '2008-10-17' };
    expect(kindOf(request('s3:GetObject', 'arn:aws:s3:::BUCKET-NAME/home/alice/x', {}, alice), { identity: [legacy] })).toBe('ImplicitDeny');
    expect(kindOf(request('s3:GetObject', 'arn:aws:s3:::BUCKET-NAME/home/${aws:username}/x', {}, alice), { identity: [legacy] })).toBe('Allow');
  });

  it('NumericLessThanEquals on s3:max-keys: up to 10', () => {
    const p = allowIf({ NumericLessThanEquals: { 's3:max-keys': '10' } }, 's3:ListBucket');
    expect(check(p, { 's3:max-keys': '10' }, 's3:ListBucket')).toBe('Allow');
    expect(check(p, { 's3:max-keys': 3 }, 's3:ListBucket')).toBe('Allow');
    expect(check(p, { 's3:max-keys': '11' }, 's3:ListBucket')).toBe('ImplicitDeny');
    expect(check(p, {}, 's3:ListBucket')).toBe('ImplicitDeny');
    for (const [op, value, want] of [
      ['NumericEquals', '5', 'Allow'],
      ['NumericNotEquals', '5', 'ImplicitDeny'],
      ['NumericLessThan', '6', 'Allow'],
      ['NumericLessThan', '5', 'ImplicitDeny'],
      ['NumericGreaterThan', '4', 'Allow'],
      ['NumericGreaterThanEquals', '5', 'Allow'],
      ['NumericGreaterThanEquals', '5.5', 'ImplicitDeny'],
    ] as const) {
      expect(check(allowIf({ [op]: { 'test:n': value } }), { 'test:n': 5 }), `${op} ${value}`).toBe(want);
    }
  });

  it('DateGreaterThan on aws:TokenIssueTime: absent for access keys, so denied', () => {
    const p = allowIf({ DateGreaterThan: { 'aws:TokenIssueTime': '2020-01-01T00:00:01Z' } });
    expect(check(p, { 'aws:TokenIssueTime': '2020-06-01T00:00:00Z' })).toBe('Allow');
    expect(check(p, { 'aws:TokenIssueTime': '2019-12-31T23:59:59Z' })).toBe('ImplicitDeny');
    expect(check(p, {})).toBe('ImplicitDeny');
    // epoch seconds on either side
    expect(check(allowIf({ DateLessThan: { 'aws:EpochTime': '1900000000' } }), { 'aws:EpochTime': 1800000000 })).toBe('Allow');
    expect(check(allowIf({ DateEquals: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } }), { 'aws:CurrentTime': '2026-01-01T00:00:00.000Z' })).toBe('Allow');
    expect(check(allowIf({ DateNotEquals: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } }), { 'aws:CurrentTime': '2026-01-02T00:00:00Z' })).toBe('Allow');
    // aws:CurrentTime is always present: the evaluator supplies it
    expect(check(allowIf({ DateGreaterThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z' } }), {})).toBe('Allow');
  });

  it('Bool on aws:SecureTransport: the BooleanExample deny applies only to plain HTTP', () => {
    const allow = policy({ Effect: 'Allow', Action: 's3:*', Resource: '*' });
    const deny = policy({
      Sid: 'BooleanExample',
      Action: 's3:*',
      Effect: 'Deny',
      Resource: ['arn:aws:s3:::DOC-EXAMPLE-BUCKET', 'arn:aws:s3:::DOC-EXAMPLE-BUCKET/*'],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
    const at = (secure: boolean | string) =>
      kindOf(request('s3:GetObject', 'arn:aws:s3:::DOC-EXAMPLE-BUCKET/k', { 'aws:SecureTransport': secure }), { identity: [allow, deny] });
    expect(at(false)).toBe('ExplicitDeny');
    expect(at('false')).toBe('ExplicitDeny');
    expect(at(true)).toBe('Allow');
    expect(at('TRUE')).toBe('Allow');
  });

  it('BinaryEquals compares the base-64 value', () => {
    const p = allowIf({ BinaryEquals: { 'test:blob': 'QmluYXJ5VmFsdWVJbkJhc2U2NA==' } });
    expect(check(p, { 'test:blob': 'QmluYXJ5VmFsdWVJbkJhc2U2NA==' })).toBe('Allow');
    expect(check(p, { 'test:blob': 'QmluYXJ5' })).toBe('ImplicitDeny');
  });

  it('IpAddress / NotIpAddress with IPv4 and IPv6 ranges (the mixed example)', () => {
    const p = allowIf({ IpAddress: { 'aws:SourceIp': ['203.0.113.0/24', '2001:DB8:1234:5678::/64'] } });
    expect(check(p, { 'aws:SourceIp': '203.0.113.77' })).toBe('Allow');
    expect(check(p, { 'aws:SourceIp': '2001:db8:1234:5678::1' })).toBe('Allow');
    expect(check(p, { 'aws:SourceIp': '198.51.100.1' })).toBe('ImplicitDeny');
    expect(check(p, {})).toBe('ImplicitDeny');
    expect(check(allowIf({ NotIpAddress: { 'aws:SourceIp': '203.0.113.9' } }), { 'aws:SourceIp': '203.0.113.10' })).toBe('Allow');
    expect(check(allowIf({ NotIpAddress: { 'aws:SourceIp': '203.0.113.9' } }), { 'aws:SourceIp': '203.0.113.9' })).toBe('ImplicitDeny');
  });

  it('ArnLike checks the six parts separately where StringLike does not (the someservice example)', () => {
    const pattern = 'arn:aws:someservice:*:111122223333:finance/*';
    const value = 'arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt';
    expect(check(allowIf({ StringLike: { 'aws:SourceArn': pattern } }), { 'aws:SourceArn': value })).toBe('Allow');
    expect(check(allowIf({ ArnLike: { 'aws:SourceArn': pattern } }), { 'aws:SourceArn': value })).toBe('ImplicitDeny');
    expect(check(allowIf({ ArnEquals: { 'aws:SourceArn': pattern } }), { 'aws:SourceArn': 'arn:aws:someservice:us-east-2:111122223333:finance/a:b' })).toBe('Allow');
    expect(check(allowIf({ ArnNotLike: { 'aws:SourceArn': pattern } }), { 'aws:SourceArn': value })).toBe('Allow');
    expect(check(allowIf({ ArnNotEquals: { 'aws:SourceArn': pattern } }), {})).toBe('Allow');
  });

  it('ArnEquals on aws:SourceArn in a queue policy: SNS may send for the topic; a direct call is denied', () => {
    const topic = `arn:aws:sns:us-east-2:${DOC_ACCOUNT}:TOPIC-ID`;
    const queue = `arn:aws:sqs:us-east-2:${DOC_ACCOUNT}:QUEUE-ID`;
    const queuePolicy = policy({
      Effect: 'Allow',
      Principal: { Service: 'sns.amazonaws.com' },
      Action: 'SQS:SendMessage',
      Resource: queue,
      Condition: { ArnEquals: { 'aws:SourceArn': topic } },
    });
    const sns: RequestPrincipal = { type: 'Service', arn: 'sns.amazonaws.com' };
    expect(kindOf(request('sqs:SendMessage', queue, { 'aws:SourceArn': topic }, sns), { identity: [], resource: queuePolicy })).toBe('Allow');
    expect(
      decide(request('sqs:SendMessage', queue, { 'aws:SourceArn': `${topic}-other` }, sns), { identity: [], resource: queuePolicy }),
    ).toEqual({ decision: 'ImplicitDeny', reason: 'because no resource-based policy allows the sqs:SendMessage action' });
    expect(kindOf(request('sqs:SendMessage', queue), { identity: [], resource: queuePolicy })).toBe('ImplicitDeny');
  });

  it('...IfExists: the RunInstances example works only with StringLikeIfExists', () => {
    const values = ['t1.*', 't2.*', 'm3.*'];
    const broken = allowIf({ StringLike: { 'ec2:InstanceType': values } }, 'ec2:RunInstances');
    const fixed = allowIf({ StringLikeIfExists: { 'ec2:InstanceType': values } }, 'ec2:RunInstances');
    // the instance resource has the key; the image, key pair, security group... do not
    expect(check(broken, { 'ec2:InstanceType': 't2.micro' }, 'ec2:RunInstances')).toBe('Allow');
    expect(check(broken, {}, 'ec2:RunInstances')).toBe('ImplicitDeny');
    expect(check(fixed, {}, 'ec2:RunInstances')).toBe('Allow');
    expect(check(fixed, { 'ec2:InstanceType': 't2.micro' }, 'ec2:RunInstances')).toBe('Allow');
    expect(check(fixed, { 'ec2:InstanceType': 'm5.large' }, 'ec2:RunInstances')).toBe('ImplicitDeny');
  });

  it('...IfExists with a negated operator in a Deny still denies when the key is missing', () => {
    const allow = policy({ Effect: 'Allow', Action: 'ec2:*', Resource: '*' });
    const deny = policy({
      Effect: 'Deny',
      Action: 'ec2:TerminateInstances',
      Resource: '*',
      Condition: { StringNotEqualsIfExists: { 'aws:ResourceTag/owner': 'payments' } },
    });
    const at = (context: AuthorizationRequest['context']) =>
      kindOf(request('ec2:TerminateInstances', '*', context), { identity: [allow, deny] });
    expect(at({})).toBe('ExplicitDeny');
    expect(at({ 'aws:ResourceTag/owner': 'ops' })).toBe('ExplicitDeny');
    expect(at({ 'aws:ResourceTag/owner': 'payments' })).toBe('Allow');
  });

  it('Null on aws:TokenIssueTime: only long-term credentials may use EC2', () => {
    const p = allowIf({ Null: { 'aws:TokenIssueTime': 'true' } }, 'ec2:DescribeInstances');
    expect(check(p, {}, 'ec2:DescribeInstances')).toBe('Allow');
    expect(check(p, { 'aws:TokenIssueTime': '2026-01-01T00:00:00Z' }, 'ec2:DescribeInstances')).toBe('ImplicitDeny');
    const present = allowIf({ Null: { 'aws:TokenIssueTime': 'false' } }, 'ec2:DescribeInstances');
    expect(check(present, { 'aws:TokenIssueTime': '2026-01-01T00:00:00Z' }, 'ec2:DescribeInstances')).toBe('Allow');
    expect(check(present, {}, 'ec2:DescribeInstances')).toBe('ImplicitDeny');
  });

  it('ANDs operators and keys, ORs the values of one key', () => {
    const p = allowIf({
      StringEquals: { 'aws:PrincipalTag/team': ['payments', 'ledger'], 'aws:RequestedRegion': 'eu-west-1' },
      Bool: { 'aws:SecureTransport': 'true' },
    });
    const ok = { 'aws:PrincipalTag/team': 'ledger', 'aws:RequestedRegion': 'eu-west-1', 'aws:SecureTransport': true };
    expect(check(p, ok)).toBe('Allow');
    expect(check(p, { ...ok, 'aws:PrincipalTag/team': 'ops' })).toBe('ImplicitDeny');
    expect(check(p, { ...ok, 'aws:RequestedRegion': 'us-east-1' })).toBe('ImplicitDeny');
    expect(check(p, { ...ok, 'aws:SecureTransport': false })).toBe('ImplicitDeny');
  });
});

describe('[multi] ForAllValues / ForAnyValue on dynamodb:requestedAttributes (the Thread table)', () => {
  const thread = 'arn:aws:dynamodb:us-east-1:123456789012:table/Thread';
  const allowOnly = policy({
    Effect: 'Allow',
    Action: 'dynamodb:GetItem',
    Resource: thread,
    Condition: { 'ForAllValues:StringLike': { 'dynamodb:requestedAttributes': ['PostDateTime', 'Message', 'Tags'] } },
  });
  const denyAny = policy({
    Effect: 'Deny',
    Action: 'dynamodb:PutItem',
    Resource: thread,
    Condition: { 'ForAnyValue:StringLike': { 'dynamodb:requestedAttributes': ['ID', 'PostDateTime'] } },
  });
  const allowPut = policy({ Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: thread });
  const get = (attributes?: string[]) =>
    kindOf(request('dynamodb:GetItem', thread, attributes ? { 'dynamodb:requestedAttributes': attributes } : {}), { identity: [allowOnly] });
  const put = (attributes?: string[]) =>
    kindOf(request('dynamodb:PutItem', thread, attributes ? { 'dynamodb:requestedAttributes': attributes } : {}), { identity: [allowPut, denyAny] });

  it('ForAllValues: allowed when every requested attribute is listed, denied when one is not', () => {
    expect(get(['PostDateTime', 'Message'])).toBe('Allow');
    expect(get(['PostDateTime', 'UserName'])).toBe('ImplicitDeny');
    expect(get(['ID'])).toBe('ImplicitDeny');
  });

  it('ForAllValues returns true, ForAnyValue false, for an empty or missing key (the documented note)', () => {
    expect(get([])).toBe('Allow');
    expect(get()).toBe('Allow');
    expect(put([])).toBe('Allow');
    expect(put()).toBe('Allow');
  });

  it('ForAnyValue in a Deny: one listed attribute denies', () => {
    expect(put(['UserName', 'Message', 'PostDateTime'])).toBe('ExplicitDeny');
    expect(put(['UserName'])).toBe('Allow');
  });

  it('set operators with negated operators: ForAllValues:StringNotLike and ForAnyValue:StringNotEquals', () => {
    const none = policy({
      Effect: 'Allow',
      Action: 'dynamodb:GetItem',
      Resource: thread,
      Condition: { 'ForAllValues:StringNotLike': { 'dynamodb:requestedAttributes': ['ID', 'User*'] } },
    });
    const at = (p: PolicyDocument, attributes: string[]) =>
      kindOf(request('dynamodb:GetItem', thread, { 'dynamodb:requestedAttributes': attributes }), { identity: [p] });
    expect(at(none, ['Message', 'Tags'])).toBe('Allow');
    expect(at(none, ['Message', 'UserName'])).toBe('ImplicitDeny');
    const someOther = policy({
      Effect: 'Allow',
      Action: 'dynamodb:GetItem',
      Resource: thread,
      Condition: { 'ForAnyValue:StringNotEquals': { 'dynamodb:requestedAttributes': 'ID' } },
    });
    expect(at(someOther, ['ID', 'Message'])).toBe('Allow');
    expect(at(someOther, ['ID'])).toBe('ImplicitDeny');
  });

  it('ForAnyValue with IfExists: a missing key makes the condition true ([ops] ...IfExists)', () => {
    const p = policy({
      Effect: 'Allow',
      Action: 'dynamodb:GetItem',
      Resource: thread,
      Condition: { 'ForAnyValue:StringEqualsIfExists': { 'dynamodb:requestedAttributes': 'Message' } },
    });
    expect(kindOf(request('dynamodb:GetItem', thread), { identity: [p] })).toBe('Allow');
    expect(kindOf(request('dynamodb:GetItem', thread, { 'dynamodb:requestedAttributes': ['ID'] }), { identity: [p] })).toBe('ImplicitDeny');
  });
});

describe('fails closed on what it cannot evaluate', () => {
  it('rejects an unknown condition operator, naming it, even when another statement allows', () => {
    const allow = policy({ Effect: 'Allow', Action: 'sqs:*', Resource: '*' });
    const odd = policy({ Sid: 'Typo', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: '*', Condition: { StringEqualz: { 'aws:x': 'y' } } });
    const decision = decide(request('sqs:SendMessage', 'arn:aws:sqs:us-east-1:1:q'), { identity: [allow, odd] });
    expect(decision.decision).toBe('ExplicitDeny');
    expect(decision.by).toEqual({ policy: 'identity', statement: 'Typo' });
    expect(decision.reason).toMatch(/StringEqualz/);
    expect(decision.reason).toMatch(/fails closed/);
    // the statement does not apply to other actions, so they are judged normally
    expect(kindOf(request('sqs:ReceiveMessage', 'arn:aws:sqs:us-east-1:1:q'), { identity: [allow, odd] })).toBe('Allow');
  });

  it('rejects an unknown operator in a resource-based policy the same way', () => {
    const queuePolicy = policy({ Effect: 'Deny', Principal: '*', Action: 'sqs:*', Resource: '*', Condition: { BoolyIfExists: { 'aws:SecureTransport': 'false' } } });
    const decision = decide(request('sqs:SendMessage', 'arn:aws:sqs:us-east-1:1:q'), { identity: [policy({ Effect: 'Allow', Action: '*', Resource: '*' })], resource: queuePolicy });
    expect(decision).toMatchObject({ decision: 'ExplicitDeny', by: { policy: 'resource' } });
    expect(decision.reason).toMatch(/BoolyIfExists/);
  });

  it('rejects Null with IfExists, a malformed number or date, a malformed IP range and a statement without Action', () => {
    const allow = (statement: Partial<PolicyStatement>) =>
      decide(request('sqs:SendMessage', '*', { 'test:n': '1' }), { identity: [policy({ Effect: 'Allow', Action: 'sqs:*', Resource: '*', ...statement } as PolicyStatement)] });
    expect(allow({ Condition: { NullIfExists: { 'test:n': 'true' } } }).reason).toMatch(/NullIfExists/);
    expect(allow({ Condition: { NumericEquals: { 'test:n': 'one' } } }).reason).toMatch(/'one', which is not a number/);
    expect(allow({ Condition: { DateLessThan: { 'test:n': 'yesterday' } } }).reason).toMatch(/'yesterday', which is not a date/);
    expect(allow({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0/8' } } }).reason).toMatch(/10\.0\.0\/8/);
    expect(allow({ Condition: { Null: { 'test:n': 'maybe' } } }).reason).toMatch(/"true" or "false"/);
    const noAction = decide(request('sqs:SendMessage', '*'), { identity: [policy({ Effect: 'Allow', Resource: '*' } as PolicyStatement)] });
    expect(noAction).toMatchObject({ decision: 'ExplicitDeny' });
    expect(noAction.reason).toMatch(/exactly one of Action and NotAction/);
    for (const d of [noAction, allow({ Condition: { NumericEquals: { 'test:n': 'one' } } })]) expect(d.decision).not.toBe('Allow');
  });

  it('rejects a Principal in an identity-based policy and a resource-based statement without one', () => {
    const withPrincipal = decide(request('sqs:SendMessage', '*'), { identity: [policy({ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' })] });
    expect(withPrincipal.reason).toMatch(/cannot have Principal/);
    const without = decide(request('sqs:SendMessage', '*'), { identity: [], resource: policy({ Effect: 'Allow', Action: '*', Resource: '*' }) });
    expect(without.reason).toMatch(/exactly one of Principal and NotPrincipal/);
  });
});

describe('[principal] Principal and NotPrincipal in resource-based policies', () => {
  const queue = `arn:aws:sqs:us-east-1:${ACCOUNT}:orders`;
  const role: RequestPrincipal = { type: 'AWS', arn: `arn:aws:iam::${ACCOUNT}:role/LedgerRole` };
  const send = (principal: RequestPrincipal, resource: PolicyDocument, identity: PolicyDocument[] = []) =>
    evaluate(request('sqs:SendMessage', queue, {}, principal), { identity, resource });
  const allowTo = (p: PolicyStatement['Principal']) => policy({ Effect: 'Allow', Principal: p!, Action: 'sqs:SendMessage', Resource: queue });
  const identityAllow = policy({ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queue });

  it('a same-account resource policy naming the role allows without any identity policy', () => {
    expect(send(role, allowTo({ AWS: role.arn }))).toMatchObject({ decision: 'Allow', by: { policy: 'resource' } });
    expect(send(role, allowTo({ AWS: [`arn:aws:iam::${ACCOUNT}:role/Other`, role.arn] })).decision).toBe('Allow');
    expect(send(role, allowTo({ AWS: `arn:aws:iam::${ACCOUNT}:role/Other` })).decision).toBe('ImplicitDeny');
  });

  it('a role ARN matches the role’s sessions (arn:aws:sts::…:assumed-role/…)', () => {
    const session: RequestPrincipal = { type: 'AWS', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/LedgerRole/fn-session` };
    expect(send(session, allowTo({ AWS: `arn:aws:iam::${ACCOUNT}:role/service/LedgerRole` })).decision).toBe('Allow');
    expect(send(session, allowTo({ AWS: `arn:aws:iam::${ACCOUNT}:role/LedgerRoleX` })).decision).toBe('ImplicitDeny');
  });

  it('"*" and {"AWS": "*"} name everyone', () => {
    expect(send(role, allowTo('*')).decision).toBe('Allow');
    expect(send(role, allowTo({ AWS: '*' })).decision).toBe('Allow');
  });

  it('the account principal delegates to identity policies: alone it does not allow a role of the account', () => {
    for (const account of [ACCOUNT, `arn:aws:iam::${ACCOUNT}:root`]) {
      expect(send(role, allowTo({ AWS: account }))).toEqual({
        decision: 'ImplicitDeny',
        reason: 'because no identity-based policy allows the sqs:SendMessage action',
      });
      expect(send(role, allowTo({ AWS: account }), [identityAllow]).decision).toBe('Allow');
    }
  });

  it('a Deny naming the account applies to every principal of the account', () => {
    const deny = policy({ Effect: 'Deny', Principal: { AWS: ACCOUNT }, Action: 'sqs:*', Resource: queue });
    expect(send(role, deny, [identityAllow]).decision).toBe('ExplicitDeny');
    expect(send({ type: 'AWS', arn: 'arn:aws:iam::210987654321:role/x' }, deny, [identityAllow]).decision).not.toBe('ExplicitDeny');
  });

  it('[notprin] NotPrincipal: a Deny for everyone except the named role', () => {
    const deny = policy({ Effect: 'Deny', NotPrincipal: { AWS: role.arn }, Action: 'sqs:*', Resource: queue });
    const other: RequestPrincipal = { type: 'AWS', arn: `arn:aws:iam::${ACCOUNT}:role/Other` };
    expect(send(role, deny, [identityAllow]).decision).toBe('Allow');
    expect(send(other, deny, [identityAllow]).decision).toBe('ExplicitDeny');
    // naming only the account in NotPrincipal does not exempt the account's roles
    const accountOnly = policy({ Effect: 'Deny', NotPrincipal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sqs:*', Resource: queue });
    expect(send(role, accountOnly, [identityAllow]).decision).toBe('ExplicitDeny');
  });

  it('[cross] across accounts both the identity policy and the resource policy must allow', () => {
    const outsider: RequestPrincipal = { type: 'AWS', arn: 'arn:aws:iam::210987654321:role/Partner' };
    const resourceAllow = allowTo({ AWS: '210987654321' });
    const policies = (identity: PolicyDocument[], resource?: PolicyDocument): ApplicablePolicies => ({
      identity,
      ...(resource ? { resource } : {}),
      resourceAccountId: ACCOUNT,
    });
    expect(evaluate(request('sqs:SendMessage', queue, {}, outsider), policies([identityAllow], resourceAllow)).decision).toBe('Allow');
    expect(evaluate(request('sqs:SendMessage', queue, {}, outsider), policies([identityAllow]))).toEqual({
      decision: 'ImplicitDeny',
      reason: 'because no resource-based policy allows the sqs:SendMessage action',
    });
    expect(evaluate(request('sqs:SendMessage', queue, {}, outsider), policies([], resourceAllow)).reason).toBe(
      'because no identity-based policy allows the sqs:SendMessage action',
    );
  });

  it('service principals are allowed only by a resource policy naming the service', () => {
    const topic = `arn:aws:sns:us-east-1:${ACCOUNT}:alarms`;
    const cloudwatch: RequestPrincipal = { type: 'Service', arn: 'cloudwatch.amazonaws.com' };
    const publish = (resource: PolicyDocument | undefined, context: AuthorizationRequest['context'] = {}) =>
      evaluate(request('sns:Publish', topic, context, cloudwatch), { identity: [], ...(resource ? { resource } : {}) });
    const scoped = policy({
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: 'sns:Publish',
      Resource: topic,
      Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
    });
    expect(publish(scoped, { 'aws:SourceAccount': ACCOUNT }).decision).toBe('Allow');
    expect(publish(scoped, { 'aws:SourceAccount': '210987654321' }).decision).toBe('ImplicitDeny');
    expect(publish(undefined).reason).toBe('because no resource-based policy allows the sns:Publish action');
    expect(publish(policy({ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sns:Publish', Resource: topic })).decision).toBe('ImplicitDeny');
    // a role's identity policy cannot help a service
    const identity = [policy({ Effect: 'Allow', Action: '*', Resource: '*' })];
    expect(evaluate(request('sns:Publish', topic, {}, cloudwatch), { identity }).decision).toBe('ImplicitDeny');
  });
});

describe('[kms] key policies must allow: the default "Enable IAM User Permissions" statement delegates to IAM', () => {
  const key = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
  const role: RequestPrincipal = { type: 'AWS', arn: `arn:aws:iam::${ACCOUNT}:role/LedgerRole` };
  const defaultKeyPolicy = policy({
    Sid: 'Enable IAM User Permissions',
    Effect: 'Allow',
    Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
    Action: 'kms:*',
    Resource: '*',
  });
  const decrypt = (identity: PolicyDocument[], keyPolicy?: PolicyDocument) =>
    evaluate(request('kms:Decrypt', key, {}, role), { identity, ...(keyPolicy ? { resource: keyPolicy } : {}), resourcePolicyRequired: true });
  const identityDecrypt = policy({ Sid: 'Decrypt', Effect: 'Allow', Action: 'kms:Decrypt', Resource: key });

  it('with the default key policy, an identity policy allowing kms:Decrypt allows', () => {
    expect(decrypt([identityDecrypt], defaultKeyPolicy)).toEqual({
      decision: 'Allow',
      by: { policy: 'identity', statement: 'Decrypt' },
      reason: 'allowed by the identity-based policy statement Decrypt',
    });
  });

  it('with the default key policy and no identity grant, the call is denied: no identity-based policy allows', () => {
    expect(decrypt([], defaultKeyPolicy)).toEqual({
      decision: 'ImplicitDeny',
      reason: 'because no identity-based policy allows the kms:Decrypt action',
    });
  });

  it('without the root statement, IAM policies that allow access to the key are ineffective', () => {
    const keyUsersOnly = policy({
      Sid: 'Allow use of the key',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/KeyUser` },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      Resource: '*',
    });
    const admin = policy({ Effect: 'Allow', Action: '*', Resource: '*' });
    expect(decrypt([admin], keyUsersOnly)).toEqual({
      decision: 'ImplicitDeny',
      reason: 'because no resource-based policy allows the kms:Decrypt action',
    });
    expect(decrypt([admin])).toMatchObject({ decision: 'ImplicitDeny' });
    // the key user is allowed by the key policy alone
    const keyUser: RequestPrincipal = { type: 'AWS', arn: `arn:aws:iam::${ACCOUNT}:role/KeyUser` };
    expect(evaluate(request('kms:GenerateDataKey', key, {}, keyUser), { identity: [], resource: keyUsersOnly, resourcePolicyRequired: true })).toMatchObject({
      decision: 'Allow',
      by: { policy: 'resource', statement: 'Allow use of the key' },
    });
  });

  it('…while IAM policies that deny access to the key are still effective', () => {
    const direct = policy({ Effect: 'Allow', Principal: { AWS: role.arn }, Action: 'kms:*', Resource: '*' });
    const deny = policy({ Effect: 'Deny', Action: 'kms:Decrypt', Resource: '*' });
    expect(decrypt([deny], direct).decision).toBe('ExplicitDeny');
    expect(decrypt([], direct).decision).toBe('Allow');
  });

  it('delegation is per action: a root statement for kms:Describe* does not delegate kms:Decrypt', () => {
    const describeOnly = policy({ Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:Describe*', Resource: '*' });
    expect(decrypt([identityDecrypt], describeOnly).reason).toBe('because no resource-based policy allows the kms:Decrypt action');
  });
});

describe('AWS’s denial message', () => {
  it('reads "User: … is not authorized to perform: … on resource: … because …"', () => {
    const req = request('dynamodb:BatchGetItem', `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/Ledger`, {}, {
      type: 'AWS',
      arn: `arn:aws:sts::${ACCOUNT}:assumed-role/LedgerRole/ledger`,
    });
    const decision = evaluate(req, { identity: [] });
    expect(accessDeniedMessage(req, decision)).toBe(
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/LedgerRole/ledger is not authorized to perform: dynamodb:BatchGetItem ` +
        `on resource: arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/Ledger because no identity-based policy allows the dynamodb:BatchGetItem action`,
    );
  });
});

describe("this app's policies (PaymentsStack synthesized once, intrinsics resolved)", () => {
  const app = appPolicies({ kmsKey: 'customer-managed' });
  const ledgerRole = logicalId(app, 'AWS::IAM::Role', 'PaymentsHandlerRole');
  const ledgerTable = arnOf(app, logicalId(app, 'AWS::DynamoDB::Table', 'LedgerTable'));
  const paymentsQueue = arnOf(app, logicalId(app, 'AWS::SQS::Queue', 'PaymentsQueue'));
  const key = arnOf(app, logicalId(app, 'AWS::KMS::Key', 'DataKey'));
  const principal: RequestPrincipal = { type: 'AWS', arn: `arn:aws:iam::${ACCOUNT}:role/${ledgerRole}` };
  const identity = app.identity.get(ledgerRole) ?? [];
  const as = (action: string, resource: string, extra: Partial<ApplicablePolicies> = {}, context: AuthorizationRequest['context'] = { 'aws:SecureTransport': true }) =>
    evaluate({ principal, action, resource, context }, { identity, ...extra });

  it('the ledger role may receive from its queue, write its logs, and call every action granted on the ledger table', () => {
    expect(identity.length).toBeGreaterThan(0);
    const queuePolicy = app.queuePolicies.get(paymentsQueue);
    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']) {
      expect(as(action, paymentsQueue, queuePolicy ? { resource: queuePolicy } : {}).decision, action).toBe('Allow');
    }
    // `log-group:<name>:*` (a trailing * ending its part runs past the colon) covers the log streams
    const logGroup = logicalId(app, 'AWS::Logs::LogGroup', 'PaymentsHandlerLogGroup');
    expect(as('logs:PutLogEvents', `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:${logGroup}:log-stream:2026/12/01/[$LATEST]abc`).decision).toBe('Allow');
    // The grant list is GRANTS's (derived from what the handler calls); every action it names must evaluate to Allow.
    const granted = identity
      .flatMap((d) => (Array.isArray(d.Statement) ? d.Statement : [d.Statement]) as PolicyStatement[])
      .filter((st) => st.Effect === 'Allow' && [st.Resource].flat().includes(ledgerTable))
      .flatMap((st) => [st.Action ?? []].flat());
    expect(granted.length).toBeGreaterThan(0);
    for (const action of granted) expect(as(action, ledgerTable).decision, action).toBe('Allow');
    expect(as('dynamodb:PutItem', ledgerTable.replace('LedgerTable', 'OtherTable')).decision).toBe('ImplicitDeny');
  });

  it('rejects what the ledger role was never granted, in AWS wording', () => {
    expect(as('dynamodb:DeleteTable', ledgerTable)).toEqual({
      decision: 'ImplicitDeny',
      reason: 'because no identity-based policy allows the dynamodb:DeleteTable action',
    });
    expect(as('sqs:SendMessage', paymentsQueue).decision).toBe('ImplicitDeny');
  });

  it("the queues' TLS-only Deny (enforceSSL) denies plain HTTP and nothing else", () => {
    const queuePolicy = app.queuePolicies.get(paymentsQueue);
    expect(queuePolicy).toBeDefined();
    expect(as('sqs:ReceiveMessage', paymentsQueue, { resource: queuePolicy! }, { 'aws:SecureTransport': false })).toMatchObject({
      decision: 'ExplicitDeny',
      reason: 'with an explicit deny in a resource-based policy',
    });
    expect(as('sqs:ReceiveMessage', paymentsQueue, { resource: queuePolicy! }).decision).toBe('Allow');
  });

  it('the data key policy delegates to IAM: the ledger role decrypts through its identity grant', () => {
    const keyPolicy = app.keyPolicies.get(key);
    expect(keyPolicy).toBeDefined();
    expect(as('kms:Decrypt', key, { resource: keyPolicy!, resourcePolicyRequired: true }).decision).toBe('Allow');
    expect(as('kms:ScheduleKeyDeletion', key, { resource: keyPolicy!, resourcePolicyRequired: true }).reason).toBe(
      'because no identity-based policy allows the kms:ScheduleKeyDeletion action',
    );
  });

  it('issue 10: a grant of GetItem, PutItem, UpdateItem and ConditionCheckItem does not cover BatchGetItem or DeleteItem', () => {
    // Hand-written, as grantLedgerWrite granted before issue 10 (GRANTS fixes the app's grant; this pins the rule).
    const grant = policy({
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
      Resource: ledgerTable,
    });
    const check = (action: string) => evaluate({ principal, action, resource: ledgerTable, context: {} }, { identity: [grant] });
    expect(check('dynamodb:BatchGetItem')).toEqual({
      decision: 'ImplicitDeny',
      reason: 'because no identity-based policy allows the dynamodb:BatchGetItem action',
    });
    expect(check('dynamodb:DeleteItem').decision).toBe('ImplicitDeny');
    expect(check('dynamodb:GetItem').decision).toBe('Allow');
  });
});
