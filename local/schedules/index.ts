import { randomUUID } from 'node:crypto';
import type { FunctionInvoker, InvokeResult } from '../lambda/types.js';
import { UnknownScheduleError } from './errors.js';
import type { ScheduleDefinition } from './read-schedules.js';

export { parseScheduleExpression, type ScheduleExpression } from './schedule-expression.js';
export { readSchedules, type ScheduleDefinition, type SkippedSchedule } from './read-schedules.js';
export { ScheduleExpressionError, UnknownScheduleError } from './errors.js';

/** One schedule as the running runtime sees it. */
export interface ScheduleStatus {
  readonly logicalId: string;
  readonly expression: string;
  readonly enabled: boolean;
  /** When it fires next (`undefined`: disabled, or never again). */
  readonly nextAt?: Date;
  readonly firings: number;
}

/** The schedules of a running local stack (`runtime.schedules`). */
export interface LocalSchedules {
  /** Every schedule with its next firing. */
  list(): ScheduleStatus[];
  /**
   * Fires one schedule now (also a disabled one), as its next firing would, and waits for the invocation.
   * @throws UnknownScheduleError naming the known ids.
   */
  trigger(logicalId: string): Promise<InvokeResult>;
  /** Stops the timers (invocations in flight finish). */
  stop(): void;
}

/** Options of {@link startSchedules}. */
export interface StartSchedulesOptions {
  readonly schedules: readonly ScheduleDefinition[];
  readonly invokers: ReadonlyMap<string, FunctionInvoker>;
  readonly region: string;
  readonly accountId: string;
  /** Run the timers; false: fire only with `trigger`. @default true */
  readonly timers?: boolean;
  /** Receives one line per firing. @default - silent */
  readonly log?: (line: string) => void;
  /** Clock. @default () => new Date() */
  readonly now?: () => Date;
}

/** The longest a Node.js timer can wait (about 24.8 days); longer waits re-arm. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Runs the template's schedules: each enabled schedule invokes its function when its rate or cron says (in UTC), with
 * the event EventBridge sends (a `Scheduled Event`, or the target's Input). `trigger(id)` fires one now, for tests.
 */
export function startSchedules(options: StartSchedulesOptions): LocalSchedules {
  const now = options.now ?? (() => new Date());
  const startedAt = now();
  const timers = new Map<string, NodeJS.Timeout>();
  const nextAt = new Map<string, Date | undefined>();
  const firings = new Map<string, number>();
  let stopped = false;

  const eventFor = (definition: ScheduleDefinition, at: Date): unknown => {
    if (definition.input !== undefined) return definition.input;
    if (definition.kind === 'AWS::Scheduler::Schedule') return {};
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: options.accountId,
      time: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: options.region,
      resources: [definition.arn],
      detail: {},
    };
  };

  const fire = async (definition: ScheduleDefinition): Promise<InvokeResult> => {
    const invoker = options.invokers.get(definition.functionArn)!;
    firings.set(definition.logicalId, (firings.get(definition.logicalId) ?? 0) + 1);
    const result = await invoker.invoke(eventFor(definition, now()));
    options.log?.(
      `⏰ ${definition.logicalId} (${definition.schedule.expression}) → ${invoker.functionName}: ${result.ok ? 'ok' : `ERROR ${result.error?.errorType}: ${result.error?.errorMessage}`}`,
    );
    return result;
  };

  const arm = (definition: ScheduleDefinition) => {
    if (stopped || !definition.enabled || options.timers === false) return;
    const next = definition.schedule.nextAfter(now(), startedAt);
    nextAt.set(definition.logicalId, next);
    if (next === undefined) return;
    const wait = Math.max(0, next.getTime() - now().getTime());
    const timer = setTimeout(
      () => {
        if (wait > MAX_TIMER_MS) return arm(definition);
        void fire(definition).finally(() => arm(definition));
      },
      Math.min(wait, MAX_TIMER_MS),
    );
    timer.unref();
    timers.set(definition.logicalId, timer);
  };
  for (const definition of options.schedules) arm(definition);

  return {
    list: () =>
      options.schedules.map((d) => ({
        logicalId: d.logicalId,
        expression: d.schedule.expression,
        enabled: d.enabled,
        nextAt: nextAt.get(d.logicalId),
        firings: firings.get(d.logicalId) ?? 0,
      })),
    trigger: async (logicalId) => {
      const definition = options.schedules.find((d) => d.logicalId === logicalId);
      if (!definition) throw new UnknownScheduleError(logicalId, options.schedules.map((d) => d.logicalId));
      return fire(definition);
    },
    stop: () => {
      stopped = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
    },
  };
}
