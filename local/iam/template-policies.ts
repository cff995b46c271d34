import type { TemplateResolver } from '../template/resolver.js';
import { awsManagedPolicy } from './managed-policies.js';
import type { PolicyDocument } from './types.js';

/** The identity-based policies of one IAM role of a template. */
export interface RolePolicies {
  readonly roleArn: string;
  readonly roleName: string;
  readonly logicalId: string;
  readonly stackName: string;
  /** Each policy with where it comes from (`Policies[0] (name)`, `AWS::IAM::Policy X`, `arn:aws:iam::aws:policy/…`). */
  readonly policies: { readonly source: string; readonly document: PolicyDocument }[];
}

/**
 * What the templates say about access: each role's identity policies, each function's role, the resource policies
 * of queues (AWS::SQS::QueuePolicy) and keys (KeyPolicy of AWS::KMS::Key), and which queues are encrypted with a
 * customer-managed key of the template. Filled stack by stack with {@link readTemplatePolicies}.
 */
export class TemplatePolicies {
  public readonly roles = new Map<string, RolePolicies>();
  /** Function ARN → execution role ARN. */
  public readonly functionRoles = new Map<string, string>();
  /** Resource ARN (queue, key) → its resource-based policy (statements of several QueuePolicy resources merged). */
  public readonly resourcePolicies = new Map<string, PolicyDocument>();
  /** Queue ARN → ARN of the customer-managed key it is encrypted with (SQS-managed and AWS-managed keys: absent). */
  public readonly queueKeys = new Map<string, string>();
  /** ARNs of the customer-managed keys of the templates. */
  public readonly keys = new Set<string>();
  /** What could not be read (printed at start; a policy that cannot be resolved grants nothing). */
  public readonly notes: string[] = [];

  /** The identity policies of a role (empty for a role the templates do not define). */
  public identityPolicies(roleArn: string): PolicyDocument[] {
    return this.roles.get(roleArn)?.policies.map((p) => p.document) ?? [];
  }

  private addResourcePolicy(arn: string, document: PolicyDocument): void {
    const existing = this.resourcePolicies.get(arn);
    if (!existing) {
      this.resourcePolicies.set(arn, document);
      return;
    }
    this.resourcePolicies.set(arn, { Version: existing.Version ?? document.Version, Statement: [...statements(existing), ...statements(document)] });
  }

