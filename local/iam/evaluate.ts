import { compileGlob, conditionsMatch, type ConditionContext, type ContextValue, type VariableResolver } from './conditions.js';
import { PolicyEvaluationError } from './errors.js';
import type {
  ApplicablePolicies,
  AuthorizationRequest,
  Decision,
  PolicyDocument,
  PolicyStatement,
  RequestPrincipal,
} from './types.js';

type PolicyKind = 'identity' | 'resource';
type PrincipalMatch = 'none' | 'direct' | 'account';

/** A statement prepared once per policy document object (documents are cached by identity in a WeakMap). */
interface CompiledStatement {
  readonly label: string;
  readonly effect: 'Allow' | 'Deny';
  readonly exactActions: ReadonlySet<string>;
  readonly actionPatterns: readonly RegExp[];
  readonly notAction: boolean;
  /** undefined: a resource-based statement without Resource — it applies to the resource it is attached to. */
  readonly resources?: readonly string[];
  readonly notResource: boolean;
  readonly principal?: PolicyStatement['Principal'];
  readonly notPrincipal?: PolicyStatement['NotPrincipal'];
  readonly condition?: PolicyStatement['Condition'];
  /** A structural problem: the statement fails closed whenever it is evaluated. */
  readonly error?: string;
}

interface CompiledPolicy {
  readonly statements: readonly CompiledStatement[];
  readonly variables: boolean;
}

const compiled = new WeakMap<PolicyDocument, { identity?: CompiledPolicy; resource?: CompiledPolicy }>();

const asList = (value: string | readonly string[] | undefined): readonly string[] | undefined =>
  value === undefined ? undefined : typeof value === 'string' ? [value] : value;

function compileStatement(statement: PolicyStatement, index: number, kind: PolicyKind, id?: string): CompiledStatement {
  const label = `${id ? `${id}/` : ''}${statement.Sid ? statement.Sid : `Statement[${index}]`}`;
  const actions = asList(statement.Action) ?? asList(statement.NotAction) ?? [];
  const exactActions = new Set<string>();
  const actionPatterns: RegExp[] = [];
  for (const action of actions) {
    if (typeof action !== 'string') continue;
    if (action.includes('*') || action.includes('?')) actionPatterns.push(compileGlob(action, 'action')!);
    else exactActions.add(action.toLowerCase());
  }
  const problems: string[] = [];
  if (statement.Effect !== 'Allow' && statement.Effect !== 'Deny') {
    problems.push(`its Effect is ${JSON.stringify(statement.Effect)}, not "Allow" or "Deny"`);
  }
  if ((statement.Action === undefined) === (statement.NotAction === undefined)) {
    problems.push('it must have exactly one of Action and NotAction');
  }
  if (statement.Resource !== undefined && statement.NotResource !== undefined) {
    problems.push('it has both Resource and NotResource');
  }
  if (kind === 'identity' && statement.Resource === undefined && statement.NotResource === undefined) {
    problems.push('an identity-based statement needs Resource or NotResource');
  }
  if (kind === 'identity' && (statement.Principal !== undefined || statement.NotPrincipal !== undefined)) {
    problems.push('an identity-based statement cannot have Principal or NotPrincipal');
  }
  if (kind === 'resource' && (statement.Principal === undefined) === (statement.NotPrincipal === undefined)) {
    problems.push('a resource-based statement must have exactly one of Principal and NotPrincipal');
  }
  const resources = asList(statement.Resource) ?? asList(statement.NotResource);
  return {
    label,
    effect: statement.Effect,
    exactActions,
    actionPatterns,
    notAction: statement.NotAction !== undefined,
    ...(resources ? { resources } : {}),
    notResource: statement.NotResource !== undefined,
    ...(statement.Principal !== undefined ? { principal: statement.Principal } : {}),
    ...(statement.NotPrincipal !== undefined ? { notPrincipal: statement.NotPrincipal } : {}),
    ...(statement.Condition !== undefined ? { condition: statement.Condition } : {}),
    ...(problems.length > 0 ? { error: `statement ${label} is invalid: ${problems.join('; ')}` } : {}),
  };
}

