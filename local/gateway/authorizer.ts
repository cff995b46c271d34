import type { LocalPrincipal } from '../iam/principals.js';
import type { TemplatePolicies } from '../iam/template-policies.js';
import type { Decision, Evaluate, PolicyDocument, RequiredAuthorization } from '../iam/types.js';

/** One authorization the gateway made: an action on a resource, for a principal, and what the evaluation said. */
export interface AuthorizationCheck {
  readonly principal: LocalPrincipal;
  readonly action: string;
  readonly resource: string;
  readonly decision: Decision;
}

/** Receives every authorization the gateway makes (the usage recorder, a flight recorder…). */
export type AuthorizationListener = (check: AuthorizationCheck) => void;

/** Options of {@link Authorizer}. */
export interface AuthorizerOptions {
  readonly evaluate: Evaluate;
  readonly policies: TemplatePolicies;
  readonly region: string;
  readonly accountId: string;
  /** Called for every check, allowed or not. @default - none */
  readonly onCheck?: AuthorizationListener;
}

/**
 * Judges authorizations with the principal's identity policies and the resource's policy (queue policy, key policy),
 * in the request context an SDK call to AWS has: `aws:SecureTransport` is true because SDKs reach AWS over TLS (the
 * local hop is plain HTTP, but a template's TLS-only Deny must not deny what it would not deny on AWS).
 */
export class Authorizer {
  public constructor(private readonly options: AuthorizerOptions) {}

  /** Context keys every request has. */
  public baseContext(principal: LocalPrincipal): Record<string, string | boolean> {
    return {
      'aws:SecureTransport': true,
      'aws:PrincipalArn': principal.principal.arn,
      'aws:PrincipalAccount': this.options.accountId,
      'aws:PrincipalType': principal.kind === 'function' ? 'AssumedRole' : 'User',
      'aws:RequestedRegion': this.options.region,
      'aws:CurrentTime': new Date().toISOString(),
      'aws:EpochTime': String(Math.floor(Date.now() / 1000)),
    };
  }

  /**
   * Evaluates each authorization in order and stops at the first that is not allowed.
   * @returns the checks made; `denied` is the one that failed, if any.
   */
  public authorize(principal: LocalPrincipal, required: readonly RequiredAuthorization[], extraContext: Record<string, string | boolean> = {}): { checks: AuthorizationCheck[]; denied?: AuthorizationCheck } {
    const checks: AuthorizationCheck[] = [];
    for (const authorization of required) {
      const check = this.check(principal, authorization, extraContext);
      checks.push(check);
      if (check.decision.decision !== 'Allow') return { checks, denied: check };
    }
    return { checks };
  }

  /** Evaluates one authorization (a `kms:*` action on a key uses its key policy, which must allow: C4). */
  public check(principal: LocalPrincipal, authorization: RequiredAuthorization, extraContext: Record<string, string | boolean> = {}, record = true): AuthorizationCheck {
    const { policies } = this.options;
    const isKms = authorization.action.toLowerCase().startsWith('kms:');
    const resource: PolicyDocument | undefined = policies.resourcePolicies.get(authorization.resource);
    const decision = this.options.evaluate(
      {
        principal: principal.principal,
        action: authorization.action,
        resource: authorization.resource,
        context: { ...this.baseContext(principal), ...extraContext, ...(authorization.context ?? {}) },
      },
      {
        identity: principal.policies,
        resource,
        resourceAccountId: authorization.resource.split(':')[4] || this.options.accountId,
        resourcePolicyRequired: isKms && resource !== undefined,
      },
    );
    const check = { principal, action: authorization.action, resource: authorization.resource, decision };
    if (record) this.options.onCheck?.(check);
    return check;
  }
}

/**
 * AWS's denial message: `User: <arn> is not authorized to perform: <action> on resource: <arn> because no
 * identity-based policy allows the <action> action` (or `… with an explicit deny in a resource-based policy`).
 * @param lowerCaseAction - SQS prints the action in lower case (`sqs:sendmessage`).
 */
export function denialMessage(check: AuthorizationCheck, lowerCaseAction = false): string {
  const action = lowerCaseAction ? check.action.toLowerCase() : check.action;
  let reason = check.decision.reason.trim();
  if (lowerCaseAction) reason = reason.split(check.action).join(action);
  const tail = reason === '' ? '' : /^(because|with)\b/.test(reason) ? ` ${reason}` : ` because ${reason}`;
  return `User: ${check.principal.displayArn} is not authorized to perform: ${action} on resource: ${check.resource}${tail}`;
}
