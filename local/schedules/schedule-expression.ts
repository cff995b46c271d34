import { ScheduleExpressionError } from './errors.js';

/** A parsed `rate(...)` or `cron(...)` expression that can say when it fires next. */
export interface ScheduleExpression {
  readonly expression: string;
  /** The first firing strictly after `after`, or `undefined` when it never fires again (a cron whose years passed). */
  nextAfter(after: Date, startedAt: Date): Date | undefined;
}

const UNITS: Record<string, number> = { minute: 60_000, minutes: 60_000, hour: 3_600_000, hours: 3_600_000, day: 86_400_000, days: 86_400_000 };
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/**
 * Parses an EventBridge / Scheduler schedule expression: `rate(value unit)` (1 minute / N minutes / hours / days) or
 * `cron(minutes hours day-of-month month day-of-week year)` in UTC, with `*`, `?`, lists, ranges, steps and month /
 * day names. `at(...)` (one-time Scheduler schedules) fires once at its time.
 * @throws ScheduleExpressionError naming the expression and the problem; `L`, `W` and `#` are refused as not emulated.
 * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
 */
export function parseScheduleExpression(expression: string): ScheduleExpression {
  const rate = /^rate\(\s*(\d+)\s+([a-z]+)\s*\)$/.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2]!;
    const ms = UNITS[unit];
    if (ms === undefined) throw new ScheduleExpressionError(expression, `unit "${unit}" must be minute(s), hour(s) or day(s)`);
    if (value < 1) throw new ScheduleExpressionError(expression, 'the value must be a positive integer');
    if ((value === 1) !== !unit.endsWith('s')) {
      throw new ScheduleExpressionError(expression, `AWS wants the singular unit for 1 and the plural otherwise (rate(1 minute), rate(5 minutes))`);
    }
    const period = value * ms;
    // As on AWS, the first firing comes one period after the schedule starts.
    return { expression, nextAfter: (after, startedAt) => new Date(startedAt.getTime() + (Math.floor((after.getTime() - startedAt.getTime()) / period) + 1) * period) };
  }
  const at = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/.exec(expression);
  if (at) {
    const when = new Date(`${at[1]}Z`);
    return { expression, nextAfter: (after) => (when.getTime() > after.getTime() ? when : undefined) };
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (!cron) throw new ScheduleExpressionError(expression, 'must be rate(value unit), cron(fields) or at(yyyy-mm-ddThh:mm:ss)');
  const fields = cron[1]!.trim().split(/\s+/);
  if (fields.length !== 6) throw new ScheduleExpressionError(expression, `cron needs 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`);
  const [min, hour, dom, month, dow, year] = fields as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) {
    throw new ScheduleExpressionError(expression, 'exactly one of day-of-month and day-of-week must be "?" (AWS rule)');
  }
  const minutes = field(expression, 'minutes', min, 0, 59);
  const hours = field(expression, 'hours', hour, 0, 23);
  const daysOfMonth = dom === '?' ? undefined : field(expression, 'day-of-month', dom, 1, 31);
  const months = field(expression, 'month', month, 1, 12, MONTHS, 1);
  const daysOfWeek = dow === '?' ? undefined : field(expression, 'day-of-week', dow, 1, 7, DAYS, 1);
  const years = field(expression, 'year', year, 1970, 2199);
  const dayMatches = (d: Date) =>
    years.has(d.getUTCFullYear()) &&
    months.has(d.getUTCMonth() + 1) &&
    (daysOfMonth ? daysOfMonth.has(d.getUTCDate()) : daysOfWeek!.has(d.getUTCDay() + 1));
  return {
    expression,
    nextAfter(after) {
      const t = new Date(after.getTime());
      t.setUTCSeconds(0, 0);
      t.setUTCMinutes(t.getUTCMinutes() + 1);
      const limit = Date.UTC(2200, 0, 1);
      while (t.getTime() < limit) {
        if (!dayMatches(t)) {
          t.setUTCHours(24, 0, 0, 0); // next day, 00:00
          continue;
        }
        if (!hours.has(t.getUTCHours())) {
          t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
          continue;
        }
        if (!minutes.has(t.getUTCMinutes())) {
          t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
          continue;
        }
        return t;
      }
      return undefined;
    },
  };
}

/** The values one cron field allows. */
function field(expression: string, name: string, text: string, min: number, max: number, names: readonly string[] = [], nameBase = 0): Set<number> {
  if (/[LW#]/.test(text.replace(/[A-Z]{3}/g, ''))) {
    throw new ScheduleExpressionError(expression, `${name} "${text}" uses L, W or #, which the local runtime does not emulate`);
  }
  const value = (token: string): number => {
    const index = names.indexOf(token.toUpperCase());
    const n = index >= 0 ? index + nameBase : /^\d+$/.test(token) ? Number(token) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new ScheduleExpressionError(expression, `${name} value "${token}" must be ${min}-${max}${names.length ? ` or ${names[0]}-${names.at(-1)}` : ''}`);
    }
    return n;
  };
  const allowed = new Set<number>();
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new ScheduleExpressionError(expression, `${name} step "${stepText}" must be a positive integer`);
    let from: number;
    let to: number;
    if (range === '*') [from, to] = [min, max];
    else if (range.includes('-')) {
      const [a, b] = range.split('-') as [string, string];
      [from, to] = [value(a), value(b)];
    } else {
      from = value(range);
      to = stepText === undefined ? from : max;
    }
    for (let n = from; n <= to; n += step) allowed.add(n);
  }
  return allowed;
}