function compilePolicy(document: PolicyDocument, kind: PolicyKind): CompiledPolicy {
  let entry = compiled.get(document);
  if (!entry) {
    entry = {};
    compiled.set(document, entry);
  }
  const hit = entry[kind];
  if (hit) return hit;
  const statements = Array.isArray(document.Statement)
    ? (document.Statement as readonly PolicyStatement[])
    : [document.Statement as PolicyStatement];
  const policy: CompiledPolicy = {
    statements: statements.map((s, i) => compileStatement(s, i, kind, document.Id)),
    variables: document.Version === '2012-10-17',
  };
  entry[kind] = policy;
  return policy;
}

const ACCOUNT_ROOT = /^arn:aws[a-z-]*:iam::(\d{12}):root$/;
const ACCOUNT_ID = /^\d{12}$/;
const ASSUMED_ROLE = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/;

/** The account of an AWS principal: given, or the fifth part of its ARN. */
export function principalAccountOf(principal: RequestPrincipal): string | undefined {
  if (principal.accountId) return principal.accountId;
  if (principal.type !== 'AWS') return undefined;
  if (ACCOUNT_ID.test(principal.arn)) return principal.arn;
  const account = principal.arn.split(':')[4];
  return account && ACCOUNT_ID.test(account) ? account : undefined;
}

/** Whether `arn` (from a Principal element) names the calling principal itself, incl. a role's sessions. */
function namesPrincipal(arn: string, principal: RequestPrincipal): boolean {
  if (arn === principal.arn) return true;
  const session = ASSUMED_ROLE.exec(principal.arn);
  if (!session) return false;
  const [, partition, account, role] = session;
  // A role ARN in a resource policy matches the role's sessions; the session ARN drops the role's path.
  return arn.startsWith(`arn:${partition}:iam::${account}:role/`) && arn.endsWith(`/${role}`);
}

/**
 * Matches a Principal element: `direct` when it names the caller ('*', its ARN, a service name), `account` when it
 * names the caller's account (the account principal delegates to the account's identity policies; AWS:
 * "the permissions in the policy statement can be granted to all identities contained in that account" only if
 * their identity policies allow it).
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
 */
function matchPrincipal(
  spec: '*' | Readonly<Record<string, string | readonly string[]>>,
  principal: RequestPrincipal,
  account: string | undefined,
): PrincipalMatch {
  if (spec === '*') return 'direct';
  if (spec === null || typeof spec !== 'object') {
    throw new PolicyEvaluationError(`the Principal ${JSON.stringify(spec)} is neither "*" nor an object`);
  }
  let best: PrincipalMatch = 'none';
  for (const [type, raw] of Object.entries(spec)) {
    const values = asList(raw) ?? [];
    if (type === 'AWS') {
      for (const value of values) {
        if (value === '*') return 'direct';
        if (principal.type !== 'AWS') continue;
        if (namesPrincipal(value, principal)) return 'direct';
        const owner = ACCOUNT_ID.test(value) ? value : ACCOUNT_ROOT.exec(value)?.[1];
        if (owner !== undefined && owner === account) best = 'account';
      }
    } else if (type === 'Service') {
      if (principal.type !== 'Service') continue;
      const name = principal.arn.toLowerCase();
      if (values.some((v) => v === '*' || v.toLowerCase() === name)) return 'direct';
    } else if (type !== 'Federated' && type !== 'CanonicalUser') {
      throw new PolicyEvaluationError(`the Principal type '${type}' is not one AWS documents`);
    }
  }
  return best;
}

/** The request context with AWS's case-insensitive key lookup and the global keys the evaluator can derive. */
class RequestContext implements ConditionContext {
  private lower?: Map<string, ContextValue>;

  public constructor(
    private readonly request: AuthorizationRequest,
    private readonly account: string | undefined,
  ) {}

  public get(key: string): ContextValue {
    const context = this.request.context;
    const exact = Object.hasOwn(context, key) ? context[key] : undefined;
    if (exact !== undefined) return exact;
    if (!this.lower) {
      this.lower = new Map();
      for (const [k, v] of Object.entries(context)) if (v !== undefined) this.lower.set(k.toLowerCase(), v);
    }
    const lowerKey = key.toLowerCase();
    return this.lower.get(lowerKey) ?? this.derived(lowerKey);
  }

