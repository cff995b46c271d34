import { createHash, randomBytes } from 'node:crypto';
import type { PolicyDocument, RequestPrincipal } from './types.js';

/** Access key ids the runtime hands to functions start with this (AWS's own start with AKIA / ASIA). */
export const FUNCTION_KEY_PREFIX = 'LKIA';

/** Name of the principal every request from outside the functions runs as (tests, `.local/env`, the AWS CLI). */
export const LOCAL_CALLER_NAME = 'local-caller';

/** The local caller's policy unless `--caller-policy` narrows it: everything, like an account administrator. */
export const ADMIN_POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'LocalCallerIsAdmin', Effect: 'Allow', Action: '*', Resource: '*' }],
};

/** Who signs a request the gateway receives, with what it needs to verify and authorize it. */
export interface LocalPrincipal {
  /** `function` (a Lambda function's execution role) or `caller` (anyone outside the functions). */
  readonly kind: 'function' | 'caller';
  /** What policies are evaluated for: the role ARN (function) or `arn:aws:iam::<account>:user/local-caller`. */
  readonly principal: RequestPrincipal;
  /** The ARN AWS prints in a denial: the assumed-role session (`arn:aws:sts::A:assumed-role/<role>/<function>`). */
  readonly displayArn: string;
  /** Short label for logs and the usage report: the role name, or `local-caller`. */
  readonly name: string;
  /** Identity-based policies (the role's from the template, or the caller policy). */
  readonly policies: readonly PolicyDocument[];
  readonly accessKeyId: string;
  /** The secret the signature is checked with; undefined = not checked (a key the runtime did not issue). */
  readonly secretAccessKey?: string;
  /** The function's name and ARN, for a function principal. */
  readonly functionName?: string;
  readonly functionArn?: string;
}

/** What {@link PrincipalRegistry.resolve} answers for an access key id. */
export type KeyLookup = { readonly known: true; readonly principal: LocalPrincipal } | { readonly known: false };

/**
 * The access keys of the local stack: one per function (mapped to its execution role) and the local caller's.
 *
 * Any access key id the runtime did not issue and that does not look like a function key is the local caller too,
 * with its signature unchecked (the runtime cannot know the secret of, say, LocalStack's `test` key): so scripts and
 * tests written for LocalStack work unchanged. The caller's own key (`local` / `local` by default) is checked.
 */
export class PrincipalRegistry {
  private readonly byKey = new Map<string, LocalPrincipal>();
  private readonly byFunctionArn = new Map<string, LocalPrincipal>();
  public readonly caller: LocalPrincipal;

  public constructor(
    private readonly options: {
      readonly accountId: string;
      readonly partition: string;
      /** The caller's signing credentials (checked). */
      readonly callerCredentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
      /** @default {@link ADMIN_POLICY} */
      readonly callerPolicy?: PolicyDocument;
    },
  ) {
    const { accountId, partition } = options;
    const arn = `arn:${partition}:iam::${accountId}:user/${LOCAL_CALLER_NAME}`;
    this.caller = {
      kind: 'caller',
      principal: { type: 'AWS', arn, accountId },
      displayArn: arn,
      name: LOCAL_CALLER_NAME,
      policies: [options.callerPolicy ?? ADMIN_POLICY],
      accessKeyId: options.callerCredentials.accessKeyId,
      secretAccessKey: options.callerCredentials.secretAccessKey,
    };
    this.byKey.set(this.caller.accessKeyId, this.caller);
  }

  /**
   * Issues the credentials of a function: an access key id derived from its ARN (stable across runs) and a random
   * secret (new each run), mapped to its execution role.
   */
  public addFunction(input: { functionName: string; functionArn: string; roleArn: string; policies: readonly PolicyDocument[] }): LocalPrincipal {
    const existing = this.byFunctionArn.get(input.functionArn);
    if (existing) return existing;
    const accessKeyId = `${FUNCTION_KEY_PREFIX}${createHash('sha256').update(input.functionArn).digest('hex').slice(0, 16).toUpperCase()}`;
    const roleName = input.roleArn.split('/').pop() ?? input.roleArn;
    const principal: LocalPrincipal = {
      kind: 'function',
      principal: { type: 'AWS', arn: input.roleArn, accountId: this.options.accountId },
      displayArn: `arn:${this.options.partition}:sts::${this.options.accountId}:assumed-role/${roleName}/${input.functionName}`,
      name: roleName,
      policies: input.policies,
      accessKeyId,
      secretAccessKey: randomBytes(30).toString('base64'),
      functionName: input.functionName,
      functionArn: input.functionArn,
    };
    this.byKey.set(accessKeyId, principal);
    this.byFunctionArn.set(input.functionArn, principal);
    return principal;
  }

  /** Replaces each function principal's identity policies with its role's (call once every stack is read). */
  public refreshPolicies(policiesOf: (roleArn: string) => readonly PolicyDocument[]): void {
    for (const [arn, principal] of this.byFunctionArn) {
      const updated = { ...principal, policies: policiesOf(principal.principal.arn) };
      this.byFunctionArn.set(arn, updated);
      this.byKey.set(updated.accessKeyId, updated);
    }
  }

  /** The principal of a function, by its ARN. */
  public forFunction(functionArn: string): LocalPrincipal | undefined {
    return this.byFunctionArn.get(functionArn);
  }

  /** Every function principal. */
  public functions(): LocalPrincipal[] {
    return [...this.byFunctionArn.values()];
  }

  /**
   * The principal an access key id belongs to. A key with the function prefix that was not issued is unknown (AWS:
   * UnrecognizedClientException / InvalidClientTokenId); any other key is the local caller, unchecked.
   */
  public resolve(accessKeyId: string): KeyLookup {
    const known = this.byKey.get(accessKeyId);
    if (known) return { known: true, principal: known };
    if (accessKeyId.startsWith(FUNCTION_KEY_PREFIX) || accessKeyId.length === 0) return { known: false };
    return { known: true, principal: { ...this.caller, accessKeyId, secretAccessKey: undefined } };
  }
}
