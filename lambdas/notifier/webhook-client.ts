import type { PaymentEvent } from '../shared/payments-model.js';
import { WebhookDeliveryError } from './errors.js';
import { parseRetryAfter } from './retry-schedule.js';
import type { WebhookSigner } from './signing.js';

/** Port: delivers one event to the webhook, resolving only on a 2xx. */
export interface WebhookClient {
  deliver(event: PaymentEvent): Promise<{ readonly status: number }>;
}

/** Standard Webhooks header names (lower case, as HTTP/2 and Node give them). */
export const WEBHOOK_HEADERS = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;

/** Options of {@link HttpWebhookClient}. */
export interface HttpWebhookClientOptions {
  readonly url: string;
  /** Request timeout in milliseconds (AbortSignal.timeout). */
  readonly timeoutMs: number;
  /** Signs each delivery (Standard Webhooks `webhook-signature`). */
  readonly signer: WebhookSigner;
  /** fetch implementation. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Clock of `webhook-timestamp`. @default () => new Date() */
  readonly now?: () => Date;
}

/**
 * POSTs the event JSON, signed per Standard Webhooks: `webhook-id` = the event id (the receiver dedups on it: this
 * at-least-once pipeline may still repeat a delivery after a crash between the call and its record completing),
 * `webhook-timestamp` (Unix seconds) and `webhook-signature`. `Idempotency-Key` carries the same event id for
 * receivers written before the signed contract.
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
export class HttpWebhookClient implements WebhookClient {
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #signer: WebhookSigner;
  readonly #fetch: typeof fetch;
  readonly #now: () => Date;

  constructor(options: HttpWebhookClientOptions) {
    if (!Number.isInteger(options.timeoutMs) || options.timeoutMs <= 0) {
      throw new RangeError(`webhook timeoutMs (${options.timeoutMs}) must be a positive integer number of milliseconds`);
    }
    this.#url = options.url;
    this.#timeoutMs = options.timeoutMs;
    this.#signer = options.signer;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * @throws WebhookDeliveryError on a non-2xx answer (with its status and `Retry-After`), a timeout or a network error.
   * @throws WebhookSecretError when the signing secret cannot be read or used (nothing is sent).
   */
  async deliver(event: PaymentEvent): Promise<{ status: number }> {
    const body = JSON.stringify(event);
    const timestamp = this.#now();
    const signature = await this.#signer.sign(event.eventId, timestamp, body);
    let response: Response;
    try {
      response = await this.#fetch(this.#url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [WEBHOOK_HEADERS.id]: event.eventId,
          [WEBHOOK_HEADERS.timestamp]: String(Math.floor(timestamp.getTime() / 1000)),
          [WEBHOOK_HEADERS.signature]: signature,
          'Idempotency-Key': event.eventId,
        },
        body,
        // A redirect is an answer, not a delivery: signed bytes are not re-sent to another host.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      throw new WebhookDeliveryError(
        event.eventId,
        timedOut
          ? `Webhook ${this.#url} did not answer within ${this.#timeoutMs} ms`
          : `Webhook request to ${this.#url} failed: ${(error as Error).message}${causeOf(error)}`,
        undefined,
        { cause: error },
      );
    }
    // Read the body so the connection can be reused; its content is not needed.
    await response.arrayBuffer().catch(() => undefined);
    if (response.status < 200 || response.status > 299) {
      throw new WebhookDeliveryError(event.eventId, `Webhook ${this.#url} answered ${response.status}`, response.status, {
        retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after'), this.#now()),
      });
    }
    return { status: response.status };
  }
}

/** fetch's "fetch failed" hides the reason (ECONNREFUSED, ENOTFOUND) in `cause`. */
function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause ? ` (${cause.code ?? cause.message})` : '';
}
