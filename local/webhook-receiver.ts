import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { mulberry32 } from '../lambdas/shared/seeded-random.js';

/**
 * A webhook endpoint for `npm start`, the demo, the end-to-end suite and the chaos harness: it verifies Standard
 * Webhooks signatures (when given the secret), records every call and the unique deliveries by `webhook-id` (else
 * `Idempotency-Key`), and can be told to fail (5xx) or hang for chosen keys or a fraction of calls.
 *
 * A *delivery* is a call the receiver accepted, i.e. answered 2xx to a client that was still connected. A call
 * answered 5xx, or one held ("hung") until the client gave up, is recorded in {@link WebhookReceiver.calls} but is
 * not a delivery: the sender saw a failure and is expected to retry.
 */

/** Options for {@link startWebhookReceiver}. */
export interface WebhookReceiverOptions {
  /** Port to listen on; 0 picks a free one. @default 0 */
  readonly port?: number;
  /**
   * When `port` is taken, listen on a free port instead of failing (check {@link WebhookReceiver.port}). Lets a
   * caller prefer a stable URL (so a synthesized app with the URL in its context can be reused) without clashing.
   * @default false
   */
  readonly fallbackToFreePort?: boolean;
  /** Bind address. Use `0.0.0.0` when a container or a remote deployment must reach it. @default '127.0.0.1' */
  readonly host?: string;
  /** Path the URL points at (any path is accepted; this only shapes {@link WebhookReceiver.url}). @default '/webhook' */
  readonly path?: string;
  /** Initial behaviour. @default - accept every call with 200 */
  readonly behaviour?: WebhookBehaviour;
  /** Largest body accepted, in bytes; larger bodies get 413. @default 1048576 */
  readonly maxBodyBytes?: number;
  /**
   * Signing secret(s) to verify `webhook-signature` with (`whsec_<base64>` or base64, several separated by spaces
   * during a rotation); a function is asked on every call, so the secret can be set after the receiver started.
   * A call without valid headers, with no matching signature or with a timestamp outside the tolerance is answered
   * 401 and recorded as `rejected`.
   * @default - signatures are not checked
   */
  readonly secret?: string | (() => string | undefined);
  /** Largest distance between `webhook-timestamp` and the receiver's clock, in seconds. @default 300 */
  readonly toleranceSeconds?: number;
  /** The receiver's clock (epoch ms). @default Date.now */
  readonly now?: () => number;
  /** Called once per answered call (for a one-line log). @default - nothing */
  readonly onCall?: (call: WebhookCall, info: { readonly duplicate: boolean }) => void;
}

/**
 * How the receiver answers. Failing and hanging are decided per call: a key listed in `failKeys` fails its first
 * `failAttempts` calls; otherwise a call fails with probability `failFraction` (seeded, reproducible).
 */
export interface WebhookBehaviour {
  /** Idempotency-Keys to answer with `failStatus`. @default - none */
  readonly failKeys?: readonly string[];
  /** Fraction (0–1) of the other calls to answer with `failStatus`. @default 0 */
  readonly failFraction?: number;
  /** Status answered to a failing call (500–599). @default 503 */
  readonly failStatus?: number;
  /** How many calls per key fail before the key is accepted (applies to `failKeys` and `failFraction`). @default Infinity for failKeys, 1 for failFraction */
  readonly failAttempts?: number;
  /** Idempotency-Keys whose calls are held without an answer. @default - none */
  readonly hangKeys?: readonly string[];
  /** Fraction (0–1) of the other calls to hold. @default 0 */
  readonly hangFraction?: number;
  /** How long a held call waits before it is answered 200 (if the client is still there). @default 30000 */
  readonly hangMs?: number;
  /** How many calls per key hang before the key is answered at once. @default 1 */
  readonly hangAttempts?: number;
  /** Seed of the fraction decisions. @default 1 */
  readonly seed?: number;
}

/** What the receiver did with one call. */
export type WebhookOutcome = 'accepted' | 'failed' | 'hung' | 'rejected';

