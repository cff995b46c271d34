import { evaluate } from '../../local/iam/evaluate.js';
import type { ApplicablePolicies, AuthorizationRequest, Decision, PolicyDocument, PolicyStatement } from '../../local/iam/types.js';
import { TemplateResolver } from '../../local/template/resolver.js';
import type { CfnTemplate } from '../../local/template/types.js';

/**
 * Every service-to-resource integration of a template, judged by the same policy evaluation the local gateway uses
 * (`local/iam/evaluate.ts`, AWS's evaluation logic): nothing here runs on AWS's side locally — no alarm publishes, no
 * API Gateway invokes through a resource policy — so the template is the only place these permissions can be checked.
 *
 * - alarm action → SNS topic: `cloudwatch.amazonaws.com` sns:Publish under the topic policy (SNS's default policy
 *   when the template has none), from the alarm (`aws:SourceArn`) of this account (`aws:SourceAccount`); a topic
 *   encrypted with a key of the template also needs kms:GenerateDataKey and kms:Decrypt under the key policy;
 * - API Gateway method → Lambda: `apigateway.amazonaws.com` lambda:InvokeFunction under the function's resource
 *   policy (its AWS::Lambda::Permission resources), from the method ARN of every stage;
 * - EventBridge rule → Lambda: `events.amazonaws.com` lambda:InvokeFunction, from the rule's ARN;
 * - EventBridge Scheduler schedule → Lambda: `scheduler.amazonaws.com` sts:AssumeRole under the target role's trust
 *   policy, then the role's lambda:InvokeFunction under its identity policies;
 * - event source mapping → function role (C5): what the poller calls with the role (SQS: ReceiveMessage,
 *   DeleteMessage, GetQueueAttributes; streams: DescribeStream, GetRecords, GetShardIterator, ListStreams), the
 *   on-failure destination's SendMessage, under the role's identity policies, the queue policy (with its TLS deny)
 *   and, for a customer-managed key, the key policy (C4).
 */

/** The account, region and partition templates are resolved in. */
export const INTEGRATION_CONTEXT = { accountId: '123456789012', region: 'eu-west-1', partition: 'aws', stackName: 'Stack' } as const;

/** One authorization an AWS service (or a role used by one) needs for an integration to work. */
export interface Integration {
  /** `alarm → SNS`, `alarm → KMS`, `API → Lambda`, `rule → Lambda`, `mapping → SQS`, `mapping → stream`, `mapping → KMS`, … */
  readonly kind: string;
  /** Which resources, by logical id: `PaymentsDlqNotEmpty → AlarmTopic`. */
  readonly between: string;
  readonly request: AuthorizationRequest;
  readonly policies: ApplicablePolicies;
}

/** An integration with its decision. */
export interface JudgedIntegration extends Integration {
  readonly decision: Decision;
}

/** What {@link serviceIntegrations} found. */
export interface TemplateIntegrations {
  readonly integrations: readonly Integration[];
  /** Targets outside the template (an imported alarm topic): their policies are not in it, so they are not judged. */
  readonly external: readonly string[];
}

type Resource = { Type: string; Properties?: any; Condition?: string };

const asArray = <T>(v: T | readonly T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? [...v] : [v as T]);

function findGetAtt(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) findGetAtt(v, found);
  else if (value && typeof value === 'object') {
    const getAtt = (value as Record<string, unknown>)['Fn::GetAtt'];
    if (Array.isArray(getAtt) && getAtt[1] === 'Arn') found.push(String(getAtt[0]));
    for (const v of Object.values(value)) findGetAtt(v, found);
  }
  return found;
}

/** SNS's default topic policy: every principal of the owning account (AWS:SourceOwner) may publish. */
function defaultTopicPolicy(topicArn: string, accountId: string): PolicyDocument {
  return {
    Version: '2008-10-17',
    Statement: [
      {
        Sid: '__default_statement_ID',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: ['SNS:Publish', 'SNS:GetTopicAttributes', 'SNS:Subscribe'],
        Resource: topicArn,
        Condition: { StringEquals: { 'AWS:SourceOwner': accountId } },
      },
    ],
  };
}

