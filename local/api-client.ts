import { Sha256 } from '@aws-crypto/sha256-js';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * A small client for the payments API (`POST /payments`, `GET /accounts/{accountId}`) that signs every request with
 * SigV4 for `execute-api`, as the stack's IAM authorization requires. It works against the local runtime (which
 * verifies the signature and authorizes execute-api:Invoke like API Gateway), LocalStack and AWS.
 *
 * Credentials: the ones passed in, else the AWS SDK's default chain (environment, profile, SSO, instance role…),
 * else, for a loopback API URL only, the local runtime's dummy credentials.
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-invoke-api.html
 */

/** Options for {@link PaymentsApiClient}. */
export interface PaymentsApiClientOptions {
  /** The stack's `ApiUrl` output, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com/dev/`. */
  readonly apiUrl: string;
  /** Signing region. @default - the region in an AWS API hostname, else AWS_REGION, else us-east-1 */
  readonly region?: string;
  /** Signing credentials. @default - the AWS SDK default chain; dummy credentials for a loopback URL */
  readonly credentials?: AwsCredentialIdentity | (() => Promise<AwsCredentialIdentity>);
  /** Sign requests. @default true */
  readonly sign?: boolean;
  /** Per-request timeout in ms. @default 30000 */
  readonly timeoutMs?: number;
}

/** An HTTP answer of the API, parsed when it is JSON. */
export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Raw body text (the same bytes for two identical answers). */
  readonly text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  readonly body: T | undefined;
  /** Wall-clock duration of the request, in ms. */
  readonly durationMs: number;
}

/** The 202 body of `POST /payments`. */
export interface PaymentAccepted {
  readonly paymentId: string;
  readonly status: string;
  readonly [extra: string]: unknown;
}

/** The 200 body of `GET /accounts/{accountId}`. */
export interface AccountView {
  readonly accountId: string;
  readonly balance: number;
  readonly currency?: string;
  readonly applied: number;
  readonly rejected: number;
  readonly [extra: string]: unknown;
}

/** One `POST /payments` call. Use `rawBody` to send bytes that are not JSON. */
export interface CreatePaymentInput {
  /** Body, serialised as JSON (ignored when `rawBody` is given). */
  readonly body?: unknown;
  /** Exact body text, for malformed-request cases. */
  readonly rawBody?: string;
  /** `Idempotency-Key` header; omit it to send none. */
  readonly idempotencyKey?: string;
  /** Extra headers. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Thrown when the API cannot be reached or does not answer in time. */
export class ApiRequestError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    options?: ErrorOptions,
  ) {
    super(`${method} ${url} failed: ${options?.cause instanceof Error ? options.cause.message : String(options?.cause)}`, options);
    this.name = 'ApiRequestError';
  }
}

/** Thrown by the constructor for an unusable `apiUrl`. */
export class ApiClientConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ApiClientConfigError';
  }
}

/** AWS credentials (access key, secret, optional session token), the SDK's own type. */
export type AwsCredentialIdentity = Awaited<ReturnType<SQSClient['config']['credentials']>>;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const DUMMY_CREDENTIALS: AwsCredentialIdentity = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Client for the payments API; one instance per API URL. */
export class PaymentsApiClient {
  readonly baseUrl: URL;
  readonly region: string;
  private readonly signer?: SignatureV4;
  private readonly timeoutMs: number;

  /** @throws ApiClientConfigError when `apiUrl` is not an http(s) URL. */
  constructor(options: PaymentsApiClientOptions) {
    let url: URL;
    try {
      url = new URL(options.apiUrl);
    } catch (error) {
      throw new ApiClientConfigError(
        `apiUrl (${options.apiUrl}) is not a URL; pass the stack's ApiUrl output, e.g. http://127.0.0.1:3000/dev/`,
        { cause: error },
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ApiClientConfigError(`apiUrl (${options.apiUrl}) must be http(s)`);
    }
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    this.baseUrl = url;
    this.region = options.region ?? regionFromHost(url.hostname) ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
    this.timeoutMs = options.timeoutMs ?? 30_000;
    if (options.sign ?? true) {
      this.signer = new SignatureV4({
        service: 'execute-api',
        region: this.region,
        credentials: options.credentials ?? defaultCredentials(LOOPBACK.has(url.hostname)),
        sha256: Sha256,
      });
    }
  }

  /** `POST /payments`. */
  async createPayment(input: CreatePaymentInput): Promise<ApiResponse<PaymentAccepted>> {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...input.headers };
    if (input.idempotencyKey !== undefined) headers['idempotency-key'] = input.idempotencyKey;
    const body = input.rawBody ?? JSON.stringify(input.body);
    return this.request<PaymentAccepted>('POST', 'payments', { headers, body });
  }

  /** `GET /accounts/{accountId}`. */
  async getAccount(accountId: string): Promise<ApiResponse<AccountView>> {
    return this.request<AccountView>('GET', `accounts/${encodeURIComponent(accountId)}`);
  }

  /**
   * Sends a signed request to `path` (relative to the API URL, without a leading slash).
   * @throws ApiRequestError when the request cannot be sent or times out.
   */
  async request<T = unknown>(
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: string } = {},
  ): Promise<ApiResponse<T>> {
    const url = new URL(path, this.baseUrl);
    let headers: Record<string, string> = { accept: 'application/json', ...init.headers, host: url.host };
    if (this.signer) {
      const query: Record<string, string> = {};
      url.searchParams.forEach((value, key) => (query[key] = value));
      const signed = await this.signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port === '' ? undefined : Number(url.port),
        path: url.pathname,
        query,
        headers,
        body: init.body,
      });
      headers = signed.headers;
    }
    // fetch sets Host itself (to url.host, the value signed above) and refuses to be given one.
    const { host: _host, ...sendHeaders } = headers;
    const started = performance.now();
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, { method, headers: sendHeaders, body: init.body, signal: AbortSignal.timeout(this.timeoutMs) });
      text = await response.text();
    } catch (error) {
      throw new ApiRequestError(method, url.toString(), { cause: error });
    }
    const durationMs = performance.now() - started;
    const responseHeaders: Record<string, string> = {};
    response.headers.forEach((value, key) => (responseHeaders[key] = value));
    return { status: response.status, headers: responseHeaders, text, body: parseJson<T>(text), durationMs };
  }
}

function regionFromHost(hostname: string): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(hostname)?.[1];
}

function defaultCredentials(loopback: boolean): () => Promise<AwsCredentialIdentity> {
  let cached: Promise<AwsCredentialIdentity> | undefined;
  return () => {
    cached ??= (async () => {
      // The SQS client resolves the SDK's default credential chain; borrowing it avoids another dependency.
      const client = new SQSClient({ region: process.env.AWS_REGION ?? 'us-east-1' });
      try {
        return await client.config.credentials();
      } catch (error) {
        if (loopback) return DUMMY_CREDENTIALS;
        throw error;
      } finally {
        client.destroy();
      }
    })();
    return cached;
  };
}

function parseJson<T>(text: string): T | undefined {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
