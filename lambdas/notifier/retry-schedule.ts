/**
 * The webhook retry schedule: exponential backoff with jitter per event, spread over a horizon (default 24 h, like
 * the webhook senders users know), then the dead-letter queue.
 *
 * The delay before attempt n+1 is `base × 2^(n-1)`, capped at SQS's largest visibility timeout (12 h), with `base`
 * chosen so that the nominal delays add up to the horizon. Each delay is stretched by a random 0–25 % (jitter), so
 * events that failed together do not all come back at the same second, and the schedule never ends before the horizon.
 * The notifier applies a delay with ChangeMessageVisibility on the failed record's receipt handle.
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html
 */

/** SQS's largest visibility timeout (12 hours), hence the longest single delay. */
export const MAX_DELAY_SECONDS = 43_200;

/** Largest jitter, as a fraction of the nominal delay (added, never subtracted). */
export const JITTER_FRACTION = 0.25;

/** Default number of delivery attempts (the events queue's maxReceiveCount). */
export const DEFAULT_WEBHOOK_MAX_ATTEMPTS = 10;

/** Default time from the first attempt to the last, in seconds (24 h). */
export const DEFAULT_WEBHOOK_RETRY_HORIZON_SECONDS = 86_400;

/** A retry schedule: how many attempts, spread over how long. */
export interface RetrySchedule {
  /** Delivery attempts in all, the first included (2 or more). */
  readonly maxAttempts: number;
  /** Nominal time from the first attempt to the last, in seconds. */
  readonly horizonSeconds: number;
}

/** Why a schedule cannot be built: the message names the values and the fix. */
export class RetryScheduleError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'RetryScheduleError';
  }
}

/**
 * Checks a schedule: at least 2 attempts, a positive horizon, and one the capped delays can reach.
 * @throws RetryScheduleError naming the value and the fix.
 */
export function validateRetrySchedule(schedule: RetrySchedule): void {
  const { maxAttempts, horizonSeconds } = schedule;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 2) {
    throw new RetryScheduleError(`webhook maxAttempts (${maxAttempts}) must be an integer of 2 or more`);
  }
  if (!Number.isFinite(horizonSeconds) || horizonSeconds < maxAttempts - 1) {
    throw new RetryScheduleError(`webhook retry horizon (${horizonSeconds} s) must be at least 1 s per retry (${maxAttempts - 1} s)`);
  }
  const reachable = (maxAttempts - 1) * MAX_DELAY_SECONDS;
  if (horizonSeconds > reachable) {
    throw new RetryScheduleError(
      `webhook retry horizon (${horizonSeconds} s) cannot be reached with ${maxAttempts} attempts: each delay is at most ` +
        `${MAX_DELAY_SECONDS} s (SQS's largest visibility timeout), so at most ${reachable} s; raise maxAttempts to ` +
        `${Math.ceil(horizonSeconds / MAX_DELAY_SECONDS) + 1} or lower the horizon`,
    );
  }
}

/**
 * The nominal delays (seconds, before jitter) between consecutive attempts: `maxAttempts - 1` values, doubling, each
 * at most 12 h, adding up to the horizon (to the second).
 * @throws RetryScheduleError for an invalid schedule.
 */
export function nominalDelays(schedule: RetrySchedule): number[] {
  validateRetrySchedule(schedule);
  const retries = schedule.maxAttempts - 1;
  const delaysFor = (base: number) => Array.from({ length: retries }, (_, i) => Math.min(MAX_DELAY_SECONDS, base * 2 ** i));
  const total = (base: number) => delaysFor(base).reduce((sum, d) => sum + d, 0);
  // The total grows with the base: bisect for the base whose capped delays add up to the horizon.
  let low = 0;
  let high = schedule.horizonSeconds;
  for (let i = 0; i < 100; i++) {
    const mid = (low + high) / 2;
    if (total(mid) < schedule.horizonSeconds) low = mid;
    else high = mid;
  }
  return delaysFor(high).map((d) => Math.max(1, Math.round(d)));
}

/** Input of {@link retryDelaySeconds}. */
export interface RetryDelayInput {
  /** The attempt that just failed, 1-based (the record's ApproximateReceiveCount). */
  readonly attempt: number;
  readonly schedule: RetrySchedule;
  /** Uniform random number in [0, 1) for the jitter. @default Math.random */
  readonly random?: () => number;
  /** Seconds the receiver asked to wait (`Retry-After`), if any. */
  readonly retryAfterSeconds?: number;
}

/**
 * Seconds to wait before the next attempt: the schedule's delay for this attempt with jitter, or longer when the
 * receiver's `Retry-After` asks for it, at most 12 h. Returns 0 after the last attempt: the message becomes visible at
 * once and SQS moves it to the dead-letter queue on its next receive (maxReceiveCount = maxAttempts).
 */
export function retryDelaySeconds(input: RetryDelayInput): number {
  const delays = nominalDelays(input.schedule);
  if (input.attempt >= input.schedule.maxAttempts) return 0;
  const nominal = delays[Math.max(0, input.attempt - 1)]!;
  const jittered = Math.round(nominal * (1 + JITTER_FRACTION * (input.random ?? Math.random)()));
  const wanted = Math.max(jittered, Math.ceil(input.retryAfterSeconds ?? 0));
  return Math.min(MAX_DELAY_SECONDS, wanted);
}

/**
 * Parses a `Retry-After` header: delay-seconds or an HTTP date.
 * @returns seconds from `now`, or undefined when absent or unreadable (the schedule's delay applies).
 * @see https://www.rfc-editor.org/rfc/rfc9110#field.retry-after
 */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now.getTime()) / 1000));
}

/**
 * What a webhook answer means for the event. 2xx: delivered. 408, 409, 425, 429, 5xx, 3xx, a timeout or a network
 * error: retried on the schedule (the receiver is busy, conflicted, or down). Any other 4xx: the receiver refuses this
 * request as it is (bad signature, unknown endpoint, payload refused), and the same bytes will be refused again:
 * the event goes straight to the dead-letter queue with the status and the reason, for an operator to redrive once
 * the receiver is fixed, instead of retrying for a day.
 */
export type WebhookAnswerClass = 'delivered' | 'retry' | 'dead-letter';

/** Statuses of the 4xx range that mean "try again later" (RFC 9110 408, 409 conflict, RFC 8470 425, RFC 6585 429). */
export const RETRYABLE_4XX: readonly number[] = [408, 409, 425, 429];

/** Classifies a webhook answer; `undefined` = no answer (timeout, network error). */
export function classifyWebhookAnswer(status: number | undefined): WebhookAnswerClass {
  if (status === undefined) return 'retry';
  if (status >= 200 && status <= 299) return 'delivered';
  if (status >= 400 && status <= 499 && !RETRYABLE_4XX.includes(status)) return 'dead-letter';
  return 'retry';
}
