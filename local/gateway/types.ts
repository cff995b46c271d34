import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { LocalPrincipal } from '../iam/principals.js';
import type { AuthorizationCheck } from './authorizer.js';
import type { ParsedAuthorization } from './sigv4.js';

/** A request the gateway has read, authenticated and attributed to a principal. */
export interface GatewayRequest {
  readonly requestId: string;
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** `[name, value, name, value, …]` as received, for forwarding. */
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  /** The SigV4 Authorization header, parsed (undefined when IAM is off and the request is unsigned). */
  readonly authorization?: ParsedAuthorization;
  readonly principal: LocalPrincipal;
  /** `http://<host>` the client addressed (the gateway's origin as the client sees it). */
  readonly origin: string;
}

/** The error kinds every service answers in its own wire format. */
export type GatewayErrorKind =
  | 'MissingAuthenticationToken'
  | 'IncompleteSignature'
  | 'UnrecognizedClient'
  | 'InvalidSignature'
  | 'AccessDenied'
  | 'KmsAccessDenied'
  | 'Validation'
  | 'UnknownOperation';

/** An error the gateway answers itself instead of forwarding. */
export interface GatewayError {
  readonly kind: GatewayErrorKind;
  readonly message: string;
  /** Overrides the service's code for this kind (e.g. SQS `AWS.SimpleQueueService.BatchEntryIdsNotDistinct`). */
  readonly code?: string;
}

/** What a service handler reports about one call (for onCall listeners and the usage report). */
export interface CallOutcome {
  /** API operation (`PutItem`, `SendMessage`, `GetRecords`…). */
  readonly operation: string;
  /** `dynamodb`, `dynamodb-streams`, `sqs`… */
  readonly service: string;
  readonly checks: readonly AuthorizationCheck[];
  /** `Allow` (forwarded), `Deny` (answered with AWS's denial), `Error` (rejected before authorization). */
  readonly decision: 'Allow' | 'Deny' | 'Error';
  readonly status: number;
}

/** One call through the gateway, as `onCall` listeners receive it. */
export interface GatewayCall extends CallOutcome {
  readonly principal: string;
  readonly principalKind: 'function' | 'caller' | 'unknown';
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  readonly durationMs: number;
  /** The request body, for listeners subscribed with `{ bodies: true }`. */
  readonly requestBody?: Buffer;
  /** The response body as sent to the client, for listeners subscribed with `{ bodies: true }`. */
  readonly responseBody?: Buffer;
}

/** What the gateway tells a handler, for requests whose principal it could not establish. */
export interface UnauthenticatedRequest {
  readonly requestId: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly query: URLSearchParams;
}

/**
 * One AWS service behind the gateway. Mount it with `gateway.registerService(name, handler)` where `name` is the
 * SigV4 credential scope's service (`dynamodb`, `sqs`, `secretsmanager`…).
 */
export interface ServiceHandler {
  /** Whether an unsigned request is for this service (by `X-Amz-Target` or `Action`), to answer it in its format. */
  claims(request: UnauthenticatedRequest): boolean;
  /** Answers a gateway error in the service's wire format; returns the HTTP status sent. */
  sendError(request: UnauthenticatedRequest, response: ServerResponse, error: GatewayError): number;
  /** Authorizes and serves (forwards or answers) one authenticated request. */
  handle(request: GatewayRequest, response: ServerResponse): Promise<CallOutcome>;
}
