import { LOCAL_ACCOUNT_ID, LOCAL_PARTITION } from '../constants.js';
import { TemplateResolutionError } from '../errors.js';
import type { TemplateResolver } from '../template/resolver.js';
import { parseScheduleExpression, type ScheduleExpression } from './schedule-expression.js';

/** One scheduled invocation of a function, read from the template. */
export interface ScheduleDefinition {
  /** Logical id of the AWS::Events::Rule or AWS::Scheduler::Schedule (the id `trigger` takes). */
  readonly logicalId: string;
  readonly kind: 'AWS::Events::Rule' | 'AWS::Scheduler::Schedule';
  readonly name: string;
  readonly arn: string;
  readonly schedule: ScheduleExpression;
  /** ARN of the function each firing invokes. */
  readonly functionArn: string;
  /** The target's Input (JSON), when it sets one; else the rule's Scheduled Event (EventBridge) or `{}` (Scheduler). */
  readonly input?: unknown;
  readonly enabled: boolean;
}

/** A schedule or target the runtime does not run, with the reason. */
export interface SkippedSchedule {
  readonly logicalId: string;
  readonly reason: string;
}

/**
 * Reads every schedule of a stack: AWS::Events::Rule with a ScheduleExpression (each Lambda target) and
 * AWS::Scheduler::Schedule (its Lambda target). Targets that are not Lambda functions run locally are skipped with a
 * reason; `ScheduleExpressionTimezone` other than UTC is noted (the runtime evaluates cron in UTC).
 * @throws TemplateResolutionError / ScheduleExpressionError naming the resource for a malformed schedule.
 */
export function readSchedules(
  resolver: TemplateResolver,
  region: string,
  functionArns: ReadonlySet<string>,
): { schedules: ScheduleDefinition[]; skipped: SkippedSchedule[] } {
  const schedules: ScheduleDefinition[] = [];
  const skipped: SkippedSchedule[] = [];
  for (const [logicalId, resource] of Object.entries(resolver.template.Resources ?? {})) {
    if (resource.Type !== 'AWS::Events::Rule' && resource.Type !== 'AWS::Scheduler::Schedule') continue;
    if (!resolver.isEnabled(logicalId)) continue;
    const path = `Resources.${logicalId}.Properties`;
    const p = (resolver.resolve(resource.Properties ?? {}, path) ?? {}) as Record<string, any>;
    if (resource.Type === 'AWS::Events::Rule' && p.ScheduleExpression === undefined) continue; // an event pattern rule
    if (typeof p.ScheduleExpression !== 'string') throw new TemplateResolutionError(`${path}.ScheduleExpression`, 'must be a string');
    const schedule = parseScheduleExpression(p.ScheduleExpression);
    const name = String(p.Name ?? resolver.identity(logicalId).ref);
    const enabled = (p.State ?? 'ENABLED') === 'ENABLED';
    if (p.ScheduleExpressionTimezone && p.ScheduleExpressionTimezone !== 'UTC') {
      skipped.push({ logicalId, reason: `timezone ${p.ScheduleExpressionTimezone} not emulated: evaluated in UTC` });
    }
    const targets: { Arn?: string; Input?: string }[] = resource.Type === 'AWS::Events::Rule' ? (p.Targets ?? []) : p.Target ? [p.Target] : [];
    const arn =
      resource.Type === 'AWS::Events::Rule'
        ? `arn:${LOCAL_PARTITION}:events:${region}:${LOCAL_ACCOUNT_ID}:rule/${name}`
        : `arn:${LOCAL_PARTITION}:scheduler:${region}:${LOCAL_ACCOUNT_ID}:schedule/${p.GroupName ?? 'default'}/${name}`;
    targets.forEach((target, index) => {
      const functionArn = String(target.Arn ?? '');
      if (!functionArns.has(functionArn)) {
        skipped.push({ logicalId, reason: `target ${index} (${functionArn || 'no Arn'}) is not a function run locally` });
        return;
      }
      let input: unknown;
      if (target.Input !== undefined) {
        try {
          input = JSON.parse(String(target.Input));
        } catch (error) {
          throw new TemplateResolutionError(`${path}.Target(s)[${index}].Input`, 'not valid JSON', { cause: error });
        }
      }
      schedules.push({
        logicalId: targets.length > 1 ? `${logicalId}#${index}` : logicalId,
        kind: resource.Type as ScheduleDefinition['kind'],
        name,
        arn,
        schedule,
        functionArn,
        input,
        enabled,
      });
    });
  }
  return { schedules, skipped };
}
