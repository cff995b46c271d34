import { LEDGER_STRATEGIES, type LedgerStrategyName } from '../lambdas/ledger/strategy.js';
import {
  DEFAULT_WEBHOOK_MAX_ATTEMPTS,
  DEFAULT_WEBHOOK_RETRY_HORIZON_SECONDS,
  RetryScheduleError,
  validateRetrySchedule,
} from '../lambdas/notifier/retry-schedule.js';
import { ConfigError } from './errors.js';

/** Deployment stages with their own safe defaults. */
export const STAGES = ['dev', 'prod'] as const;
/** A deployment stage: `dev` or `prod`. */
export type Stage = (typeof STAGES)[number];

/** Encryption-key choices for queues, tables and the alarm topic. */
export const KMS_KEY_MODES = ['aws-managed', 'customer-managed'] as const;
/** `aws-managed` (AWS-owned/managed keys) or `customer-managed` (one rotating key created by the stack). */
export type KmsKeyMode = (typeof KMS_KEY_MODES)[number];

/** Typed configuration of the payments stack, read from CDK context (`-c key=value` or cdk.json). */
export interface PaymentsConfig {
  /** `dev` (DESTROY on delete) or `prod` (RETAIN, deletion protection). Context `stage`, default `dev`. */
  readonly stage: Stage;
  /**
   * Webhook the notifier delivers signed events to. Context `webhookUrl`, required; https in every stage but `dev`
   * (`npm start` runs a built-in local receiver when none is given).
   */
  readonly webhookUrl: string;
  /**
   * Webhook delivery attempts in all, the first included: the events queue's maxReceiveCount. Context
   * `webhookMaxAttempts`, default 10 (5–100).
   */
  readonly webhookMaxAttempts: number;
  /**
   * Nominal time from the first webhook attempt to the last, in hours (exponential backoff with 0–25 % jitter, each
   * delay at most 12 h). Context `webhookRetryHorizonHours`, default 24 (0.01–72, decimals allowed so local runs can
   * compress it; the events queue keeps a message 4 days).
   */
  readonly webhookRetryHorizonHours: number;
  /** Ledger consumer strategy. Context `ledgerStrategy`, default `atomic`. */
  readonly ledgerStrategy: LedgerStrategyName;
  /** Email subscribed to the alarm topic. Context `alarmEmail`, optional. */
  readonly alarmEmail?: string;
  /** Existing SNS topic for alarms (instead of a created one). Context `alarmTopicArn`, optional. */
  readonly alarmTopicArn?: string;
  /** Key for encryption at rest. Context `kmsKey`, default `aws-managed`. */
  readonly kmsKey: KmsKeyMode;
  /** Require an API key (usage plan) on top of IAM auth. Context `apiKey`, default false. */
  readonly apiKey: boolean;
  /** Stage throttling: steady requests per second. Context `throttleRateLimit`, default 100. */
  readonly throttleRateLimit: number;
  /** Stage throttling: burst. Context `throttleBurstLimit`, default 200. */
  readonly throttleBurstLimit: number;
  /** Lambda memory (MB) of every function. Context `memorySize`, default 512. */
  readonly memorySize: number;
  /**
   * Timeout (s) of the queue and stream consumers; queue visibility is 6 × this. Context `consumerTimeoutSeconds`,
   * default 30 (the local chaos runs use a few seconds so redelivery is quick).
   */
  readonly consumerTimeoutSeconds: number;
  /**
   * Webhook request timeout (ms); must be shorter than the notifier's function timeout (`consumerTimeoutSeconds`).
   * Context `webhookTimeoutMs`, default 5000, or the function timeout − 1 s when that is shorter (minimum 100).
   */
  readonly webhookTimeoutMs: number;
  /** How long the API replays a response for the same Idempotency-Key (s). Context `apiIdempotencyTtlSeconds`, default 86400. */
  readonly apiIdempotencyTtlSeconds: number;
  /** Receives before a message is dead-lettered. Context `maxReceiveCount`, default 5. */
  readonly maxReceiveCount: number;
  /**
   * Relay stream retries before the failure destination. Context `relayRetryAttempts`, default 3: with the outbox
   * sweeper re-publishing what the relay gave up on, long retries only hold the shard.
   */
  readonly relayRetryAttempts: number;
  /**
   * Age (s) after which the outbox sweeper publishes an event the relay has not. Context `outboxSweepAgeSeconds`,
   * default 1200 (20 minutes, above the relay's 15-minute record age); the local chaos runs use a few seconds.
   */
  readonly outboxSweepAgeSeconds: number;
  /**
   * The ledger table's stream view type as deployed in this stage (`NEW_IMAGE` or `NEW_AND_OLD_IMAGES`), pinned by
   * the operator (cdk.json) after a deployment: a `ledgerStrategy` that needs the other one is refused at synth unless
   * {@link PaymentsConfig.acknowledgeStreamReplacement}. Context `deployedStreamViewType`, optional.
   */
  readonly deployedStreamViewType?: 'NEW_IMAGE' | 'NEW_AND_OLD_IMAGES';
  /**
   * Accept that a strategy change replaces the ledger stream and the relay's mapping (see lib/README.md, "Changing
   * the ledger strategy"). Context `acknowledgeStreamReplacement`, default false.
   */
  readonly acknowledgeStreamReplacement: boolean;
}

