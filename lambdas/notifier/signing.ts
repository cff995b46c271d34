import { Webhook } from 'standardwebhooks';
import { WebhookSecretError } from './errors.js';

/**
 * Standard Webhooks signing: `webhook-signature: v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">`,
 * one signature per signing key, space-separated, so that during a key rotation receivers holding the old key and
 * receivers holding the new one both verify the same delivery.
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */

/** Prefix of a Standard Webhooks secret (`whsec_<base64 key>`). */
export const SECRET_PREFIX = 'whsec_';

/** Shortest and longest signing key the Standard Webhooks specification recommends, in bytes. */
export const MIN_KEY_BYTES = 24;
export const MAX_KEY_BYTES = 64;

/** Port: signs one delivery. */
export interface WebhookSigner {
  /** The `webhook-signature` header value for this id, timestamp and exact body. */
  sign(webhookId: string, timestamp: Date, body: string): Promise<string>;
}

/**
 * Parses the signing secret's value: one or more keys separated by whitespace, each `whsec_<base64>` or the bare
 * base64 (Secrets Manager's generated value; `standardwebhooks` accepts both). Two keys = a rotation in progress.
 * @throws WebhookSecretError naming which key is wrong and why (never its value).
 */
export function parseSigningKeys(value: string): string[] {
  const keys = value.split(/\s+/).filter((part) => part !== '');
  if (keys.length === 0) throw new WebhookSecretError('the webhook signing secret is empty; store a whsec_<base64> key in it');
  keys.forEach((key, i) => {
    const body = key.startsWith(SECRET_PREFIX) ? key.slice(SECRET_PREFIX.length) : key;
    const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(body) && body.length % 4 === 0 ? Buffer.from(body, 'base64').length : -1;
    if (bytes < 0) {
      throw new WebhookSecretError(`signing key ${i + 1} of ${keys.length} is not ${SECRET_PREFIX}<base64>; store keys such as whsec_$(openssl rand -base64 32)`);
    }
    if (bytes < MIN_KEY_BYTES || bytes > MAX_KEY_BYTES) {
      throw new WebhookSecretError(`signing key ${i + 1} of ${keys.length} is ${bytes} bytes; use ${MIN_KEY_BYTES}-${MAX_KEY_BYTES} random bytes`);
    }
  });
  return keys;
}

/** Signs with every key of a secret value (see {@link parseSigningKeys}). */
export function signatureHeader(keys: readonly string[], webhookId: string, timestamp: Date, body: string): string {
  return keys.map((key) => new Webhook(key).sign(webhookId, timestamp, body)).join(' ');
}

/**
 * A signer whose keys come from a secret store, read when first needed and cached by the store (Powertools
 * parameters: once per cold start, again after `maxAge` so a rotation reaches warm functions).
 */
export class SecretWebhookSigner implements WebhookSigner {
  readonly #readSecret: () => Promise<string | undefined>;

  /** @param readSecret - returns the secret's current value (cached by the caller). */
  constructor(readSecret: () => Promise<string | undefined>) {
    this.#readSecret = readSecret;
  }

  /** @throws WebhookSecretError when the secret is missing or malformed. */
  async sign(webhookId: string, timestamp: Date, body: string): Promise<string> {
    const value = await this.#readSecret();
    if (typeof value !== 'string') throw new WebhookSecretError('the webhook signing secret has no string value');
    return signatureHeader(parseSigningKeys(value), webhookId, timestamp, body);
  }
}
