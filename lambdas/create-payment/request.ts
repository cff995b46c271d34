import { parse } from '@aws-lambda-powertools/parser';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { formatIssues } from '../shared/errors.js';
import { getHeader } from '../shared/http.js';
import { IDEMPOTENCY_KEY_PATTERN, PaymentRequestSchema, type PaymentRequest } from '../shared/payments-model.js';
import { RequestRejectedError } from './errors.js';

/** Largest accepted body, in bytes (the API stage has its own, larger limit). */
export const MAX_BODY_BYTES = 8 * 1024;

/** Name of the request header that carries the producer's idempotency key. */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

/** A validated `POST /payments` request. */
export interface CreatePaymentRequest {
  readonly idempotencyKey: string;
  readonly payment: PaymentRequest;
}

/**
 * Validates `POST /payments`: the Idempotency-Key header (any casing), the body size, JSON, then the schema shared
 * with the consumers (Powertools parser + zod).
 * @throws RequestRejectedError 400 (missing/invalid key, no body, bad JSON, schema violation) or 413 (body too large).
 */
export function parseCreatePaymentRequest(event: APIGatewayProxyEvent): CreatePaymentRequest {
  const idempotencyKey = getHeader(event.headers, IDEMPOTENCY_KEY_HEADER);
  if (idempotencyKey === undefined || idempotencyKey === '') {
    throw new RequestRejectedError(
      400,
      'MissingIdempotencyKey',
      `The ${IDEMPOTENCY_KEY_HEADER} header is required: send a unique key per payment (8-128 characters of A-Z a-z 0-9 . _ : -) and reuse it when you retry`,
    );
  }
  if (!IDEMPOTENCY_KEY_PATTERN.test(idempotencyKey)) {
    throw new RequestRejectedError(
      400,
      'InvalidIdempotencyKey',
      `The ${IDEMPOTENCY_KEY_HEADER} header must be 8-128 characters of A-Z a-z 0-9 . _ : - (got ${idempotencyKey.length} characters)`,
    );
  }
  if (event.body === null || event.body === undefined || event.body === '') {
    throw new RequestRejectedError(400, 'MissingBody', 'The request body is required: a JSON payment { accountId, amount, currency, reference? }');
  }
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  const size = Buffer.byteLength(raw, 'utf8');
  if (size > MAX_BODY_BYTES) {
    throw new RequestRejectedError(413, 'BodyTooLarge', `The request body is ${size} bytes; the limit is ${MAX_BODY_BYTES} bytes`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new RequestRejectedError(400, 'MalformedJson', `The request body is not valid JSON: ${(error as Error).message}`, [], { cause: error });
  }
  const parsed = parse(json, undefined, PaymentRequestSchema, true);
  if (!parsed.success) {
    const cause = (parsed.error as Error).cause;
    const details = Array.isArray(cause) ? formatIssues(cause) : [(parsed.error as Error).message];
    throw new RequestRejectedError(400, 'InvalidPayment', `The payment is invalid: ${details.join('; ')}`, details, {
      cause: parsed.error,
    });
  }
  return { idempotencyKey, payment: parsed.data };
}