/** Reads one context value (e.g. `node.tryGetContext`). */
export type ContextReader = (key: string) => unknown;

function text(read: ContextReader, key: string): string | undefined {
  const value = read(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new ConfigError(key, `expected a string, got ${JSON.stringify(value)}`);
  return value.trim();
}

function oneOf<T extends string>(read: ContextReader, key: string, allowed: readonly T[], fallback: T): T {
  const value = text(read, key) ?? fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(key, `"${value}" is not one of ${allowed.join(' | ')}; pass -c ${key}=${allowed[0]}`);
  }
  return value as T;
}

function integer(read: ContextReader, key: string, fallback: number, min: number, max: number): number {
  const raw = read(key);
  if (raw === undefined || raw === null || raw === '') return fallback;
  const value = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(key, `${JSON.stringify(raw)} must be an integer from ${min} to ${max}; pass -c ${key}=${fallback}`);
  }
  return value;
}

function decimal(read: ContextReader, key: string, fallback: number, min: number, max: number): number {
  const raw = read(key);
  if (raw === undefined || raw === null || raw === '') return fallback;
  const value = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(key, `${JSON.stringify(raw)} must be a number from ${min} to ${max}; pass -c ${key}=${fallback}`);
  }
  return value;
}

function bool(read: ContextReader, key: string, fallback: boolean): boolean {
  const raw = read(key);
  if (raw === undefined || raw === null || raw === '') return fallback;
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  throw new ConfigError(key, `${JSON.stringify(raw)} must be true or false; pass -c ${key}=true`);
}

/**
 * Parses and validates the stack configuration from CDK context.
 * @throws ConfigError naming the key, the value given and the fix.
 */