/** One recorded call. */
export interface WebhookCall {
  /** 1-based order of arrival. */
  readonly seq: number;
  readonly method: string;
  readonly path: string;
  /** Lower-cased header names, as Node gives them. */
  readonly headers: IncomingHttpHeaders;
  /** The dedup key: the `webhook-id` header, else the `Idempotency-Key` header, when present. */
  readonly idempotencyKey?: string;
  /** The `webhook-id` header, when present. */
  readonly webhookId?: string;
  /** Signature check: true (a signature matched, timestamp within tolerance), false (rejected), undefined (not checked). */
  readonly verified?: boolean;
  /** Why the signature check failed. */
  readonly rejection?: string;
  /** Raw body text. */
  readonly body: string;
  /** The body parsed as JSON, when it is JSON. */
  readonly json?: unknown;
  /** Epoch ms when the request's body was fully read. */
  readonly receivedAt: number;
  /** Epoch ms when the answer was written or the client went away. */
  respondedAt?: number;
  /** Status answered (undefined while hanging or when the client left first). */
  status?: number;
  outcome?: WebhookOutcome;
}

/** A running receiver. */
export interface WebhookReceiver {
  /** URL to configure as the webhook, e.g. `http://127.0.0.1:40123/webhook`. */
  readonly url: string;
  readonly port: number;
  /** Every call, in arrival order (including failed and hung ones). */
  calls(): readonly WebhookCall[];
  /** The first accepted call of each Idempotency-Key, in acceptance order. */
  uniqueDeliveries(): readonly WebhookCall[];
  /** Idempotency-Keys accepted more than once, with their count: an exactly-once violation at this layer. */
  duplicateDeliveries(): ReadonlyMap<string, number>;
  /** Replaces the behaviour for the calls that arrive from now on. */
  setBehaviour(behaviour: WebhookBehaviour): void;
  /**
   * Resolves once `predicate` holds over the recorded calls (checked on every call and every `pollMs`).
   * @throws WebhookWaitTimeoutError after `timeoutMs`.
   */
  waitFor(predicate: (receiver: WebhookReceiver) => boolean, options?: { timeoutMs?: number; pollMs?: number }): Promise<void>;
  /** Forgets every recorded call and per-key attempt counter (the behaviour stays). */
  reset(): void;
  /** Answers held calls, closes the server and its connections. */
  stop(): Promise<void>;
}

/** Thrown by {@link WebhookReceiver.waitFor} when the condition does not hold in time. */
export class WebhookWaitTimeoutError extends Error {
  constructor(
    readonly timeoutMs: number,
    readonly callsSeen: number,
    options?: ErrorOptions,
  ) {
    super(`Webhook receiver: condition not met within ${timeoutMs} ms (${callsSeen} calls recorded)`, options);
    this.name = 'WebhookWaitTimeoutError';
  }
}

/** Thrown by {@link startWebhookReceiver} for an invalid behaviour. */
export class WebhookBehaviourError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'WebhookBehaviourError';
  }
}

const DEFAULT_HANG_MS = 30_000;

/**
 * Starts a webhook receiver on `host:port` (127.0.0.1 and a free port by default).
 * @throws WebhookBehaviourError when the behaviour is out of range.
 */
