/**
 * Types shared by the IAM evaluator (`evaluate.ts`), the action mapping (`actions.ts`) and the gateway.
 *
 * This file is the contract of issue 10 (see /work/iam-contract.md): keep the shapes stable; add, never rename.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 */

/** An IAM policy document as it appears in a template (after intrinsics are resolved). */
export interface PolicyDocument {
  /** @default - '2008-10-17' semantics; policy variables need '2012-10-17' */
  readonly Version?: string;
  /** AWS's optional policy id; the evaluator prefixes statement labels with it (e.g. the template's logical id). */
  readonly Id?: string;
  readonly Statement: PolicyStatement | readonly PolicyStatement[];
}

/** One statement of a policy document, with AWS's element names. */
export interface PolicyStatement {
  /** @default - statements are named by their index in messages */
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  /** Exactly one of `Action` / `NotAction`. */
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  /** Exactly one of `Resource` / `NotResource`; both absent is only valid in a resource-based policy (= this resource). */
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  /** Resource-based policies only. */
  readonly Principal?: '*' | Record<string, string | readonly string[]>;
  readonly NotPrincipal?: Record<string, string | readonly string[]>;
  /** operator → condition key → value(s). @default - no condition */
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/**
 * Who calls. `arn` is the role ARN for a function (arn:aws:iam::000000000000:role/<name>), the caller principal's
 * ARN for outside callers, or a service principal name ('cloudwatch.amazonaws.com') for a service.
 */
export interface RequestPrincipal {
  readonly type: 'AWS' | 'Service';
  readonly arn: string;
  /** @default - the account id parsed from `arn` (none for a service principal) */
  readonly accountId?: string;
}

/** One authorization AWS makes: one action on one resource. */
export interface AuthorizationRequest {
  readonly principal: RequestPrincipal;
  /** IAM action name, service prefix lowercase: 'dynamodb:PutItem'. */
  readonly action: string;
  /** Full ARN (or '*' for actions that take no resource, e.g. sqs:ListQueues). */
  readonly resource: string;
  /**
   * Request context keys (aws:SecureTransport, aws:SourceArn, aws:SourceAccount, aws:PrincipalArn,
   * aws:PrincipalAccount, aws:RequestedRegion, kms:ViaService, kms:CallerAccount, dynamodb:LeadingKeys, ...).
   * Key lookup is case-insensitive, as AWS's is. `undefined` = the key is absent from the request.
   */
  readonly context: Readonly<Record<string, string | readonly string[] | boolean | number | undefined>>;
}

/** The policies that apply to a request. */
export interface ApplicablePolicies {
  /** The principal's identity-based policies (empty for a service principal). */
  readonly identity: readonly PolicyDocument[];
  /** Queue policy, topic policy, secret policy, key policy... @default - no resource-based policy */
  readonly resource?: PolicyDocument;
  /** Account that owns the resource (same-account rule, C2). @default - the principal's account */
  readonly resourceAccountId?: string;
  /**
   * KMS key policies are not "grant-if-either": a key policy must allow (directly or by delegating to IAM via the
   * account root principal) — set true for KMS key-policy evaluation.
   * @default false
   */
  readonly resourcePolicyRequired?: boolean;
}

/** The three outcomes of AWS's evaluation. */
export type DecisionKind = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';

/** The outcome of one `evaluate` call. */
export interface Decision {
  readonly decision: DecisionKind;
  /** Where the deciding statement lives: 'identity' | 'resource', with its Sid/index, for messages and the report. */
  readonly by?: { readonly policy: 'identity' | 'resource'; readonly statement: string };
  /**
   * AWS's wording fragment: "no identity-based policy allows the dynamodb:BatchGetItem action" /
   * "with an explicit deny in a resource-based policy".
   */
  readonly reason: string;
}

/** Signature of `evaluate` (implemented in evaluate.ts). */
export type Evaluate = (request: AuthorizationRequest, policies: ApplicablePolicies) => Decision;

/** One authorization an API request needs (C1). */
export interface RequiredAuthorization {
  readonly action: string;
  readonly resource: string;
  /** Extra request context for this authorization (merged over the gateway's). @default - none */
  readonly context?: AuthorizationRequest['context'];
}

/** What `requiredAuthorizations` needs to build ARNs. */
export interface ArnContext {
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
  /** SQS: queue URL → queue ARN (the gateway knows the queues). */
  readonly queueArnForUrl: (url: string) => string | undefined;
  /** DynamoDB Streams: stream ARN is in the input; ListStreams → '*'. */
}

/** The services `requiredAuthorizations` maps. */
export type AuthorizedService = 'dynamodb' | 'dynamodb-streams' | 'sqs' | 'kms' | 'secretsmanager' | 'execute-api';

/** Signature of `requiredAuthorizations` (implemented in actions.ts). */
export type RequiredAuthorizations = (
  service: AuthorizedService,
  operation: string,
  input: unknown,
  arns: ArnContext,
) => RequiredAuthorization[];
