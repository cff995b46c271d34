import type { FaultPlan, FaultPoint } from '../../lambdas/shared/faults.js';
import type { WebhookBehaviour } from '../../local/webhook-receiver.js';
import type { WorkloadInjections } from './workload.js';

/**
 * The fault kinds of issue 4, as `npm run chaos -- --faults a,b,…` names them, and how each is switched on: a
 * probability at a fault point in the functions (through `EXACTLY_ONCE_FAULT_PLAN`), a webhook receiver behaviour,
 * or duplicates/poison mixed into the workload.
 */
export const FAULT_KINDS = {
  'crash-before-commit': 'ledger crashes before its transaction (the batch is redelivered)',
  'crash-after-commit': 'ledger crashes after its transaction committed, before the batch response (redelivery)',
  'crash-mid-batch': 'ledger crashes between two records of a batch (half done, all redelivered)',
  zombie: 'a ledger invocation stalls past its lease, the message goes to a newer attempt, then the zombie commits',
  'relay-crash': 'relay crashes after publishing, before reporting success (the stream batch is retried)',
  'notifier-crash': 'notifier crashes after the webhook answered 2xx, before its idempotency record completes',
  'webhook-5xx': 'the webhook answers 503 to a fraction of first calls',
  'webhook-timeout': 'the webhook hangs past the notifier timeout on a fraction of first calls',
  'ddb-transient': 'a fraction of DynamoDB calls fail with a 500 (retried by the SDK, sometimes past it)',
  'ddb-throttle': 'a fraction of DynamoDB calls are throttled (ProvisionedThroughputExceeded)',
  'api-retry': 'the client POSTs the same payment twice (same Idempotency-Key and body)',
  'resend-in-window': 'the producer re-sends to the FIFO queue with the same dedup id, inside the 5-minute window',
  'resend-beyond-window': 'the producer re-sends with a new dedup id (as after the window): same idempotency key',
  'event-twice': 'the same event lands twice at once on the standard events queue (concurrent delivery)',
  'poison-fifo': 'an unparseable message in an account FIFO group',
  'poison-standard': 'an unparseable message on the standard events queue',
  'version-skew':
    'an older ledger build judges a payment poison on its first receive (reported failed, the rest of its batch goes on); the next receive is valid',
  'group-not-account': 'a producer sends a payment with a MessageGroupId that is not its account, after the account\'s next payment',
  'expired-marker': 'an applied payment\'s marker (outbox item) expires but stays present (TTL lag); a late redrive sends the payment again',
  'dlq-round-trip': 'a group\'s head fails retryably on every receive until the group dead-letters together; newer payments apply; the blocked ones are redriven',
  // Outbox recovery (issue 12): the relay misses events; the outbox sweeper must publish them.
  'relay-drop-record': 'a stream record never reaches the relay (as a mapping that skipped it): only the sweeper publishes it',
  'relay-exhausted': 'the relay fails whole invocations, so a batch can exhaust its retries and go to the failure queue',
} as const;
export type FaultKind = keyof typeof FAULT_KINDS;
export const ALL_FAULT_KINDS = Object.keys(FAULT_KINDS) as FaultKind[];

/** Fault point probabilities per kind (per call of the point). Kept low: every ledger crash fails a whole batch. */
const POINTS: Partial<Record<FaultKind, [FaultPoint, number]>> = {
  'crash-before-commit': ['ledger.beforeCommit', 0.04],
  'crash-after-commit': ['ledger.afterCommit', 0.05],
  // Checked only between two records of a batch (local batches are often single records): higher per check.
  'crash-mid-batch': ['ledger.midBatch', 0.12],
  zombie: ['ledger.zombie', 0.04],
  'relay-crash': ['relay.afterPublish', 0.1],
  'notifier-crash': ['notifier.afterWebhook', 0.08],
  // Per DynamoDB call (a payment makes several), and the SDK backs a throttled call off for 0.5 s and more.
  'ddb-transient': ['ddb.transient', 0.04],
  'ddb-throttle': ['ddb.throttle', 0.01],
  // Outbox recovery (issue 12): per stream record / per relay invocation.
  'relay-drop-record': ['relay.dropRecord', 0.05],
  'relay-exhausted': ['relay.exhausted', 0.1],
};