export async function startWebhookReceiver(options: WebhookReceiverOptions = {}): Promise<WebhookReceiver> {
  const host = options.host ?? '127.0.0.1';
  const path = options.path ?? '/webhook';
  const maxBodyBytes = options.maxBodyBytes ?? 1_048_576;
  let behaviour = validateBehaviour(options.behaviour ?? {});
  let random = mulberry32(behaviour.seed ?? 1);

  const recorded: WebhookCall[] = [];
  const failuresByKey = new Map<string, number>();
  const hangsByKey = new Map<string, number>();
  const held = new Set<{ timer: NodeJS.Timeout; release: () => void }>();
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((check) => check());

  const decide = (key: string | undefined): 'accept' | 'fail' | 'hang' => {
    const k = key ?? '';
    const hangLimit = behaviour.hangAttempts ?? 1;
    const hangListed = key !== undefined && (behaviour.hangKeys ?? []).includes(key);
    if ((hangListed || random() < (behaviour.hangFraction ?? 0)) && (hangsByKey.get(k) ?? 0) < hangLimit) {
      hangsByKey.set(k, (hangsByKey.get(k) ?? 0) + 1);
      return 'hang';
    }
    const failListed = key !== undefined && (behaviour.failKeys ?? []).includes(key);
    const failLimit = behaviour.failAttempts ?? (failListed ? Infinity : 1);
    if ((failListed || random() < (behaviour.failFraction ?? 0)) && (failuresByKey.get(k) ?? 0) < failLimit) {
      failuresByKey.set(k, (failuresByKey.get(k) ?? 0) + 1);
      return 'fail';
    }
    return 'accept';
  };

  const answer = (call: WebhookCall, res: ServerResponse, status: number, outcome: WebhookOutcome, body: unknown) => {
    if (res.destroyed || res.writableEnded) {
      call.outcome ??= 'hung';
      call.respondedAt ??= Date.now();
      notify();
      return;
    }
    const duplicate = outcome === 'accepted' && recorded.some((c) => c !== call && c.outcome === 'accepted' && c.idempotencyKey === call.idempotencyKey);
    call.status = status;
    call.outcome = outcome;
    call.respondedAt = Date.now();
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
    options.onCall?.(call, { duplicate });
    notify();
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const webhookId = firstHeader(req.headers, 'webhook-id');
      const idempotencyKey = webhookId ?? firstHeader(req.headers, 'idempotency-key');
      const secret = typeof options.secret === 'function' ? options.secret() : options.secret;
      const check = secret === undefined ? undefined : verifySignature(secret, req.headers, body, options.toleranceSeconds ?? 300, (options.now ?? Date.now)());
      const call: WebhookCall = {
        seq: recorded.length + 1,
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: req.headers,
        idempotencyKey,
        webhookId,
        verified: check === undefined ? undefined : check === true,
        rejection: typeof check === 'string' ? check : undefined,
        body,
        json: parseJson(body),
        receivedAt: Date.now(),
      };
      recorded.push(call);
      if (tooLarge) return answer(call, res, 413, 'rejected', { message: `body larger than ${maxBodyBytes} bytes` });
      if (typeof check === 'string') return answer(call, res, 401, 'rejected', { message: `signature rejected: ${check}` });
      const decision = decide(idempotencyKey);
      if (decision === 'fail') {
        return answer(call, res, behaviour.failStatus ?? 503, 'failed', { message: 'injected failure' });
      }
      if (decision === 'hang') {
        call.outcome = 'hung';
        const entry = {
          timer: setTimeout(() => entry.release(), behaviour.hangMs ?? DEFAULT_HANG_MS),
          release: () => {
            clearTimeout(entry.timer);
            held.delete(entry);
            // A client still waiting after the hang gets its 200: the effect happened, late.
            if (!res.destroyed) answer(call, res, 200, 'accepted', { received: true, late: true });
            else answer(call, res, 0, 'hung', null);
          },
        };
        held.add(entry);
        res.once('close', () => {
          if (held.has(entry)) {
            call.respondedAt = Date.now();
            entry.release();
          }
        });
        notify();
        return;
      }
      answer(call, res, 200, 'accepted', { received: true });
    });
  };

  const server = createServer(onRequest);
  server.keepAliveTimeout = 5_000;
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  try {
    await listen(options.port ?? 0);
  } catch (error) {
    if (!options.fallbackToFreePort || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    await listen(0);
  }
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;

  const receiver: WebhookReceiver = {
    url: `http://${urlHost}:${port}${path}`,
    port,
    calls: () => recorded,
    uniqueDeliveries: () => {
      const seen = new Set<string>();
      const unique: WebhookCall[] = [];
      for (const call of acceptedInOrder(recorded)) {
        const key = call.idempotencyKey ?? '';
        if (!seen.has(key)) {
          seen.add(key);
          unique.push(call);
        }
      }
      return unique;
    },
    duplicateDeliveries: () => {
      const counts = new Map<string, number>();
      for (const call of recorded) {
        if (call.outcome !== 'accepted') continue;
        const key = call.idempotencyKey ?? '';
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      return new Map([...counts].filter(([, n]) => n > 1));
    },
    setBehaviour: (next) => {
      behaviour = validateBehaviour(next);
      random = mulberry32(behaviour.seed ?? 1);
    },
    waitFor: (predicate, waitOptions = {}) => {
      const timeoutMs = waitOptions.timeoutMs ?? 30_000;
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          let done = false;
          try {
            done = predicate(receiver);
          } catch (error) {
            cleanup();
            reject(error instanceof Error ? error : new Error(String(error)));
            return;
          }
          if (done) {
            cleanup();
            resolve();
          }
        };
        const poll = setInterval(check, waitOptions.pollMs ?? 100);
        const timer = setTimeout(() => {
          cleanup();
          reject(new WebhookWaitTimeoutError(timeoutMs, recorded.length));
        }, timeoutMs);
        const cleanup = () => {
          clearInterval(poll);
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    reset: () => {
      recorded.length = 0;
      failuresByKey.clear();
      hangsByKey.clear();
    },
    stop: async () => {
      for (const entry of [...held]) entry.release();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return receiver;
}

function firstHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Standard Webhooks verification with the receiver's own clock: the three headers present, the timestamp within
 * `toleranceSeconds` of `nowMs`, and one `v1,` signature of the header list equal (constant-time) to the HMAC of
 * `<id>.<timestamp>.<body>` under one of the keys.
 * @returns true, or the reason the call is rejected.
 */
export function verifySignature(secret: string, headers: IncomingHttpHeaders, body: string, toleranceSeconds: number, nowMs: number): true | string {
  const id = firstHeader(headers, 'webhook-id');
  const timestamp = firstHeader(headers, 'webhook-timestamp');
  const signature = firstHeader(headers, 'webhook-signature');
  if (!id || !timestamp || !signature) return 'missing webhook-id, webhook-timestamp or webhook-signature';
  if (!/^\d+$/.test(timestamp)) return `webhook-timestamp "${timestamp}" is not Unix seconds`;
  const skew = Math.floor(nowMs / 1000) - Number(timestamp);
  if (Math.abs(skew) > toleranceSeconds) {
    return `webhook-timestamp is ${Math.abs(skew)} s ${skew > 0 ? 'old' : 'in the future'}, outside the ${toleranceSeconds} s tolerance`;
  }
  const passed = signature.split(' ').filter((s) => s.startsWith('v1,'));
  for (const key of secret.split(/\s+/).filter((k) => k !== '')) {
    const expected = Buffer.from(new Webhook(key).sign(id, new Date(Number(timestamp) * 1000), body));
    if (passed.some((p) => p.length === expected.length && timingSafeEqual(Buffer.from(p), expected))) return true;
  }
  return 'no signature matches the signing secret';
}

function acceptedInOrder(calls: readonly WebhookCall[]): WebhookCall[] {
  return calls
    .filter((call) => call.outcome === 'accepted')
    .sort((a, b) => (a.respondedAt ?? 0) - (b.respondedAt ?? 0) || a.seq - b.seq);
}

function validateBehaviour(behaviour: WebhookBehaviour): WebhookBehaviour {
  const fraction = (name: string, value: number | undefined) => {
    if (value !== undefined && !(value >= 0 && value <= 1)) {
      throw new WebhookBehaviourError(`${name} (${value}) must be between 0 and 1; pass e.g. 0.2 for 20 % of calls`);
    }
  };
  fraction('failFraction', behaviour.failFraction);
  fraction('hangFraction', behaviour.hangFraction);
  const status = behaviour.failStatus;
  if (status !== undefined && !(Number.isInteger(status) && status >= 500 && status <= 599)) {
    throw new WebhookBehaviourError(`failStatus (${status}) must be an integer 500-599; use 503 for a retryable outage`);
  }
  for (const [name, value] of [
    ['failAttempts', behaviour.failAttempts],
    ['hangAttempts', behaviour.hangAttempts],
    ['hangMs', behaviour.hangMs],
  ] as const) {
    if (value !== undefined && !(value >= 0)) {
      throw new WebhookBehaviourError(`${name} (${value}) must be 0 or more`);
    }
  }
  return behaviour;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

