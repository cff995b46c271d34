import type { PolicyDocument } from '../../../local/iam/index.js';
import { paymentsStack } from '../../infra/support.js';

/** The account and region the fixtures resolve the template into. */
export const ACCOUNT = '000000000000';
export const REGION = 'us-east-1';

interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

/** ARN format of `Fn::GetAtt X.Arn` per resource type (the logical id stands in for the physical name). */
const ARN_OF: Record<string, (id: string) => string> = {
  'AWS::DynamoDB::Table': (id) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${id}`,
  'AWS::SQS::Queue': (id) => `arn:aws:sqs:${REGION}:${ACCOUNT}:${id}`,
  'AWS::KMS::Key': (id) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`,
  'AWS::Logs::LogGroup': (id) => `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${id}:*`,
  'AWS::SNS::Topic': (id) => `arn:aws:sns:${REGION}:${ACCOUNT}:${id}`,
  'AWS::SecretsManager::Secret': (id) => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${id}-AbCdEf`,
  'AWS::Lambda::Function': (id) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${id}`,
  'AWS::IAM::Role': (id) => `arn:aws:iam::${ACCOUNT}:role/${id}`,
};

/**
 * Resolves the intrinsics IAM policies in this app use (Ref, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split,
 * pseudo parameters) with logical ids as physical names. Deliberately small: the gateway's resolver is GATE's.
 */
export function resolveIntrinsics(value: unknown, resources: Record<string, Resource>): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, resources));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [[name, arg]] = entries as [[string, unknown]];
    if (name === 'Ref') {
      const ref = arg as string;
      if (ref === 'AWS::Partition') return 'aws';
      if (ref === 'AWS::Region') return REGION;
      if (ref === 'AWS::AccountId') return ACCOUNT;
      if (ref === 'AWS::URLSuffix') return 'amazonaws.com';
      const type = resources[ref]?.Type;
      if (type === 'AWS::SQS::Queue') return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${ref}`;
      if (type === 'AWS::SNS::Topic' || type === 'AWS::SecretsManager::Secret') return ARN_OF[type]!(ref);
      return ref;
    }
    if (name === 'Fn::GetAtt') {
      const [id, attribute] = (typeof arg === 'string' ? arg.split('.') : arg) as [string, string];
      const type = resources[id]?.Type ?? '';
      const arn = ARN_OF[type]?.(id) ?? `arn:aws:unknown:${REGION}:${ACCOUNT}:${id}`;
      if (attribute === 'StreamArn') return `${arn}/stream/2026-01-01T00:00:00.000`;
      return type === 'AWS::Logs::LogGroup' ? arn : arn;
    }
    if (name === 'Fn::Join') {
      const [separator, parts] = arg as [string, unknown[]];
      return parts.map((p) => resolveIntrinsics(p, resources)).join(separator);
    }
    if (name === 'Fn::Select') {
      const [index, items] = arg as [number, unknown];
      return (resolveIntrinsics(items, resources) as unknown[])[Number(index)];
    }
    if (name === 'Fn::Split') {
      const [separator, source] = arg as [string, unknown];
      return String(resolveIntrinsics(source, resources)).split(separator);
    }
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveIntrinsics(v, resources)]));
}

/** The payments stack's IAM, resolved: identity policies per role logical id, and resource policies. */
export interface AppPolicies {
  readonly identity: ReadonlyMap<string, PolicyDocument[]>;
  /** AWS::IAM::Policy logical id → its document and the roles it is attached to. */
  readonly policies: ReadonlyMap<string, { document: PolicyDocument; roles: string[] }>;
  readonly queuePolicies: ReadonlyMap<string, PolicyDocument>;
  readonly topicPolicies: ReadonlyMap<string, PolicyDocument>;
  readonly keyPolicies: ReadonlyMap<string, PolicyDocument>;
  readonly resources: Record<string, Resource>;
}

/** Synthesizes the payments stack once (as test/infra does) and resolves its policies. */
export function appPolicies(context: Record<string, unknown> = {}): AppPolicies {
  const { template } = paymentsStack(context);
  const resources = (template.toJSON() as { Resources: Record<string, Resource> }).Resources;
  const identity = new Map<string, PolicyDocument[]>();
  const policies = new Map<string, { document: PolicyDocument; roles: string[] }>();
  const queuePolicies = new Map<string, PolicyDocument>();
  const topicPolicies = new Map<string, PolicyDocument>();
  const keyPolicies = new Map<string, PolicyDocument>();
  for (const [id, resource] of Object.entries(resources)) {
    const props = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Policy') {
      const document = { Id: id, ...(resolveIntrinsics(props.PolicyDocument, resources) as PolicyDocument) };
      const roles = ((props.Roles as { Ref: string }[] | undefined) ?? []).map((r) => r.Ref);
      policies.set(id, { document, roles });
      for (const role of roles) identity.set(role, [...(identity.get(role) ?? []), document]);
    } else if (resource.Type === 'AWS::SQS::QueuePolicy') {
      const document = resolveIntrinsics(props.PolicyDocument, resources) as PolicyDocument;
      for (const queue of props.Queues as { Ref: string }[]) queuePolicies.set(ARN_OF['AWS::SQS::Queue']!(queue.Ref), document);
    } else if (resource.Type === 'AWS::SNS::TopicPolicy') {
      const document = resolveIntrinsics(props.PolicyDocument, resources) as PolicyDocument;
      for (const topic of props.Topics as { Ref: string }[]) topicPolicies.set(ARN_OF['AWS::SNS::Topic']!(topic.Ref), document);
    } else if (resource.Type === 'AWS::KMS::Key' && props.KeyPolicy) {
      keyPolicies.set(ARN_OF['AWS::KMS::Key']!(id), resolveIntrinsics(props.KeyPolicy, resources) as PolicyDocument);
    }
  }
  return { identity, policies, queuePolicies, topicPolicies, keyPolicies, resources };
}

/** The logical id of the first resource of `type` whose id starts with `prefix`. */
export function logicalId(app: AppPolicies, type: string, prefix: string): string {
  const id = Object.keys(app.resources).find((k) => app.resources[k]!.Type === type && k.startsWith(prefix));
  if (!id) throw new Error(`no ${type} whose logical id starts with ${prefix}`);
  return id;
}

/** The ARN the fixtures give a resource. */
export const arnOf = (app: AppPolicies, id: string): string => ARN_OF[app.resources[id]!.Type]!(id);
