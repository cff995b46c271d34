import type { PaymentEvent } from '../shared/payments-model.js';
import { WebhookDeliveryError } from './errors.js';

/** Port: delivers one event to the webhook, resolving only on a 2xx. */
export interface WebhookClient {
  deliver(event: PaymentEvent): Promise<{ readonly status: number }>;
}

/** Options of {@link HttpWebhookClient}. */
export interface HttpWebhookClientOptions {
  readonly url: string;
  /** Request timeout in milliseconds (AbortSignal.timeout). */
  readonly timeoutMs: number;
  /** fetch implementation. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/**
 * POSTs the event JSON with header `Idempotency-Key: <eventId>` so the receiver can dedup the deliveries this
 * at-least-once pipeline may still repeat (a crash after the call and before the record completes).
 */
export class HttpWebhookClient implements WebhookClient {
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: HttpWebhookClientOptions) {
    if (!Number.isInteger(options.timeoutMs) || options.timeoutMs <= 0) {
      throw new RangeError(`webhook timeoutMs (${options.timeoutMs}) must be a positive integer number of milliseconds`);
    }
    this.#url = options.url;
    this.#timeoutMs = options.timeoutMs;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  /** @throws WebhookDeliveryError on a non-2xx answer, a timeout or a network error. */
  async deliver(event: PaymentEvent): Promise<{ status: number }> {
    let response: Response;
    try {
      response = await this.#fetch(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'Idempotency-Key': event.eventId },
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      throw new WebhookDeliveryError(
        event.eventId,
        timedOut ? `Webhook did not answer within ${this.#timeoutMs} ms` : `Webhook request failed: ${(error as Error).message}`,
        undefined,
        { cause: error },
      );
    }
    // Read the body so the connection can be reused; its content is not needed.
    await response.arrayBuffer().catch(() => undefined);
    if (response.status < 200 || response.status > 299) {
      throw new WebhookDeliveryError(event.eventId, `Webhook answered ${response.status}`, response.status);
    }
    return { status: response.status };
  }
}