  private derived(key: string): ContextValue {
    const principal = this.request.principal;
    const aws = principal.type === 'AWS';
    switch (key) {
      case 'aws:principalarn':
        return aws ? principal.arn : undefined;
      case 'aws:principalaccount':
        return aws ? this.account : undefined;
      case 'aws:principalservicename':
        return aws ? undefined : principal.arn;
      case 'aws:principaltype':
        if (!aws) return undefined;
        if (ACCOUNT_ROOT.test(principal.arn)) return 'Account';
        if (/:assumed-role\/|:role\//.test(principal.arn)) return 'AssumedRole';
        if (/:user\//.test(principal.arn)) return 'User';
        if (/:federated-user\//.test(principal.arn)) return 'FederatedUser';
        return undefined;
      case 'aws:username':
        return aws && /^arn:[^:]+:iam::\d{12}:user\//.test(principal.arn) ? principal.arn.split('/').pop() : undefined;
      case 'aws:currenttime':
        return new Date().toISOString();
      case 'aws:epochtime':
        return Math.floor(Date.now() / 1000);
      default:
        return undefined;
    }
  }
}

function actionMatches(statement: CompiledStatement, action: string): boolean {
  const lower = action.toLowerCase();
  let hit = statement.exactActions.has(lower);
  if (!hit) {
    for (const pattern of statement.actionPatterns) {
      if (pattern.test(action)) {
        hit = true;
        break;
      }
    }
  }
  return statement.notAction ? !hit : hit;
}

function resourceMatches(statement: CompiledStatement, resource: string, resolve: VariableResolver | undefined): boolean {
  if (!statement.resources) return true;
  let hit = false;
  for (const pattern of statement.resources) {
    if (typeof pattern !== 'string') continue;
    if (pattern === '*' || pattern === resource) {
      hit = true;
      break;
    }
    const regex = compileGlob(pattern, 'resource', resolve);
    if (regex && regex.test(resource)) {
      hit = true;
      break;
    }
  }
  return statement.notResource ? !hit : hit;
}

/** How a statement applies to the request: 'none', or how its principal matched (identity statements: 'direct'). */
function applies(
  statement: CompiledStatement,
  kind: PolicyKind,
  request: AuthorizationRequest,
  context: RequestContext,
  account: string | undefined,
  resolve: VariableResolver | undefined,
): PrincipalMatch {
  if (statement.error) throw new PolicyEvaluationError(statement.error);
  if (!actionMatches(statement, request.action)) return 'none';
  if (!resourceMatches(statement, request.resource, resolve)) return 'none';
  let match: PrincipalMatch = 'direct';
  if (kind === 'resource') {
    if (statement.principal !== undefined) {
      match = matchPrincipal(statement.principal, request.principal, account);
    } else {
      // NotPrincipal: the statement applies to everyone the element does not name; an account listed there
      // excludes only the account principal itself, not its users and roles (AWS's NotPrincipal page).
      match = matchPrincipal(statement.notPrincipal!, request.principal, account) === 'direct' ? 'none' : 'direct';
    }
    if (match === 'none') return 'none';
  }
  if (statement.condition && !conditionsMatch(statement.condition, context, resolve)) return 'none';
  return match;
}

const article = (kind: PolicyKind): string => (kind === 'identity' ? 'an identity-based' : 'a resource-based');

/**
 * Decides one authorization as AWS does within an account (and across accounts): an explicit Deny in any
 * applicable policy wins; otherwise an Allow in an identity-based policy, or one in a same-account resource-based
 * policy whose Principal names the caller, allows; otherwise the request is implicitly denied. With
 * `resourcePolicyRequired` (KMS key policies) the key policy must allow, directly or by naming the account, which
 * delegates to the identity-based policies. A statement the evaluator cannot read (unknown condition operator,
 * malformed value) denies the request, naming the problem.
 *
 * Not modelled: SCPs, RCPs, permissions boundaries, session policies (none exist locally).
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
 */
export function evaluate(request: AuthorizationRequest, policies: ApplicablePolicies): Decision {
  const account = principalAccountOf(request.principal);
  const context = new RequestContext(request, account);
  const variableResolver: VariableResolver = (key) => {
    const value = context.get(key);
    return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
  };
  let identityAllow: string | undefined;
  let resourceAllow: string | undefined;
  let resourceDelegates: string | undefined;
  let kind: PolicyKind = 'identity';
  let current = '';
  try {
    for (const document of policies.identity) {
      const policy = compilePolicy(document, 'identity');
      const resolve = policy.variables ? variableResolver : undefined;
      for (const statement of policy.statements) {
        current = statement.label;
        if (applies(statement, 'identity', request, context, account, resolve) === 'none') continue;
        if (statement.effect === 'Deny') {
          return {
            decision: 'ExplicitDeny',
            by: { policy: 'identity', statement: statement.label },
            reason: 'with an explicit deny in an identity-based policy',
          };
        }
        identityAllow ??= statement.label;
      }
    }
    if (policies.resource) {
      kind = 'resource';
      const policy = compilePolicy(policies.resource, 'resource');
      const resolve = policy.variables ? variableResolver : undefined;
      for (const statement of policy.statements) {
        current = statement.label;
        const match = applies(statement, 'resource', request, context, account, resolve);
        if (match === 'none') continue;
        if (statement.effect === 'Deny') {
          return {
            decision: 'ExplicitDeny',
            by: { policy: 'resource', statement: statement.label },
            reason: 'with an explicit deny in a resource-based policy',
          };
        }
        if (match === 'direct') resourceAllow ??= statement.label;
        else resourceDelegates ??= statement.label;
      }
    }
  } catch (error) {
    if (!(error instanceof PolicyEvaluationError)) throw error;
    return {
      decision: 'ExplicitDeny',
      by: { policy: kind, statement: current },
      reason:
        `because ${article(kind)} policy statement (${current}) cannot be evaluated, so the local evaluator fails ` +
        `closed: ${error.message}`,
    };
  }

  const action = request.action;
  const noIdentity = { decision: 'ImplicitDeny', reason: `because no identity-based policy allows the ${action} action` } as const;
  const noResource = { decision: 'ImplicitDeny', reason: `because no resource-based policy allows the ${action} action` } as const;
  const allowIdentity = (statement: string): Decision => ({
    decision: 'Allow',
    by: { policy: 'identity', statement },
    reason: `allowed by the identity-based policy statement ${statement}`,
  });
  const allowResource = (statement: string): Decision => ({
    decision: 'Allow',
    by: { policy: 'resource', statement },
    reason: `allowed by the resource-based policy statement ${statement}`,
  });

  if (request.principal.type === 'Service') {
    // A service principal has no identity-based policies: only a resource-based policy can allow it.
    return resourceAllow ? allowResource(resourceAllow) : noResource;
  }
  const resourceAccount = policies.resourceAccountId ?? account;
  const crossAccount = account !== undefined && resourceAccount !== undefined && account !== resourceAccount;
  if (crossAccount) {
    // Across accounts both sides must allow (AWS's cross-account evaluation logic).
    if (!identityAllow) return noIdentity;
    return resourceAllow || resourceDelegates ? allowIdentity(identityAllow) : noResource;
  }
  if (policies.resourcePolicyRequired) {
    if (resourceAllow) return allowResource(resourceAllow);
    if (resourceDelegates) return identityAllow ? allowIdentity(identityAllow) : noIdentity;
    return noResource;
  }
  if (identityAllow) return allowIdentity(identityAllow);
  if (resourceAllow) return allowResource(resourceAllow);
  return noIdentity;
}

/**
 * AWS's AccessDenied message for a denied decision: "User: <principal> is not authorized to perform: <action> on
 * resource: <resource> <reason>".
 */
export function accessDeniedMessage(request: AuthorizationRequest, decision: Decision): string {
  return (
    `User: ${request.principal.arn} is not authorized to perform: ${request.action} on resource: ` +
    `${request.resource} ${decision.reason}`
  );
}