export function parseConfig(read: ContextReader): PaymentsConfig {
  const stage = oneOf(read, 'stage', STAGES, 'dev');
  const webhookUrl = text(read, 'webhookUrl');
  if (!webhookUrl) {
    throw new ConfigError(
      'webhookUrl',
      `is required to deploy stage ${stage}: the notifier delivers every payment event there; pass ` +
        '-c webhookUrl=https://hooks.example.com/payments (locally, `npm start` without it runs a built-in receiver)',
    );
  }
  let url: URL;
  try {
    url = new URL(webhookUrl);
  } catch (error) {
    throw new ConfigError('webhookUrl', `"${webhookUrl}" is not a URL; pass an absolute http(s) URL`, { cause: error });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError('webhookUrl', `"${webhookUrl}" must use http or https, not ${url.protocol}`);
  }
  if (stage !== 'dev' && url.protocol !== 'https:') {
    throw new ConfigError(
      'webhookUrl',
      `"${webhookUrl}" must use https in stage ${stage}: payment events and their signatures must not cross the ` +
        `network in clear text; pass -c webhookUrl=https://${url.host}${url.pathname} (http is allowed in stage dev only)`,
    );
  }
  const webhookMaxAttempts = integer(read, 'webhookMaxAttempts', DEFAULT_WEBHOOK_MAX_ATTEMPTS, 5, 100);
  // Decimals allowed: local runs (e2e, chaos, demo) compress the schedule to seconds, e.g. 0.01 h = 36 s.
  const webhookRetryHorizonHours = decimal(read, 'webhookRetryHorizonHours', DEFAULT_WEBHOOK_RETRY_HORIZON_SECONDS / 3600, 0.01, 72);
  try {
    validateRetrySchedule({ maxAttempts: webhookMaxAttempts, horizonSeconds: Math.round(webhookRetryHorizonHours * 3600) });
  } catch (error) {
    if (!(error instanceof RetryScheduleError)) throw error;
    throw new ConfigError('webhookRetryHorizonHours', `${webhookRetryHorizonHours} h with webhookMaxAttempts ${webhookMaxAttempts}: ${error.message}`, { cause: error });
  }

  const alarmEmail = text(read, 'alarmEmail');
  if (alarmEmail && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)) {
    throw new ConfigError('alarmEmail', `"${alarmEmail}" is not an email address`);
  }
  const alarmTopicArn = text(read, 'alarmTopicArn');
  if (alarmTopicArn && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+(\.fifo)?$/.test(alarmTopicArn)) {
    throw new ConfigError('alarmTopicArn', `"${alarmTopicArn}" is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)`);
  }
  if (alarmTopicArn && alarmEmail) {
    throw new ConfigError(
      'alarmEmail',
      'cannot be combined with alarmTopicArn (subscribe the email to that topic instead); pass only one of them',
    );
  }

  const throttleRateLimit = integer(read, 'throttleRateLimit', 100, 1, 10_000);
  const consumerTimeoutSeconds = integer(read, 'consumerTimeoutSeconds', 30, 1, 900);
  const webhookTimeoutMs = integer(read, 'webhookTimeoutMs', defaultWebhookTimeoutMs(consumerTimeoutSeconds), 100, 60_000);
  validateNotifierTimeBudget({ consumerTimeoutSeconds, webhookTimeoutMs });
  const throttleBurstLimit = integer(read, 'throttleBurstLimit', 200, 1, 5_000);

  return {
    stage,
    webhookUrl,
    webhookMaxAttempts,
    webhookRetryHorizonHours,
    ledgerStrategy: oneOf(read, 'ledgerStrategy', LEDGER_STRATEGIES, 'atomic'),
    alarmEmail,
    alarmTopicArn,
    kmsKey: oneOf(read, 'kmsKey', KMS_KEY_MODES, 'aws-managed'),
    apiKey: bool(read, 'apiKey', false),
    throttleRateLimit,
    throttleBurstLimit,
    memorySize: integer(read, 'memorySize', 512, 128, 10_240),
    consumerTimeoutSeconds,
    webhookTimeoutMs,
    apiIdempotencyTtlSeconds: integer(read, 'apiIdempotencyTtlSeconds', 86_400, 300, 30 * 86_400),
    maxReceiveCount: integer(read, 'maxReceiveCount', 5, 1, 1_000),
    relayRetryAttempts: integer(read, 'relayRetryAttempts', 3, 0, 10_000),
    outboxSweepAgeSeconds: integer(read, 'outboxSweepAgeSeconds', 1200, 0, 86_400),
    deployedStreamViewType:
      text(read, 'deployedStreamViewType') === undefined
        ? undefined
        : oneOf(read, 'deployedStreamViewType', ['NEW_IMAGE', 'NEW_AND_OLD_IMAGES'] as const, 'NEW_IMAGE'),
    acknowledgeStreamReplacement: bool(read, 'acknowledgeStreamReplacement', false),
  };
}

/** Default webhook timeout: 5 s, or the notifier's function timeout − 1 s when that is shorter (at least 100 ms). */
export function defaultWebhookTimeoutMs(consumerTimeoutSeconds: number): number {
  return Math.max(100, Math.min(5_000, consumerTimeoutSeconds * 1000 - 1000));
}

/**
 * The notifier's time budget: a webhook call must be able to end before the function times out. With a webhook timeout
 * ≥ the function timeout, the function is cut off in the middle of calls it started; the record is redelivered and the
 * webhook called again.
 * @throws ConfigError naming both values and the fix.
 */
export function validateNotifierTimeBudget(config: Pick<PaymentsConfig, 'consumerTimeoutSeconds' | 'webhookTimeoutMs'>): void {
  const functionMs = config.consumerTimeoutSeconds * 1000;
  if (config.webhookTimeoutMs >= functionMs) {
    throw new ConfigError(
      'webhookTimeoutMs',
      `${config.webhookTimeoutMs} ms must be shorter than the notifier's function timeout (consumerTimeoutSeconds = ` +
        `${config.consumerTimeoutSeconds} s = ${functionMs} ms), or the timeout cuts off webhook calls the notifier started ` +
        `and they are repeated; pass -c webhookTimeoutMs=${Math.max(100, functionMs - 1000)} or less, or raise -c ` +
        `consumerTimeoutSeconds to ${Math.floor(config.webhookTimeoutMs / 1000) + 1} or more`,
    );
  }
}
