import { ENV } from './env.js';

/**
 * Fault injection for the chaos harness (issue 4).
 *
 * Off unless BOTH `EXACTLY_ONCE_LOCAL_RUNTIME=1` (set only by the local runtime) and `EXACTLY_ONCE_FAULT_PLAN` are
 * present; the CDK stack refuses to synthesize the plan variable, so a production deploy cannot switch it on. When off,
 * {@link faultPoint} is one `null` check.
 */
export type FaultPoint =
  | 'ledger.beforeCommit'
  | 'ledger.afterCommit'
  | 'ledger.midBatch'
  | 'ledger.zombie'
  | 'relay.afterPublish'
  | 'notifier.afterWebhook'
  | 'ddb.transient';

/** Plan: probability (0–1) per fault point, and a seed for reproducible runs. */
export interface FaultPlan {
  readonly seed: number;
  readonly faults: Partial<Record<FaultPoint, number>>;
  /** How long a zombie keeps running after its deadline, in ms. @default 2000 */
  readonly zombieDelayMs?: number;
}

/** Thrown at a fault point that fires: the invocation fails the way a crash would. */
export class InjectedFault extends Error {
  constructor(readonly point: FaultPoint) {
    super(`Injected fault at ${point}`);
    this.name = 'InjectedFault';
  }
}

function loadPlan(env: NodeJS.ProcessEnv): FaultPlan | null {
  const raw = env[ENV.FAULT_PLAN];
  if (!raw) return null;
  if (env[ENV.LOCAL_RUNTIME] !== '1') {
    throw new Error(`${ENV.FAULT_PLAN} is set outside the local runtime: refusing to start with fault injection`);
  }
  return JSON.parse(raw) as FaultPlan;
}

let plan: FaultPlan | null = loadPlan(process.env);
let state = plan ? plan.seed >>> 0 : 0;

/** mulberry32: a small seeded PRNG, so a seed reproduces a run's fault sequence per process. */
function random(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** True when the plan says `point` fires now. */
export function shouldFault(point: FaultPoint): boolean {
  if (plan === null) return false;
  const p = plan.faults[point];
  return p !== undefined && p > 0 && random() < p;
}

/**
 * A named place where the chaos harness may crash the invocation.
 * @throws InjectedFault when the plan fires at this point.
 */
export function faultPoint(point: FaultPoint): void {
  if (plan !== null && shouldFault(point)) throw new InjectedFault(point);
}

/** Test hook: replace the plan (pass `null` to switch off). */
export function setFaultPlanForTests(next: FaultPlan | null): void {
  plan = next;
  state = next ? next.seed >>> 0 : 0;
}
