import { FilterPatternError } from './errors.js';
import type { FilterPattern } from './types.js';

/** AWS allows at most this many filters in one FilterCriteria (S14). */
export const MAX_FILTER_PATTERNS = 5;

const OPERATORS = new Set(['prefix', 'suffix', 'anything-but', 'numeric', 'exists', 'equals-ignore-case']);
const NUMERIC_OPERATORS = new Set(['=', '<', '<=', '>', '>=']);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses a `FilterCriteria.Filters[].Pattern` string (or an already parsed object) and checks its syntax.
 *
 * @throws FilterPatternError naming what is wrong, as AWS rejects such a pattern at CreateEventSourceMapping.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html#filtering-syntax
 */
export function parseFilterPattern(pattern: string | FilterPattern): FilterPattern {
  let parsed: unknown = pattern;
  if (typeof pattern === 'string') {
    try {
      parsed = JSON.parse(pattern);
    } catch (error) {
      throw new FilterPatternError(`Filter pattern is not valid JSON: ${pattern}`, { cause: error });
    }
  }
  if (!isPlainObject(parsed)) {
    throw new FilterPatternError(`Filter pattern must be a JSON object, got ${JSON.stringify(parsed)}`);
  }
  checkObject(parsed, '');
  return parsed;
}

function checkObject(pattern: Record<string, unknown>, path: string): void {
  for (const [key, value] of Object.entries(pattern)) {
    const at = path ? `${path}.${key}` : key;
    if (Array.isArray(value)) {
      if (value.length === 0) throw new FilterPatternError(`Filter pattern field "${at}" has an empty list; it would match nothing`);
      value.forEach((matcher) => checkMatcher(matcher, at));
    } else if (isPlainObject(value)) {
      checkObject(value, at);
    } else {
      throw new FilterPatternError(
        `Filter pattern field "${at}" must be a list of values or a nested object, got ${JSON.stringify(value)} (write [${JSON.stringify(value)}])`,
      );
    }
  }
}

function checkMatcher(matcher: unknown, at: string): void {
  if (matcher === null || ['string', 'number', 'boolean'].includes(typeof matcher)) return;
  if (!isPlainObject(matcher)) throw new FilterPatternError(`Filter pattern field "${at}" has an invalid value ${JSON.stringify(matcher)}`);
  const keys = Object.keys(matcher);
  const op = keys[0];
  if (keys.length !== 1 || op === undefined || !OPERATORS.has(op)) {
    throw new FilterPatternError(
      `Filter pattern field "${at}" uses unsupported operator ${JSON.stringify(matcher)}; supported: ${[...OPERATORS].join(', ')}`,
    );
  }
  const arg = matcher[op];
  switch (op) {
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case':
      if (typeof arg !== 'string') throw new FilterPatternError(`Filter pattern field "${at}": ${op} needs a string, got ${JSON.stringify(arg)}`);
      return;
    case 'exists':
      if (typeof arg !== 'boolean') throw new FilterPatternError(`Filter pattern field "${at}": exists needs true or false, got ${JSON.stringify(arg)}`);
      return;
    case 'numeric':
      checkNumeric(arg, at);
      return;
    case 'anything-but':
      if (arg === null || ['string', 'number', 'boolean'].includes(typeof arg)) return;
      if (Array.isArray(arg) && arg.length > 0 && arg.every((v) => ['string', 'number'].includes(typeof v))) return;
      if (isPlainObject(arg) && Object.keys(arg).length === 1) {
        const [inner] = Object.keys(arg);
        const innerArg = arg[inner as string];
        if ((inner === 'prefix' || inner === 'suffix') && typeof innerArg === 'string') return;
        if (inner === 'equals-ignore-case' && (typeof innerArg === 'string' || (Array.isArray(innerArg) && innerArg.every((v) => typeof v === 'string')))) return;
      }
      throw new FilterPatternError(`Filter pattern field "${at}": invalid anything-but ${JSON.stringify(arg)}`);
  }
}

function checkNumeric(arg: unknown, at: string): void {
  const bad = () => new FilterPatternError(
    `Filter pattern field "${at}": numeric needs [op, number] or [op, number, op, number] with op in = < <= > >=, got ${JSON.stringify(arg)}`,
  );
  if (!Array.isArray(arg) || (arg.length !== 2 && arg.length !== 4)) throw bad();
  for (let i = 0; i < arg.length; i += 2) {
    if (typeof arg[i] !== 'string' || !NUMERIC_OPERATORS.has(arg[i] as string) || typeof arg[i + 1] !== 'number') throw bad();
  }
}

