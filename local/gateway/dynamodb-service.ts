import type { ServerResponse } from 'node:http';
import type { RequiredAuthorizations } from '../iam/types.js';
import { denialMessage, type Authorizer } from './authorizer.js';
import { Upstream } from './proxy.js';
import type { CallOutcome, GatewayError, GatewayErrorKind, GatewayRequest, ServiceHandler, UnauthenticatedRequest } from './types.js';

/** Options of {@link DynamoDbService}. */
export interface DynamoDbServiceOptions {
  /** DynamoDB Local's endpoint. */
  readonly endpoint: string;
  /** Judges calls; undefined = IAM off (everything is forwarded). */
  readonly authorizer?: Authorizer;
  readonly requiredAuthorizations: RequiredAuthorizations;
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
}

/** Every principal's calls reach DynamoDB Local under one key, so all see the same tables (with or without -sharedDb). */
const UPSTREAM = { accessKeyId: 'local' } as const;

const TARGETS = { 'DynamoDB_20120810.': 'dynamodb', 'DynamoDBStreams_20120810.': 'dynamodb-streams' } as const;

/** DynamoDB's JSON error `__type` and HTTP status per gateway error kind. */
const ERRORS: Record<GatewayErrorKind, { type: string; status: number }> = {
  MissingAuthenticationToken: { type: 'com.amazon.coral.service#MissingAuthenticationTokenException', status: 400 },
  IncompleteSignature: { type: 'com.amazon.coral.service#IncompleteSignatureException', status: 400 },
  UnrecognizedClient: { type: 'com.amazon.coral.service#UnrecognizedClientException', status: 400 },
  InvalidSignature: { type: 'com.amazon.coral.service#InvalidSignatureException', status: 400 },
  AccessDenied: { type: 'com.amazon.coral.service#AccessDeniedException', status: 400 },
  KmsAccessDenied: { type: 'com.amazon.coral.service#AccessDeniedException', status: 400 },
  Validation: { type: 'com.amazon.coral.validate#ValidationException', status: 400 },
  UnknownOperation: { type: 'com.amazon.coral.service#UnknownOperationException', status: 400 },
};

/**
 * DynamoDB and DynamoDB Streams (both sign as `dynamodb`; the X-Amz-Target tells them apart) in front of DynamoDB
 * Local: each call is authorized as AWS authorizes it (C1: one authorization per table of a batch, per item of a
 * transaction, index and stream ARNs) before it is forwarded; a denial is AWS's HTTP 400 AccessDeniedException.
 *
 * Tables encrypted with a customer-managed key need no KMS permission of the caller on AWS (DynamoDB uses a grant
 * made when the table is created), so none is checked here.
 */
export class DynamoDbService implements ServiceHandler {
  private readonly upstream: Upstream;

  public constructor(private readonly options: DynamoDbServiceOptions) {
    this.upstream = new Upstream(options.endpoint);
  }

  public claims(request: UnauthenticatedRequest): boolean {
    const target = String(request.headers['x-amz-target'] ?? '');
    return Object.keys(TARGETS).some((prefix) => target.startsWith(prefix));
  }

  public sendError(request: UnauthenticatedRequest, response: ServerResponse, error: GatewayError): number {
    const { type, status } = ERRORS[error.kind];
    response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': request.requestId });
    response.end(JSON.stringify({ __type: error.code ?? type, message: error.message }));
    return status;
  }

  public async handle(request: GatewayRequest, response: ServerResponse): Promise<CallOutcome> {
    const target = String(request.headers['x-amz-target'] ?? '');
    const prefix = (Object.keys(TARGETS) as (keyof typeof TARGETS)[]).find((p) => target.startsWith(p));
    const service = prefix ? TARGETS[prefix] : 'dynamodb';
    const operation = prefix ? target.slice(prefix.length) : target || 'unknown';
    const fail = (error: GatewayError, decision: 'Deny' | 'Error' = 'Error', checks: CallOutcome['checks'] = []): CallOutcome => ({
      service,
      operation,
      checks,
      decision,
      status: this.sendError(request, response, error),
    });
    if (!prefix) return fail({ kind: 'UnknownOperation', message: `X-Amz-Target "${target}" is not a DynamoDB or DynamoDB Streams operation` });
    const { authorizer } = this.options;
    if (!authorizer) return { service, operation, checks: [], decision: 'Allow', status: await this.upstream.forward(request, response, UPSTREAM) };
    let input: unknown;
    try {
      input = request.body.length ? JSON.parse(request.body.toString('utf8')) : {};
    } catch {
      return fail({ kind: 'Validation', message: 'The request body is not valid JSON' });
    }
    let required;
    try {
      required = this.options.requiredAuthorizations(service, operation, input, {
        region: this.options.region,
        accountId: this.options.accountId,
        partition: this.options.partition,
        queueArnForUrl: () => undefined,
      });
    } catch (error) {
      return fail({ kind: 'Validation', message: `local IAM cannot authorize ${service} ${operation}: ${(error as Error).message}` });
    }
    const { checks, denied } = authorizer.authorize(request.principal, required);
    if (denied) return fail({ kind: 'AccessDenied', message: denialMessage(denied) }, 'Deny', checks);
    return { service, operation, checks, decision: 'Allow', status: await this.upstream.forward(request, response, UPSTREAM) };
  }

  /** Closes idle connections to DynamoDB Local. */
  public close(): void {
    this.upstream.close();
  }
}