/** A key without KeyPolicy gets KMS's default one: the account root, i.e. IAM policies decide. */
function defaultKeyPolicy(accountId: string, partition: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:${partition}:iam::${accountId}:root` }, Action: 'kms:*', Resource: '*' }],
  };
}

/** Lists (does not judge) every service integration of `template`. */
export function serviceIntegrations(template: CfnTemplate, context = INTEGRATION_CONTEXT): TemplateIntegrations {
  const { accountId, region, partition } = context;
  const resolver = new TemplateResolver(template, { ...context, sqsEndpoint: 'http://127.0.0.1:1' });
  const resources = Object.entries((template.Resources ?? {}) as Record<string, Resource>).filter(([id]) => resolver.isEnabled(id));
  const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
  const resolve = (value: unknown, path: string) => resolver.resolve(value, path);
  // Tables' StreamArn is known only once a table exists; give the ARN AWS's shape.
  for (const [id, r] of ofType('AWS::DynamoDB::Table')) {
    const identity = resolver.identity(id);
    if (r.Properties?.StreamSpecification) {
      resolver.setIdentity(id, { ...identity, attributes: { ...identity.attributes, StreamArn: `${identity.attributes.Arn}/stream/2026-01-01T00:00:00.000` } });
    }
  }
  // EventBridge rules have no local identity; give them AWS's ARN shape so permissions and targets can name them.
  for (const [id, r] of ofType('AWS::Events::Rule')) {
    const identity = resolver.identity(id);
    const name = String(r.Properties?.Name ?? identity.ref);
    resolver.setIdentity(id, { ...identity, ref: name, attributes: { ...identity.attributes, Arn: `arn:${partition}:events:${region}:${accountId}:rule/${name}` } });
  }
  const arnOf = (id: string) => resolver.identity(id).attributes.Arn ?? resolver.identity(id).attributes.TopicArn ?? resolver.identity(id).ref;
  const service = (name: string) => ({ type: 'Service' as const, arn: name });
  const external: string[] = [];
  const integrations: Integration[] = [];

  // --- resource policies of the template ---------------------------------------------------------------------------
  const topicPolicies = new Map<string, PolicyStatement[]>();
  for (const [id, r] of ofType('AWS::SNS::TopicPolicy')) {
    const document = resolve(r.Properties.PolicyDocument, `Resources.${id}.Properties.PolicyDocument`) as PolicyDocument;
    for (const topic of asArray(resolve(r.Properties.Topics, `Resources.${id}.Properties.Topics`) as string[])) {
      topicPolicies.set(topic, [...(topicPolicies.get(topic) ?? []), ...asArray(document.Statement)]);
    }
  }
  const keyPolicies = new Map<string, PolicyDocument>();
  for (const [id, r] of ofType('AWS::KMS::Key')) {
    keyPolicies.set(
      arnOf(id),
      r.Properties?.KeyPolicy ? (resolve(r.Properties.KeyPolicy, `Resources.${id}.Properties.KeyPolicy`) as PolicyDocument) : defaultKeyPolicy(accountId, partition),
    );
  }
  const keyOf = (value: unknown, path: string): string | undefined => {
    if (value === undefined) return undefined;
    const resolved = String(resolve(value, path));
    return keyPolicies.has(resolved) ? resolved : undefined;
  };
  const queuePolicies = new Map<string, PolicyStatement[]>();
  const queueArnByUrl = new Map(ofType('AWS::SQS::Queue').map(([id]) => [resolver.identity(id).ref, arnOf(id)]));
  const queueKeys = new Map<string, string>();
  for (const [id, r] of ofType('AWS::SQS::Queue')) {
    const key = keyOf(r.Properties?.KmsMasterKeyId, `Resources.${id}.Properties.KmsMasterKeyId`);
    if (key) queueKeys.set(arnOf(id), key);
  }
  for (const [id, r] of ofType('AWS::SQS::QueuePolicy')) {
    const document = resolve(r.Properties.PolicyDocument, `Resources.${id}.Properties.PolicyDocument`) as PolicyDocument;
    for (const url of asArray(resolve(r.Properties.Queues, `Resources.${id}.Properties.Queues`) as string[])) {
      const arn = queueArnByUrl.get(url) ?? url;
      queuePolicies.set(arn, [...(queuePolicies.get(arn) ?? []), ...asArray(document.Statement)]);
    }
  }
  // A function's resource policy: its AWS::Lambda::Permission resources, as Lambda writes them (SourceArn → ArnLike,
  // SourceAccount → StringEquals).
  const functionArns = new Map(ofType('AWS::Lambda::Function').map(([id]) => [id, arnOf(id)]));
  const functionPolicies = new Map<string, PolicyStatement[]>();
  for (const [id, r] of ofType('AWS::Lambda::Permission')) {
    const p = resolve(r.Properties, `Resources.${id}.Properties`) as Record<string, string>;
    const fnArn = [...functionArns.values()].find((arn) => arn === p.FunctionName || arn.endsWith(`:function:${p.FunctionName}`)) ?? p.FunctionName;
    const principal: Record<string, string> = /^\d{12}$|^arn:/.test(p.Principal) ? { AWS: p.Principal } : { Service: p.Principal };
    const condition: Record<string, Record<string, string>> = {};
    if (p.SourceArn) condition.ArnLike = { 'aws:SourceArn': p.SourceArn };
    if (p.SourceAccount) condition.StringEquals = { 'aws:SourceAccount': p.SourceAccount };
    functionPolicies.set(fnArn, [
      ...(functionPolicies.get(fnArn) ?? []),
      { Sid: id, Effect: 'Allow', Principal: principal, Action: p.Action, Resource: fnArn, ...(p.SourceArn || p.SourceAccount ? { Condition: condition } : {}) },
    ]);
  }
  const functionPolicy = (fnArn: string): PolicyDocument => ({ Version: '2012-10-17', Statement: functionPolicies.get(fnArn) ?? [] });

  // --- identity policies of the template's roles ------------------------------------------------------------------
  const identity = new Map<string, PolicyDocument[]>();
  const addIdentity = (roleArn: string, document: PolicyDocument) => identity.set(roleArn, [...(identity.get(roleArn) ?? []), document]);
  for (const [id, r] of ofType('AWS::IAM::Role')) {
    for (const [i, policy] of asArray<any>(r.Properties?.Policies).entries()) {
      addIdentity(arnOf(id), resolve(policy.PolicyDocument, `Resources.${id}.Properties.Policies.${i}`) as PolicyDocument);
    }
  }
  const roleArnByName = new Map(ofType('AWS::IAM::Role').map(([id]) => [resolver.identity(id).ref, arnOf(id)]));
  for (const [id, r] of ofType('AWS::IAM::Policy')) {
    const document = resolve(r.Properties.PolicyDocument, `Resources.${id}.Properties.PolicyDocument`) as PolicyDocument;
    for (const name of asArray(resolve(r.Properties.Roles, `Resources.${id}.Properties.Roles`) as string[])) {
      addIdentity(roleArnByName.get(name) ?? name, document);
    }
  }

  const serviceContext = (sourceArn: string) => ({ 'aws:SourceArn': sourceArn, 'aws:SourceAccount': accountId, 'aws:SecureTransport': true });

  // --- alarm actions → SNS (and its key) --------------------------------------------------------------------------
  const topicArns = new Map(ofType('AWS::SNS::Topic').map(([id, r]) => [arnOf(id), { id, r }]));
  for (const [alarmId, r] of ofType('AWS::CloudWatch::Alarm')) {
    const alarmArn = arnOf(alarmId);
    const actions = new Set(
      ['AlarmActions', 'OKActions', 'InsufficientDataActions'].flatMap(
        (p) => asArray(resolve(r.Properties?.[p], `Resources.${alarmId}.Properties.${p}`) as string[] | undefined) as string[],
      ),
    );
    for (const action of actions) {
      if (!/^arn:[^:]+:sns:/.test(action)) continue;
      const topic = topicArns.get(action);
      if (!topic) {
        external.push(`${alarmId} → ${action}`);
        continue;
      }
      const policy = topicPolicies.has(action)
        ? { Version: '2012-10-17', Statement: topicPolicies.get(action)! }
        : defaultTopicPolicy(action, accountId);
      const between = `${alarmId} → ${topic.id}`;
      integrations.push({
        kind: 'alarm → SNS',
        between,
        request: { principal: service('cloudwatch.amazonaws.com'), action: 'sns:Publish', resource: action, context: { ...serviceContext(alarmArn), 'aws:SourceOwner': accountId } },
        policies: { identity: [], resource: policy, resourceAccountId: accountId },
      });
      const key = keyOf(topic.r.Properties?.KmsMasterKeyId, `Resources.${topic.id}.Properties.KmsMasterKeyId`);
      for (const kmsAction of key ? ['kms:GenerateDataKey', 'kms:Decrypt'] : []) {
        integrations.push({
          kind: 'alarm → KMS',
          between: `${between} (key)`,
          request: { principal: service('cloudwatch.amazonaws.com'), action: kmsAction, resource: key!, context: serviceContext(alarmArn) },
          policies: { identity: [], resource: keyPolicies.get(key!), resourceAccountId: accountId, resourcePolicyRequired: true },
        });
      }
    }
  }

  // --- API Gateway methods → Lambda ------------------------------------------------------------------------------
  const pathOf = (resourceId: unknown): string => {
    const ref = (resourceId as { Ref?: string })?.Ref;
    if (!ref) return ''; // Fn::GetAtt RootResourceId
    const r = (template.Resources as Record<string, Resource>)[ref];
    const part = String(r.Properties.PathPart).replace(/^\{.+\}$/, 'example');
    return `${pathOf(r.Properties.ParentId)}/${part}`;
  };
  const stages = ofType('AWS::ApiGateway::Stage').map(([id, r]) => ({
    api: (r.Properties.RestApiId as { Ref: string }).Ref,
    name: String(resolve(r.Properties.StageName, `Resources.${id}.Properties.StageName`)),
  }));
  for (const [methodId, r] of ofType('AWS::ApiGateway::Method')) {
    const integration = r.Properties?.Integration;
    if (integration?.Type !== 'AWS_PROXY' && integration?.Type !== 'AWS') continue;
    const fnId = findGetAtt(integration.Uri).find((id) => functionArns.has(id));
    if (!fnId) continue;
    const apiId = (r.Properties.RestApiId as { Ref: string }).Ref;
    const fnArn = functionArns.get(fnId)!;
    for (const stage of stages.filter((s) => s.api === apiId)) {
      const sourceArn = `arn:${partition}:execute-api:${region}:${accountId}:${resolver.identity(apiId).ref}/${stage.name}/${r.Properties.HttpMethod}${pathOf(r.Properties.ResourceId) || '/'}`;
      integrations.push({
        kind: 'API → Lambda',
        between: `${methodId} (${stage.name}) → ${fnId}`,
        request: { principal: service('apigateway.amazonaws.com'), action: 'lambda:InvokeFunction', resource: fnArn, context: serviceContext(sourceArn) },
        policies: { identity: [], resource: functionPolicy(fnArn), resourceAccountId: accountId },
      });
    }
  }

  // --- EventBridge rules → Lambda ----------------------------------------------------------------------------------
  for (const [ruleId, r] of ofType('AWS::Events::Rule')) {
    const ruleArn = arnOf(ruleId);
    for (const [i, target] of asArray<any>(r.Properties?.Targets).entries()) {
      const arn = String(resolve(target.Arn, `Resources.${ruleId}.Properties.Targets.${i}.Arn`));
      const fnId = [...functionArns].find(([, a]) => a === arn)?.[0];
      if (!fnId) continue;
      integrations.push({
        kind: 'rule → Lambda',
        between: `${ruleId} → ${fnId}`,
        request: { principal: service('events.amazonaws.com'), action: 'lambda:InvokeFunction', resource: arn, context: serviceContext(ruleArn) },
        policies: { identity: [], resource: functionPolicy(arn), resourceAccountId: accountId },
      });
    }
  }

  // --- EventBridge Scheduler schedules → Lambda, through the schedule's role ------------------------------------
  // The scheduler assumes the target's role (the role's trust policy must let scheduler.amazonaws.com do it), then
  // invokes with the role's identity policies.
  const roles = new Map(ofType('AWS::IAM::Role').map(([id, r]) => [arnOf(id), { id, r }]));
  for (const [scheduleId, r] of ofType('AWS::Scheduler::Schedule')) {
    const target = resolve(r.Properties?.Target, `Resources.${scheduleId}.Properties.Target`) as { Arn: string; RoleArn: string };
    const fnId = [...functionArns].find(([, a]) => a === target.Arn)?.[0];
    if (!fnId) continue;
    // The scheduler names the schedule group as the source when it assumes the role (CDK's trust policy conditions on it).
    const group = String(r.Properties?.GroupName ? resolve(r.Properties.GroupName, `Resources.${scheduleId}.Properties.GroupName`) : 'default');
    const groupArn = `arn:${partition}:scheduler:${region}:${accountId}:schedule-group/${group}`;
    const role = roles.get(target.RoleArn);
    const trust = role
      ? (resolve(role.r.Properties.AssumeRolePolicyDocument, `Resources.${role.id}.Properties.AssumeRolePolicyDocument`) as PolicyDocument)
      : undefined;
    integrations.push({
      kind: 'schedule → role',
      between: `${scheduleId} → ${role?.id ?? target.RoleArn}`,
      request: { principal: service('scheduler.amazonaws.com'), action: 'sts:AssumeRole', resource: target.RoleArn, context: serviceContext(groupArn) },
      policies: { identity: [], resource: trust, resourceAccountId: accountId },
    });
    integrations.push({
      kind: 'schedule → Lambda',
      between: `${scheduleId} → ${fnId}`,
      request: {
        principal: { type: 'AWS', arn: target.RoleArn, accountId },
        action: 'lambda:InvokeFunction',
        resource: target.Arn,
        context: { 'aws:SecureTransport': true, 'aws:PrincipalArn': target.RoleArn, 'aws:PrincipalAccount': accountId },
      },
      policies: { identity: identity.get(target.RoleArn) ?? [], resource: functionPolicy(target.Arn), resourceAccountId: accountId },
    });
  }

  // --- event source mappings → the function's role (C5), its queue policy and key (C3, C4) ----------------------
  const roleOfFunction = new Map(
    ofType('AWS::Lambda::Function').map(([id, r]) => [id, String(resolve(r.Properties.Role, `Resources.${id}.Properties.Role`))]),
  );
  for (const [mappingId, r] of ofType('AWS::Lambda::EventSourceMapping')) {
    const fnId = (r.Properties.FunctionName as { Ref?: string }).Ref;
    const roleArn = fnId ? roleOfFunction.get(fnId) : undefined;
    if (!roleArn) continue;
    const principal = { type: 'AWS' as const, arn: roleArn, accountId };
    const roleContext = { 'aws:SecureTransport': true, 'aws:PrincipalArn': roleArn, 'aws:PrincipalAccount': accountId };
    const asRole = (kind: string, action: string, resource: string, resourcePolicy?: PolicyDocument, extra = {}) =>
      integrations.push({
        kind,
        between: `${mappingId} (${fnId}) → ${resource.split(':').slice(5).join(':') || resource}`,
        request: { principal, action, resource, context: { ...roleContext, ...extra } },
        policies: { identity: identity.get(roleArn) ?? [], resource: resourcePolicy, resourceAccountId: accountId, resourcePolicyRequired: action.startsWith('kms:') },
      });
    const queueDocument = (arn: string) => (queuePolicies.has(arn) ? { Version: '2012-10-17', Statement: queuePolicies.get(arn)! } : undefined);
    const viaSqs = { 'kms:ViaService': `sqs.${region}.amazonaws.com`, 'kms:CallerAccount': accountId };
    const source = String(resolve(r.Properties.EventSourceArn, `Resources.${mappingId}.Properties.EventSourceArn`));
    if (source.includes(':sqs:')) {
      for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']) asRole('mapping → SQS', action, source, queueDocument(source));
      const key = queueKeys.get(source);
      if (key) asRole('mapping → KMS', 'kms:Decrypt', key, keyPolicies.get(key), viaSqs);
    } else if (source.includes('/stream/')) {
      for (const action of ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator']) asRole('mapping → stream', action, source);
      asRole('mapping → stream', 'dynamodb:ListStreams', '*');
    }
    const destination = r.Properties.DestinationConfig?.OnFailure?.Destination;
    if (destination) {
      const arn = String(resolve(destination, `Resources.${mappingId}.Properties.DestinationConfig.OnFailure.Destination`));
      asRole('mapping → destination', 'sqs:SendMessage', arn, queueDocument(arn));
      const key = queueKeys.get(arn);
      for (const action of key ? ['kms:GenerateDataKey', 'kms:Decrypt'] : []) asRole('mapping → KMS', action, key!, keyPolicies.get(key!), viaSqs);
    }
  }
  return { integrations, external };
}

/** Judges every integration with the local evaluator. */
export function judge(integrations: readonly Integration[]): JudgedIntegration[] {
  return integrations.map((i) => ({ ...i, decision: evaluate(i.request, i.policies) }));
}

/** The integrations that AWS would refuse, one line each (for assertion messages). */
export function denials(judged: readonly JudgedIntegration[]): string[] {
  return judged
    .filter((j) => j.decision.decision !== 'Allow')
    .map((j) => `${j.kind} ${j.between}: ${j.request.principal.arn} ${j.request.action} on ${j.request.resource}: ${j.decision.reason}`);
}
