import { createHash } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';

/**
 * Caller-scoped idempotency keys: the API's `Idempotency-Key` is scoped to the calling IAM principal, so two callers
 * that happen to send the same key never share a replayed answer, a paymentId or a ledger marker.
 *
 * The principal comes from the IAM-authorized request's `requestContext.identity` (API Gateway fills it after
 * verifying the SigV4 signature): an assumed-role session counts as its role (`arn:aws:iam::<account>:role/<name>`),
 * so a client whose temporary credentials are renewed between a request and its retry keeps its scope; an IAM user is
 * its user ARN. The scoped key is `<first 16 hex of SHA-256(principal)>.<Idempotency-Key>`: it is what the
 * Powertools record, the FIFO deduplication id, the paymentId and the ledger's marker derive from.
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html
 */

/** The identity fields API Gateway sets for an AWS_IAM-authorized request. */
type Identity = Partial<Pick<APIGatewayProxyEvent['requestContext']['identity'], 'userArn' | 'caller' | 'accessKey'>>;

/** The calling principal of an IAM-authorized request, or undefined when the request carries no identity. */
export function callerPrincipal(identity: Identity | null | undefined): string | undefined {
  const arn = identity?.userArn;
  if (arn) {
    const assumed = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
    return assumed ? `arn:${assumed[1]}:iam::${assumed[2]}:role/${assumed[3]}` : arn;
  }
  // Without a userArn: `caller` is "<role id>:<session>" for an assumed role (keep the role id) or the user id.
  const caller = identity?.caller ?? undefined;
  if (caller) return caller.split(':')[0];
  return identity?.accessKey ?? undefined;
}

/** The key every layer dedups on: `<16 hex of SHA-256(principal)>.<client key>`. */
export function callerScopedKey(principal: string, idempotencyKey: string): string {
  return `${createHash('sha256').update(principal).digest('hex').slice(0, 16)}.${idempotencyKey}`;
}