  /**
   * Reads one stack's IAM roles (inline Policies, ManagedPolicyArns with AWS managed policies from a built-in table),
   * AWS::IAM::Policy and AWS::IAM::ManagedPolicy attached to them, functions' roles, queue policies, key policies and
   * queue encryption keys, with every intrinsic resolved.
   */
  public read(resolver: TemplateResolver, stackName: string): void {
    const resources = Object.entries(resolver.template.Resources ?? {}).filter(([id]) => resolver.isEnabled(id));
    const roleArnByName = new Map<string, string>();
    const roleByRef = (ref: unknown): RolePolicies | undefined => {
      const text = String(ref);
      const arn = text.startsWith('arn:') ? text : roleArnByName.get(text);
      return arn ? this.roles.get(arn) : undefined;
    };
    const attempt = <T>(what: string, read: () => T): T | undefined => {
      try {
        return read();
      } catch (error) {
        this.notes.push(`${stackName} ${what}: ${(error as Error).message} (it grants nothing locally)`);
        return undefined;
      }
    };
    const managedPolicies = new Map<string, { source: string; document: PolicyDocument }>();

    for (const [logicalId, resource] of resources) {
      if (resource.Type === 'AWS::KMS::Key') {
        const identity = resolver.identity(logicalId);
        const keyArn = identity.attributes.Arn!;
        this.keys.add(keyArn);
        const policy = attempt(`${logicalId}.KeyPolicy`, () => resolver.resolve(resource.Properties?.KeyPolicy, `Resources.${logicalId}.Properties.KeyPolicy`));
        // A key without a policy gets the default one: the account root, i.e. IAM policies decide.
        this.addResourcePolicy(keyArn, policy ? (policy as PolicyDocument) : defaultKeyPolicy(keyArn));
      }
      if (resource.Type === 'AWS::IAM::ManagedPolicy') {
        const arn = resolver.identity(logicalId).ref;
        const document = attempt(`${logicalId}.PolicyDocument`, () => resolver.resolve(resource.Properties?.PolicyDocument, `Resources.${logicalId}.Properties.PolicyDocument`));
        if (document) managedPolicies.set(arn, { source: `AWS::IAM::ManagedPolicy ${logicalId}`, document: document as PolicyDocument });
      }
    }
    for (const [logicalId, resource] of resources) {
      if (resource.Type !== 'AWS::IAM::Role') continue;
      const identity = resolver.identity(logicalId);
      const role: RolePolicies = { roleArn: identity.attributes.Arn!, roleName: identity.ref, logicalId, stackName, policies: [] };
      roleArnByName.set(identity.ref, role.roleArn);
      this.roles.set(role.roleArn, role);
      const inline = (attempt(`${logicalId}.Policies`, () => resolver.resolve(resource.Properties?.Policies ?? [], `Resources.${logicalId}.Properties.Policies`)) ?? []) as {
        PolicyName?: string;
        PolicyDocument?: PolicyDocument;
      }[];
      inline.forEach((policy, i) => policy.PolicyDocument && role.policies.push({ source: `${logicalId}.Policies[${i}] ${policy.PolicyName ?? ''}`.trim(), document: policy.PolicyDocument }));
      const arns = (attempt(`${logicalId}.ManagedPolicyArns`, () => resolver.resolve(resource.Properties?.ManagedPolicyArns ?? [], `Resources.${logicalId}.Properties.ManagedPolicyArns`)) ?? []) as string[];
      for (const arn of arns) {
        const document = awsManagedPolicy(arn) ?? managedPolicies.get(arn)?.document;
        if (document) role.policies.push({ source: arn, document });
        else this.notes.push(`${stackName} ${logicalId}: managed policy ${arn} is not known locally (it grants nothing locally; add it to local/iam/managed-policies.ts)`);
      }
    }
    for (const [logicalId, resource] of resources) {
      const path = `Resources.${logicalId}.Properties`;
      if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
        const document = (resource.Type === 'AWS::IAM::Policy'
          ? attempt(`${logicalId}.PolicyDocument`, () => resolver.resolve(resource.Properties?.PolicyDocument, `${path}.PolicyDocument`))
          : managedPolicies.get(resolver.identity(logicalId).ref)?.document) as PolicyDocument | undefined;
        const roles = (attempt(`${logicalId}.Roles`, () => resolver.resolve(resource.Properties?.Roles ?? [], `${path}.Roles`)) ?? []) as unknown[];
        for (const ref of roles) {
          const role = roleByRef(ref);
          if (role && document) role.policies.push({ source: `${resource.Type} ${logicalId}`, document });
        }
      } else if (resource.Type === 'AWS::Lambda::Function') {
        const roleArn = attempt(`${logicalId}.Role`, () => resolver.resolve(resource.Properties?.Role, `${path}.Role`));
        if (typeof roleArn === 'string') this.functionRoles.set(resolver.identity(logicalId).attributes.Arn!, roleArn);
      } else if (resource.Type === 'AWS::SQS::QueuePolicy') {
        const p = attempt(`${logicalId}`, () => resolver.resolve(resource.Properties ?? {}, path)) as { PolicyDocument?: PolicyDocument; Queues?: string[] } | undefined;
        for (const url of p?.Queues ?? []) {
          const arn = queueArnFromUrl(url, resolver);
          if (arn && p?.PolicyDocument) this.addResourcePolicy(arn, p.PolicyDocument);
        }
      } else if (resource.Type === 'AWS::SQS::Queue') {
        const keyRef = attempt(`${logicalId}.KmsMasterKeyId`, () => resolver.resolve(resource.Properties?.KmsMasterKeyId, `${path}.KmsMasterKeyId`));
        const keyArn = typeof keyRef === 'string' ? this.customerKeyArn(keyRef, resolver, resources) : undefined;
        if (keyArn) this.queueKeys.set(resolver.identity(logicalId).attributes.Arn!, keyArn);
      }
    }
  }

  /** The ARN of the template key a KmsMasterKeyId names (key id, key ARN or an alias of the template); else undefined. */
  private customerKeyArn(ref: string, resolver: TemplateResolver, resources: [string, { Type: string; Properties?: Record<string, unknown> }][]): string | undefined {
    for (const arn of this.keys) if (arn === ref || arn.endsWith(`/${ref}`)) return arn;
    for (const [logicalId, resource] of resources) {
      if (resource.Type !== 'AWS::KMS::Alias') continue;
      const alias = resolver.resolve(resource.Properties?.AliasName, `Resources.${logicalId}.Properties.AliasName`);
      if (alias === ref || (typeof alias === 'string' && ref.endsWith(`:${alias}`))) {
        const target = String(resolver.resolve(resource.Properties?.TargetKeyId, `Resources.${logicalId}.Properties.TargetKeyId`));
        return this.customerKeyArn(target, resolver, []);
      }
    }
    return undefined;
  }
}

/** Reads one stack into `policies` (see {@link TemplatePolicies.read}). */
export function readTemplatePolicies(policies: TemplatePolicies, resolver: TemplateResolver, stackName: string): void {
  policies.read(resolver, stackName);
}

/** The statements of a policy document as a list. */
export function statements(document: PolicyDocument): readonly import('./types.js').PolicyStatement[] {
  return Array.isArray(document.Statement) ? (document.Statement as import('./types.js').PolicyStatement[]) : [document.Statement as import('./types.js').PolicyStatement];
}

/** The key policy KMS gives a key created without one: the account root may do everything, so IAM policies decide. */
function defaultKeyPolicy(keyArn: string): PolicyDocument {
  const account = keyArn.split(':')[4];
  return { Version: '2012-10-17', Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' }] };
}

/** `…/<account>/<name>` → `arn:aws:sqs:<region>:<account>:<name>`, using the resolver's region and partition. */
function queueArnFromUrl(url: string, resolver: TemplateResolver): string | undefined {
  const match = /\/(\d{12})\/([^/?]+)\/?$/.exec(url);
  if (!match) return undefined;
  const arn = resolver.resolve({ 'Fn::Sub': `arn:\${AWS::Partition}:sqs:\${AWS::Region}:${match[1]}:${match[2]}` }, 'QueuePolicy.Queues');
  return String(arn);
}