/**
 * True when `event` matches `pattern` (AWS event-filter semantics): every field of the pattern must match (AND);
 * a list of values matches when any of them does (OR); an array in the event matches when any element does.
 * Missing fields match only `{"exists": false}`.
 */
export function matchesPattern(pattern: FilterPattern, event: unknown): boolean {
  const object = isPlainObject(event) ? event : undefined;
  for (const [key, expected] of Object.entries(pattern)) {
    const present = object !== undefined && Object.hasOwn(object, key) && object[key] !== undefined;
    const actual = present ? object[key] : undefined;
    if (Array.isArray(expected)) {
      if (!matchesList(expected, actual as Json | undefined, present)) return false;
    } else if (isPlainObject(expected)) {
      if (!matchesPattern(expected, actual)) return false;
    } else {
      return false;
    }
  }
  return true;
}

function matchesList(matchers: readonly unknown[], actual: Json | undefined, present: boolean): boolean {
  if (!present) return matchers.some((m) => isPlainObject(m) && m.exists === false);
  const values = Array.isArray(actual) ? actual : [actual as Json];
  return matchers.some((m) => values.some((value) => matchesOne(m, value)));
}

function matchesOne(matcher: unknown, value: Json): boolean {
  if (!isPlainObject(matcher)) return matcher === value;
  const [op] = Object.keys(matcher);
  const arg = matcher[op as string];
  switch (op) {
    case 'exists':
      return arg === true && !isPlainObject(value);
    case 'prefix':
      return typeof value === 'string' && value.startsWith(arg as string);
    case 'suffix':
      return typeof value === 'string' && value.endsWith(arg as string);
    case 'equals-ignore-case':
      return typeof value === 'string' && value.toLowerCase() === (arg as string).toLowerCase();
    case 'numeric':
      return typeof value === 'number' && matchesNumeric(arg as unknown[], value);
    case 'anything-but':
      return matchesAnythingBut(arg, value);
    default:
      return false;
  }
}

function matchesNumeric(conditions: readonly unknown[], value: number): boolean {
  for (let i = 0; i < conditions.length; i += 2) {
    const bound = conditions[i + 1] as number;
    const ok = (() => {
      switch (conditions[i]) {
        case '=': return value === bound;
        case '<': return value < bound;
        case '<=': return value <= bound;
        case '>': return value > bound;
        case '>=': return value >= bound;
        default: return false;
      }
    })();
    if (!ok) return false;
  }
  return true;
}

function matchesAnythingBut(arg: unknown, value: Json): boolean {
  if (Array.isArray(arg)) return !arg.includes(value);
  if (isPlainObject(arg)) {
    if (typeof value !== 'string') return false;
    const [inner] = Object.keys(arg);
    const innerArg = arg[inner as string];
    if (inner === 'prefix') return !value.startsWith(innerArg as string);
    if (inner === 'suffix') return !value.endsWith(innerArg as string);
    const list = (Array.isArray(innerArg) ? innerArg : [innerArg]) as string[];
    return !list.some((v) => v.toLowerCase() === value.toLowerCase());
  }
  return value !== arg;
}

/**
 * True when an SQS record passes the mapping's filters (S14). Only the `body` key is filtered on, as on AWS:
 * a pattern whose `body` is an object needs a JSON-object body (a non-JSON body never matches it, so the message is
 * dropped); a pattern whose `body` is a list matches the raw body string.
 * @param patterns no patterns = everything matches
 */
export function sqsRecordMatches(patterns: readonly FilterPattern[] | undefined, record: { body: string }): boolean {
  if (!patterns || patterns.length === 0) return true;
  let parsedBody: unknown;
  let parsed = false;
  const bodyAsJson = () => {
    if (!parsed) {
      parsed = true;
      try {
        parsedBody = JSON.parse(record.body);
      } catch {
        parsedBody = undefined;
      }
    }
    return parsedBody;
  };
  return patterns.some((pattern) => {
    const bodyPattern = pattern.body;
    if (isPlainObject(bodyPattern)) {
      const body = bodyAsJson();
      if (!isPlainObject(body)) return false;
      return matchesPattern(pattern, { ...record, body });
    }
    return matchesPattern(pattern, record);
  });
}

/** True when a stream record (Lambda event shape, D10) passes the mapping's filters (D8). */
export function streamRecordMatches(patterns: readonly FilterPattern[] | undefined, record: unknown): boolean {
  if (!patterns || patterns.length === 0) return true;
  return patterns.some((pattern) => matchesPattern(pattern, record));
}
