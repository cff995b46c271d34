import type { APIGatewayProxyResult } from 'aws-lambda';

/** JSON response for API Gateway's Lambda proxy integration. */
export function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/**
 * Error response: a stable machine-readable `error` code, a message saying what is wrong, and optional details
 * (for example one line per invalid field). Never pass a raw `Error` here.
 */
export function errorResponse(
  statusCode: number,
  error: string,
  message: string,
  extra: { readonly details?: readonly string[]; readonly requestId?: string; readonly headers?: Record<string, string> } = {},
): APIGatewayProxyResult {
  const body: Record<string, unknown> = { error, message };
  if (extra.details && extra.details.length > 0) body.details = extra.details;
  if (extra.requestId) body.requestId = extra.requestId;
  return jsonResponse(statusCode, body, extra.headers);
}

/** Case-insensitive header lookup (API Gateway keeps the client's casing in `headers`). */
export function getHeader(headers: Record<string, string | undefined> | null | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}
