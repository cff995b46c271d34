import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { IncomingHttpHeaders } from 'node:http';

/** The parts of an `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header. */
export interface ParsedAuthorization {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  /** The credential scope's service: `dynamodb` (also for DynamoDB Streams), `sqs`, `execute-api`, … */
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

const AUTHORIZATION = /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]*)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)\s*$/;

/**
 * Parses a SigV4 Authorization header.
 * @returns undefined when the header is absent; `'malformed'` when it is there but is not SigV4 (IncompleteSignature).
 */
export function parseAuthorization(header: string | undefined): ParsedAuthorization | 'malformed' | undefined {
  if (header === undefined || header === '') return undefined;
  const match = AUTHORIZATION.exec(header.trim());
  if (!match) return 'malformed';
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match as unknown as string[];
  return { accessKeyId: accessKeyId!, date: date!, region: region!, service: service!, signedHeaders: signedHeaders!.split(';'), signature: signature! };
}

/** What a signature is checked against. */
export interface SignedRequest {
  readonly method: string;
  /** Path without the query string, as sent. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

const signers = new Map<string, SignatureV4>();

/**
 * Recomputes the SigV4 signature of a request with `secretAccessKey` (with `@smithy/signature-v4`, over exactly the
 * headers the client signed) and compares it with the one sent.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 */
export async function verifySignature(request: SignedRequest, auth: ParsedAuthorization, secretAccessKey: string): Promise<boolean> {
  const amzDate = headerValue(request.headers, 'x-amz-date');
  if (!amzDate || !amzDate.startsWith(auth.date)) return false;
  const signingDate = parseAmzDate(amzDate);
  if (!signingDate) return false;
  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    const value = headerValue(request.headers, name);
    if (value === undefined) return false;
    headers[name] = value;
  }
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(request.query.keys())) {
    const values = request.query.getAll(key);
    query[key] = values.length === 1 ? values[0]! : values;
  }
  const cacheKey = `${auth.accessKeyId}\0${secretAccessKey}\0${auth.service}\0${auth.region}`;
  let signer = signers.get(cacheKey);
  if (!signer) {
    signer = new SignatureV4({
      credentials: { accessKeyId: auth.accessKeyId, secretAccessKey },
      region: auth.region,
      service: auth.service,
      sha256: Sha256,
      // The client's own x-amz-content-sha256 is used when signed; never add one it did not send.
      applyChecksum: false,
    });
    if (signers.size > 1000) signers.clear();
    signers.set(cacheKey, signer);
  }
  const signed = await signer.sign(
    { method: request.method, protocol: 'http:', hostname: headers.host ?? '', path: request.path, query, headers, body: request.body },
    { signingDate, signableHeaders: new Set(auth.signedHeaders) },
  );
  const signature = /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization))?.[1];
  return signature === auth.signature;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}
