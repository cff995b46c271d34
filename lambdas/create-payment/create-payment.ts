import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { errorResponse, jsonResponse } from '../shared/http.js';
import { METRIC, type Observability } from '../shared/observability.js';
import { callerPrincipal, callerScopedKey } from './caller-scope.js';
import { RequestRejectedError } from './errors.js';
import { acceptPayment, type AcceptedPayment } from './payments.js';
import { IDEMPOTENCY_KEY_HEADER, parseCreatePaymentRequest, type CreatePaymentRequest } from './request.js';

/** Idempotency key prefix of API records: stable across function renames. */
export const API_KEY_PREFIX = 'payments-api';

/** Seconds a client should wait before retrying while the first request with its key is still running. */
export const RETRY_AFTER_SECONDS = 1;

/** Ports and settings of the `POST /payments` handler. */
export interface CreatePaymentDeps {
  readonly persistenceStore: BasePersistenceLayer;
  readonly expiresAfterSeconds: number;
  /** Resolved per request, so tests and wrappers can swap the client. */
  readonly sqs: () => Pick<SQSClient, 'send'>;
  readonly queueUrl: string;
  readonly observability: Observability;
}

type StoredAcceptance = AcceptedPayment & { readonly replayed?: boolean };

/**
 * Builds the `POST /payments` handler: validation (4xx, nothing sent), then Powertools idempotency keyed by the
 * Idempotency-Key header with payload validation on the parsed body — a retry gets the first response (header
 * `Idempotency-Replayed: true`), the same key with another body gets 422, a concurrent duplicate 409 + Retry-After.
 * @see https://docs.powertools.aws.dev/lambda/typescript/latest/features/idempotency/
 */
export function createPaymentHandler(deps: CreatePaymentDeps) {
  const { observability } = deps;
  const { logger } = observability;
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'idempotencyKey',
    payloadValidationJmesPath: 'payment',
    expiresAfterSeconds: deps.expiresAfterSeconds,
    throwOnNoIdempotencyKey: true,
    responseHook: (response) => ({ ...(response as object), replayed: true }),
  });
  const acceptOnce = makeIdempotent(
    (request: CreatePaymentRequest): Promise<AcceptedPayment> => acceptPayment(request, { sqs: deps.sqs(), queueUrl: deps.queueUrl }),
    { persistenceStore: deps.persistenceStore, config, keyPrefix: API_KEY_PREFIX },
  );

  return async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    config.registerLambdaContext(context);
    const requestId = event.requestContext?.requestId ?? context.awsRequestId;
    try {
      const parsed = parseCreatePaymentRequest(event);
      const principal = callerPrincipal(event.requestContext?.identity);
      if (!principal) {
        throw new RequestRejectedError(
          403,
          'MissingCallerIdentity',
          'The request carries no IAM caller identity: POST /payments must be called with AWS_IAM (SigV4) authorization, which scopes the Idempotency-Key to the caller',
        );
      }
      // Every layer dedups on the caller-scoped key: the same Idempotency-Key from two callers is two payments.
      const request: CreatePaymentRequest = { ...parsed, idempotencyKey: callerScopedKey(principal, parsed.idempotencyKey) };
      logger.appendKeys({ idempotencyKey: request.idempotencyKey });
      const { replayed, ...accepted } = (await acceptOnce(request)) as StoredAcceptance;
      logger.appendKeys({ paymentId: accepted.paymentId });
      if (replayed) {
        observability.count(METRIC.DuplicatesSkipped);
        logger.info('Idempotent replay: the first response is returned, nothing sent');
        return jsonResponse(202, accepted, { 'Idempotency-Replayed': 'true' });
      }
      observability.count(METRIC.PaymentsAccepted);
      logger.info('Payment accepted');
      return jsonResponse(202, accepted);
    } catch (error) {
      if (error instanceof RequestRejectedError) {
        logger.warn('Request rejected', { statusCode: error.statusCode, code: error.code, reasons: error.reasons });
        return errorResponse(error.statusCode, error.code, error.message, { details: error.reasons, requestId });
      }
      if (error instanceof IdempotencyValidationError) {
        return errorResponse(
          422,
          'IdempotencyKeyReused',
          `This ${IDEMPOTENCY_KEY_HEADER} was already used with a different payment body; use a new key for a new payment, or resend the original body to retry`,
          { requestId },
        );
      }
      if (error instanceof IdempotencyAlreadyInProgressError) {
        return errorResponse(
          409,
          'RequestInProgress',
          `A request with this ${IDEMPOTENCY_KEY_HEADER} is still being processed; retry after ${RETRY_AFTER_SECONDS} s to get its response`,
          { requestId, headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } },
        );
      }
      logger.error('Unexpected error while accepting a payment', { error: error as Error, requestId });
      return errorResponse(500, 'InternalError', 'The payment could not be accepted; it is safe to retry with the same Idempotency-Key', {
        requestId,
      });
    } finally {
      logger.removeKeys(['idempotencyKey', 'paymentId']);
      observability.flush();
    }
  };
}