/** Timings the chaos run compresses so redeliveries take seconds, not minutes (see {@link CHAOS_CONTEXT}). */
export const CHAOS_TIMINGS = {
  /** Function timeout of the queue and stream consumers (context `consumerTimeoutSeconds`). */
  consumerTimeoutSeconds: 10,
  /**
   * Visibility timeout set on the payments queue once the runtime is up: BELOW the zombie's stall (and so below the
   * function timeout, which AWS would refuse at deploy), so a stalled ledger invocation really loses its message.
   */
  paymentsVisibilityTimeoutSeconds: 3,
  /** Visibility timeout set on the events queue: above the function timeout, as a deployment has it (6 × is slow). */
  eventsVisibilityTimeoutSeconds: 8,
  /** How long a zombie stalls before committing: past the payments visibility timeout, before the function timeout. */
  zombieDelayMs: 4_000,
  /** The notifier's webhook timeout (context `webhookTimeoutMs`). */
  webhookTimeoutMs: 1_000,
  /** How long a hung webhook call is held (past the notifier's timeout). */
  webhookHangMs: 2_500,
  /** Receives before dead-lettering (context `maxReceiveCount`): crash faults fail whole batches. */
  maxReceiveCount: 5,
} as const;

/** CDK context for a chaos run (besides `ledgerStrategy` and `webhookUrl`). */
export const CHAOS_CONTEXT: Record<string, string> = {
  consumerTimeoutSeconds: String(CHAOS_TIMINGS.consumerTimeoutSeconds),
  webhookTimeoutMs: String(CHAOS_TIMINGS.webhookTimeoutMs),
  maxReceiveCount: String(CHAOS_TIMINGS.maxReceiveCount),
  // The webhook retry schedule compressed to seconds (5 attempts over 36 s), like the other windows here.
  webhookMaxAttempts: String(CHAOS_TIMINGS.maxReceiveCount),
  webhookRetryHorizonHours: '0.01',
  // Outbox recovery (issue 12): one stream retry, so `relay-exhausted` really reaches the failure queue, and the
  // sweeper (triggered by the runner once the pipeline is idle) takes every item still unpublished.
  relayRetryAttempts: '1',
  outboxSweepAgeSeconds: '0',
};

/** Everything a set of fault kinds switches on. */
export interface ChaosPlan {
  readonly kinds: readonly FaultKind[];
  readonly faultPlan: FaultPlan;
  readonly webhook: WebhookBehaviour;
  readonly injections: WorkloadInjections;
}

/**
 * Builds the fault plan, the receiver behaviour and the workload injections for `kinds`.
 * @param scale multiplies every fault probability (capped at 1). @default 1
 * @throws Error naming an unknown kind and the valid ones.
 */
export function buildChaosPlan(kinds: readonly string[], seed: number, scale = 1): ChaosPlan {
  for (const kind of kinds) {
    if (!(kind in FAULT_KINDS)) throw new Error(`Unknown fault "${kind}"; use any of: ${ALL_FAULT_KINDS.join(', ')}`);
  }
  const on = new Set(kinds as FaultKind[]);
  const faults: Partial<Record<FaultPoint, number>> = {};
  for (const kind of on) {
    const point = POINTS[kind];
    if (point) faults[point[0]] = Math.min(1, point[1] * scale);
  }
  return {
    kinds: [...on],
    // Coverage mode: each fault also fires at its first reach per function instance, so even a short run injects every
    // kind it reaches (the probabilities alone left a point unfired now and then in 30-payment runs).
    faultPlan: { seed, faults, zombieDelayMs: CHAOS_TIMINGS.zombieDelayMs, fireOnFirstReach: true },
    webhook: {
      seed,
      failFraction: on.has('webhook-5xx') ? Math.min(1, 0.1 * scale) : 0,
      failStatus: 503,
      failAttempts: 1,
      hangFraction: on.has('webhook-timeout') ? Math.min(1, 0.05 * scale) : 0,
      hangMs: CHAOS_TIMINGS.webhookHangMs,
      hangAttempts: 1,
    },
    injections: {
      apiRetry: on.has('api-retry') ? 0.1 : 0,
      resendInWindow: on.has('resend-in-window') ? 0.1 : 0,
      resendBeyondWindow: on.has('resend-beyond-window') ? 0.1 : 0,
      eventTwice: on.has('event-twice') ? 0.1 : 0,
      poisonFifo: on.has('poison-fifo') ? 1 : 0,
      poisonStandard: on.has('poison-standard') ? 1 : 0,
      versionSkew: on.has('version-skew') ? Math.min(1, 0.03 * scale) : 0,
      groupNotAccount: on.has('group-not-account') ? Math.min(1, 0.01 * scale) : 0,
      expiredMarker: on.has('expired-marker') ? Math.min(1, 0.02 * scale) : 0,
      dlqRoundTrip: on.has('dlq-round-trip') ? 1 : 0,
    },
  };
}
