import { ENV } from './env.js';
import { mulberry32 } from './seeded-random.js';

/**
 * Fault injection for the chaos harness (issue 4).
 *
 * Off unless BOTH `EXACTLY_ONCE_LOCAL_RUNTIME=1` (set only by the local runtime) and `EXACTLY_ONCE_FAULT_PLAN` are
 * present; the CDK stack refuses to synthesize the plan variable, so a production deploy cannot switch it on. When off,
 * {@link faultPoint} is one `null` check, {@link zombiePoint} resolves at once and {@link withFaults} returns the
 * client untouched (no middleware is added).
 *
 * Where each point sits (the handlers call them):
 * - `ledger.beforeCommit` / `ledger.afterCommit`: around the ledger's write for one record (a crash before the
 *   transaction, and a crash after it committed but before the batch response → SQS redelivers the record).
 * - `ledger.midBatch`: between two records of a batch (half the batch done, then a crash).
 * - `ledger.zombie`: just before the commit, via {@link zombiePoint}: the invocation stalls past its lease, the
 *   message is redelivered to a newer attempt, then this one wakes up and commits anyway.
 * - `relay.afterPublish`: after SendMessageBatch succeeded, before the stream batch response (the batch is retried).
 * - `notifier.afterWebhook`: after a 2xx from the webhook, before the idempotency record completes.
 * - `relay.dropRecord` (outbox recovery): a stream record never reaches the relay (as a mapping that skipped it after
 *   a control-plane update): the relay drops it from the batch and reports success, so only the sweeper can publish it.
 * - `relay.exhausted` (outbox recovery): the relay invocation fails before it publishes anything; with the chaos
 *   stack's low `relayRetryAttempts` a batch that keeps drawing it exhausts its retries and goes to the failure queue.
 * - `ddb.transient` / `ddb.throttle`: a fraction of DynamoDB calls fail with a 500 or a throttling error before they
 *   reach DynamoDB (through {@link withFaults}); the SDK's own retries see them like real ones.
 */
export type FaultPoint =
  | 'ledger.beforeCommit'
  | 'ledger.afterCommit'
  | 'ledger.midBatch'
  | 'ledger.zombie'
  | 'relay.afterPublish'
  | 'notifier.afterWebhook'
  | 'ddb.transient'
  | 'ddb.throttle'
  // Outbox recovery (issue 12): what the sweeper exists for.
  | 'relay.dropRecord'
  | 'relay.exhausted';

/** Every fault point, for validation and reports. */
export const FAULT_POINTS: readonly FaultPoint[] = [
  'ledger.beforeCommit',
  'ledger.afterCommit',
  'ledger.midBatch',
  'ledger.zombie',
  'relay.afterPublish',
  'notifier.afterWebhook',
  'ddb.transient',
  'ddb.throttle',
  // Outbox recovery (issue 12).
  'relay.dropRecord',
  'relay.exhausted',
];

/** Plan: probability (0–1) per fault point, and a seed for reproducible runs. */
export interface FaultPlan {
  readonly seed: number;
  readonly faults: Partial<Record<FaultPoint, number>>;
  /**
   * How long a zombie stalls before it commits, in ms. The harness makes the payments queue's visibility timeout
   * shorter than this, so the message is redelivered to a newer invocation while the zombie sleeps.
   * @default 2000
   */
  readonly zombieDelayMs?: number;
  /**
   * Coverage mode: every point of the plan also fires the first time it is reached in each process, so a short run
   * injects every fault kind it reaches instead of depending on the draw. @default false
   */
  readonly fireOnFirstReach?: boolean;
}

/** Thrown at a fault point that fires: the invocation fails the way a crash would. */
export class InjectedFault extends Error {
  constructor(readonly point: FaultPoint) {
    super(`Injected fault at ${point}`);
    this.name = 'InjectedFault';
  }
}

/** Thrown when `EXACTLY_ONCE_FAULT_PLAN` is malformed or set outside the local runtime. */
export class FaultPlanError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FaultPlanError';
  }
}

/**
 * Parses and validates a fault plan from the environment.
 * @returns the plan, or `null` when no plan is set.
 * @throws FaultPlanError when the plan is set outside the local runtime, is not JSON, or names an unknown point or
 *   a probability outside 0–1.
 */
export function loadFaultPlan(env: NodeJS.ProcessEnv = process.env): FaultPlan | null {
  const raw = env[ENV.FAULT_PLAN];
  if (!raw) return null;
  if (env[ENV.LOCAL_RUNTIME] !== '1') {
    throw new FaultPlanError(
      `${ENV.FAULT_PLAN} is set outside the local runtime: refusing to start with fault injection ` +
        `(unset ${ENV.FAULT_PLAN}, or run under the local runtime which sets ${ENV.LOCAL_RUNTIME}=1)`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new FaultPlanError(`${ENV.FAULT_PLAN} is not valid JSON: ${raw.slice(0, 80)}`, { cause: error });
  }
  const plan = parsed as FaultPlan;
  if (typeof plan !== 'object' || plan === null || typeof plan.faults !== 'object' || plan.faults === null) {
    throw new FaultPlanError(`${ENV.FAULT_PLAN} must be {"seed": number, "faults": {point: probability}}`);
  }
  for (const [point, p] of Object.entries(plan.faults)) {
    if (!FAULT_POINTS.includes(point as FaultPoint)) {
      throw new FaultPlanError(`Unknown fault point "${point}" in ${ENV.FAULT_PLAN}; use one of ${FAULT_POINTS.join(', ')}`);
    }
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
      throw new FaultPlanError(`Fault probability for ${point} must be between 0 and 1, got ${String(p)}`);
    }
  }
  return { seed: Number(plan.seed) || 0, faults: plan.faults, zombieDelayMs: plan.zombieDelayMs, fireOnFirstReach: plan.fireOnFirstReach === true };
}

