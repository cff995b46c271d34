import type { ServerResponse } from 'node:http';
import type { RequiredAuthorization, RequiredAuthorizations } from '../iam/types.js';
import { SecretsManagerError } from '../secrets/errors.js';
import type { SecretsManagerHandler } from '../secrets/secrets-api.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { denialMessage, type Authorizer } from './authorizer.js';
import type { CallOutcome, GatewayError, GatewayErrorKind, GatewayRequest, ServiceHandler, UnauthenticatedRequest } from './types.js';

/** Options of {@link SecretsManagerService}. */
export interface SecretsManagerServiceOptions {
  /** The template's secrets. */
  readonly store: SecretStore;
  /** Serves an authorized request. */
  readonly handler: SecretsManagerHandler;
  /** Judges calls; undefined = IAM off (everything is served). */
  readonly authorizer?: Authorizer;
  readonly requiredAuthorizations: RequiredAuthorizations;
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
}

const TARGET_PREFIX = 'secretsmanager.';

/** Secrets Manager's JSON 1.1 error `__type` and HTTP status per gateway error kind. */
const ERRORS: Record<GatewayErrorKind, { type: string; status: number }> = {
  MissingAuthenticationToken: { type: 'MissingAuthenticationTokenException', status: 400 },
  IncompleteSignature: { type: 'IncompleteSignature', status: 400 },
  UnrecognizedClient: { type: 'UnrecognizedClientException', status: 400 },
  InvalidSignature: { type: 'InvalidSignatureException', status: 400 },
  AccessDenied: { type: 'AccessDeniedException', status: 400 },
  // Secrets Manager reports a key it may not use as its own AccessDeniedException naming the KMS action.
  KmsAccessDenied: { type: 'AccessDeniedException', status: 400 },
  Validation: { type: 'ValidationException', status: 400 },
  UnknownOperation: { type: 'UnknownOperationException', status: 400 },
};

/**
 * Secrets Manager behind the gateway, served from the template's secrets: each call is authorized like AWS does
 * (`secretsmanager:<Operation>` on the secret's full ARN; a secret encrypted with a customer-managed key also needs
 * `kms:Decrypt` on that key, judged with its key policy, through Secrets Manager: `kms:ViaService`) before the
 * local store answers it.
 * @see https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html
 */
export class SecretsManagerService implements ServiceHandler {
  public constructor(private readonly options: SecretsManagerServiceOptions) {}

  public claims(request: UnauthenticatedRequest): boolean {
    return String(request.headers['x-amz-target'] ?? '').startsWith(TARGET_PREFIX);
  }

  public sendError(request: UnauthenticatedRequest, response: ServerResponse, error: GatewayError): number {
    const { type, status } = ERRORS[error.kind];
    return this.answer(request, response, status, { __type: error.code ?? type, message: error.message });
  }

  public async handle(request: GatewayRequest, response: ServerResponse): Promise<CallOutcome> {
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : target || 'unknown';
    const service = 'secretsmanager';
    const fail = (error: GatewayError, decision: 'Deny' | 'Error' = 'Error', checks: CallOutcome['checks'] = []): CallOutcome => ({
      service,
      operation,
      checks,
      decision,
      status: this.sendError(request, response, error),
    });
    if (!target.startsWith(TARGET_PREFIX)) return fail({ kind: 'UnknownOperation', message: `X-Amz-Target "${target}" is not a Secrets Manager operation` });
    let input: Record<string, unknown>;
    try {
      input = request.body.length ? (JSON.parse(request.body.toString('utf8')) as Record<string, unknown>) : {};
    } catch {
      return fail({ kind: 'Validation', message: 'The request body is not valid JSON' });
    }
    let checks: CallOutcome['checks'] = [];
    const { authorizer } = this.options;
    if (authorizer) {
      let required: RequiredAuthorization[];
      try {
        required = [...this.options.requiredAuthorizations(service, operation, input, this.arnContext()), ...this.keyAuthorizations(operation, input)];
      } catch (error) {
        return fail({ kind: 'Validation', message: `local IAM cannot authorize ${service} ${operation}: ${(error as Error).message}` });
      }
      const result = authorizer.authorize(request.principal, required);
      checks = result.checks;
      if (result.denied) {
        const kind = result.denied.action.toLowerCase().startsWith('kms:') ? 'KmsAccessDenied' : 'AccessDenied';
        return fail({ kind, message: denialMessage(result.denied) }, 'Deny', checks);
      }
    }
    try {
      const output = this.options.handler(operation, input);
      return { service, operation, checks, decision: 'Allow', status: this.answer(request, response, 200, output) };
    } catch (error) {
      if (!(error instanceof SecretsManagerError)) throw error;
      return { service, operation, checks, decision: 'Allow', status: this.answer(request, response, error.statusCode, { __type: error.code, message: error.message }) };
    }
  }

  /** The ARN context: a secret named by its name or partial ARN resolves to its full ARN when the template has it. */
  private arnContext() {
    const { store, region, accountId, partition } = this.options;
    return {
      region,
      accountId,
      partition,
      queueArnForUrl: () => undefined,
      secretArnForId: (id: string) => {
        try {
          return store.find(id).arn;
        } catch {
          return undefined;
        }
      },
    };
  }

  /** kms:Decrypt (reads) or kms:GenerateDataKey (writes) on the secret's customer-managed key, if it has one. */
  private keyAuthorizations(operation: string, input: Record<string, unknown>): RequiredAuthorization[] {
    const reads = operation === 'GetSecretValue';
    const writes = operation === 'PutSecretValue';
    if (!reads && !writes) return [];
    let keyId: string | undefined;
    try {
      keyId = this.options.store.find(input.SecretId).kmsKeyId;
    } catch {
      return []; // unknown secret: the handler answers ResourceNotFoundException after the secretsmanager check
    }
    if (!keyId || keyId === 'alias/aws/secretsmanager') return [];
    const resource = keyId.startsWith('arn:') ? keyId : `arn:${this.options.partition}:kms:${this.options.region}:${this.options.accountId}:key/${keyId}`;
    const context = { 'kms:ViaService': `secretsmanager.${this.options.region}.amazonaws.com`, 'kms:CallerAccount': this.options.accountId };
    return reads ? [{ action: 'kms:Decrypt', resource, context }] : [{ action: 'kms:GenerateDataKey', resource, context }];
  }

  private answer(request: UnauthenticatedRequest, response: ServerResponse, status: number, body: unknown): number {
    const type = status >= 400 ? (body as { __type?: string }).__type : undefined;
    response.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-requestid': request.requestId,
      ...(type ? { 'x-amzn-errortype': type } : {}),
    });
    response.end(JSON.stringify(body));
    return status;
  }
}