let plan: FaultPlan | null = loadFaultPlan(process.env);
let random = mulberry32(plan ? plan.seed : 0);
/** Points reached at least once in this process (coverage mode). */
const reached = new Set<FaultPoint>();

/** True when the plan says `point` fires now. */
export function shouldFault(point: FaultPoint): boolean {
  if (plan === null) return false;
  const p = plan.faults[point];
  if (p === undefined || p <= 0) return false;
  const first = plan.fireOnFirstReach === true && !reached.has(point);
  reached.add(point);
  const fires = first || random() < p;
  // One structured line per fired fault, so the harness can show which faults a run really injected.
  if (fires) console.log(JSON.stringify({ level: 'WARN', message: 'Injected fault', injectedFault: point }));
  return fires;
}

/**
 * A named place where the chaos harness may crash the invocation.
 * @throws InjectedFault when the plan fires at this point.
 */
export function faultPoint(point: FaultPoint): void {
  if (plan !== null && shouldFault(point)) throw new InjectedFault(point);
}

/** The part of the Lambda context a zombie needs. */
export interface DeadlineContext {
  getRemainingTimeInMillis(): number;
}

/**
 * The zombie fault (`ledger.zombie`): when the plan fires, stall for `zombieDelayMs` and then return, so the caller
 * goes on and commits long after its lease on the message lapsed (the harness sets the queue's visibility timeout
 * below the delay, so a newer invocation has the message by then). The fence or the dedup marker must absorb the late
 * commit.
 *
 * The stall is capped just short of the function's own deadline when `context` is given: a timed-out sandbox is
 * killed (locally the worker is terminated) and can write nothing, so a zombie that slept past it would only be a
 * crash. What this models is the invocation that is still alive when the queue has already handed its message on.
 * @returns whether the zombie fired (for logs).
 */
export async function zombiePoint(context?: DeadlineContext): Promise<boolean> {
  if (plan === null || !shouldFault('ledger.zombie')) return false;
  let delay = plan.zombieDelayMs ?? 2000;
  if (context) delay = Math.max(0, Math.min(delay, context.getRemainingTimeInMillis() - 250));
  await new Promise((resolve) => setTimeout(resolve, delay));
  return true;
}

/** Error shaped like an AWS SDK service exception, so the SDK's retry strategy classifies it as a real one would. */
export class InjectedServiceError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode: number; attempts?: number; totalRetryDelay?: number };
  readonly injected = true;
  constructor(name: 'InternalServerError' | 'ProvisionedThroughputExceededException', command: string) {
    super(
      name === 'InternalServerError'
        ? `Injected transient error on ${command}`
        : `Injected throttling on ${command}: the level of configured provisioned throughput was exceeded`,
    );
    this.name = name;
    this.$fault = name === 'InternalServerError' ? 'server' : 'client';
    this.$metadata = { httpStatusCode: name === 'InternalServerError' ? 500 : 400 };
  }
}

/** Anything with an AWS SDK v3 middleware stack: a `DynamoDBClient`, or a `DynamoDBDocumentClient` (which shares it). */
export interface ClientWithMiddleware {
  middlewareStack: {
    addRelativeTo(middleware: unknown, options: { name: string; relation: 'before' | 'after'; toMiddleware: string; override?: boolean }): void;
  };
}

const FAULT_MIDDLEWARE = 'exactlyOnceFaultInjection';

/**
 * Adds the transient-error and throttling faults (`ddb.transient`, `ddb.throttle`) to an SDK client, then returns it.
 *
 * The middleware sits just inside the SDK's retry middleware, so an injected error is retried with the SDK's own
 * backoff and, once attempts run out, reaches the handler like a real one. It fails the attempt before the request is
 * sent: DynamoDB never sees it. With no plan, or a plan without these points, the client is returned untouched.
 *
 * Hook it where the handlers create their clients: `const ddb = withFaults(new DynamoDBClient({}))`.
 */
export function withFaults<C extends ClientWithMiddleware>(client: C): C {
  if (plan === null || !(plan.faults['ddb.transient'] || plan.faults['ddb.throttle'])) return client;
  const middleware =
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
      const command = context.commandName ?? 'a DynamoDB call';
      if (shouldFault('ddb.throttle')) throw new InjectedServiceError('ProvisionedThroughputExceededException', command);
      if (shouldFault('ddb.transient')) throw new InjectedServiceError('InternalServerError', command);
      return next(args);
    };
  client.middlewareStack.addRelativeTo(middleware, {
    name: FAULT_MIDDLEWARE,
    relation: 'after',
    toMiddleware: 'retryMiddleware',
    override: true,
  });
  return client;
}

/** The active plan (for logs and tests), or `null` when fault injection is off. */
export function activeFaultPlan(): FaultPlan | null {
  return plan;
}

/** Test hook: replace the plan (pass `null` to switch off). */
export function setFaultPlanForTests(next: FaultPlan | null): void {
  plan = next;
  random = mulberry32(next ? next.seed : 0);
  reached.clear();
}
