import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { PolicyEvaluationError } from './errors.js';

/** A request context value as the evaluator sees it; `undefined` = the key is absent. */
export type ContextValue = string | readonly string[] | boolean | number | undefined;

/** Case-insensitive access to the request context (AWS compares condition key names without regard to case). */
export interface ConditionContext {
  get(key: string): ContextValue;
}

/**
 * Resolves `${key}` policy variables; undefined when the policy version does not support them (before 2012-10-17
 * the text is literal).
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
 */
export type VariableResolver = (key: string) => string | undefined;

type Family = 'String' | 'Numeric' | 'Date' | 'Bool' | 'Binary' | 'Ip' | 'Arn' | 'Null';

interface BaseOperator {
  readonly family: Family;
  readonly negated: boolean;
  readonly ignoreCase?: boolean;
  readonly like?: boolean;
  /** For Numeric/Date: the comparison of request value r against policy value p. */
  readonly compare?: (r: number, p: number) => boolean;
  /** Whether policy variables are substituted in the policy values (AWS: String, ARN and Bool operators). */
  readonly variables: boolean;
}

const eq = (r: number, p: number): boolean => r === p;
const lt = (r: number, p: number): boolean => r < p;
const le = (r: number, p: number): boolean => r <= p;
const gt = (r: number, p: number): boolean => r > p;
const ge = (r: number, p: number): boolean => r >= p;

/**
 * The condition operators AWS documents; anything else fails closed.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
 */
const OPERATORS: Readonly<Record<string, BaseOperator>> = {
  StringEquals: { family: 'String', negated: false, variables: true },
  StringNotEquals: { family: 'String', negated: true, variables: true },
  StringEqualsIgnoreCase: { family: 'String', negated: false, ignoreCase: true, variables: true },
  StringNotEqualsIgnoreCase: { family: 'String', negated: true, ignoreCase: true, variables: true },
  StringLike: { family: 'String', negated: false, like: true, variables: true },
  StringNotLike: { family: 'String', negated: true, like: true, variables: true },
  NumericEquals: { family: 'Numeric', negated: false, compare: eq, variables: false },
  NumericNotEquals: { family: 'Numeric', negated: true, compare: eq, variables: false },
  NumericLessThan: { family: 'Numeric', negated: false, compare: lt, variables: false },
  NumericLessThanEquals: { family: 'Numeric', negated: false, compare: le, variables: false },
  NumericGreaterThan: { family: 'Numeric', negated: false, compare: gt, variables: false },
  NumericGreaterThanEquals: { family: 'Numeric', negated: false, compare: ge, variables: false },
  DateEquals: { family: 'Date', negated: false, compare: eq, variables: false },
  DateNotEquals: { family: 'Date', negated: true, compare: eq, variables: false },
  DateLessThan: { family: 'Date', negated: false, compare: lt, variables: false },
  DateLessThanEquals: { family: 'Date', negated: false, compare: le, variables: false },
  DateGreaterThan: { family: 'Date', negated: false, compare: gt, variables: false },
  DateGreaterThanEquals: { family: 'Date', negated: false, compare: ge, variables: false },
  Bool: { family: 'Bool', negated: false, variables: true },
  BinaryEquals: { family: 'Binary', negated: false, variables: false },
  IpAddress: { family: 'Ip', negated: false, variables: false },
  NotIpAddress: { family: 'Ip', negated: true, variables: false },
  ArnEquals: { family: 'Arn', negated: false, like: true, variables: true },
  ArnLike: { family: 'Arn', negated: false, like: true, variables: true },
  ArnNotEquals: { family: 'Arn', negated: true, like: true, variables: true },
  ArnNotLike: { family: 'Arn', negated: true, like: true, variables: true },
  Null: { family: 'Null', negated: false, variables: false },
};

/** The documented condition operator names (without IfExists / set qualifiers), for reports and tests. */
export const CONDITION_OPERATORS: readonly string[] = Object.keys(OPERATORS);

interface ParsedOperator {
  readonly name: string;
  readonly base: BaseOperator;
  readonly set?: 'ForAllValues' | 'ForAnyValue';
  readonly ifExists: boolean;
}

const parsedOperators = new Map<string, ParsedOperator | string>();

/** Parses `ForAnyValue:StringLikeIfExists` into its parts; returns an error message for an unknown operator. */
function parseOperator(name: string): ParsedOperator | string {
  const cached = parsedOperators.get(name);
  if (cached !== undefined) return cached;
  let parsed: ParsedOperator | string;
  const match = /^(?:(ForAllValues|ForAnyValue):)?([A-Za-z]+?)(IfExists)?$/.exec(name);
  const base = match ? OPERATORS[match[2]!] : undefined;
  if (!match || !base) {
    parsed = `the condition operator '${name}' is not one AWS documents (or not one the local evaluator supports)`;
  } else if (base.family === 'Null' && (match[1] !== undefined || match[3] !== undefined)) {
    parsed = `the condition operator '${name}' is invalid: Null takes neither IfExists nor ForAllValues/ForAnyValue`;
  } else {
    parsed = {
      name,
      base,
      ...(match[1] ? { set: match[1] as 'ForAllValues' | 'ForAnyValue' } : {}),
      ifExists: match[3] !== undefined,
    };
  }
  parsedOperators.set(name, parsed);
  return parsed;
}

function policyValues(operator: string, key: string, raw: unknown): string[] {
  const list = Array.isArray(raw) ? (raw as unknown[]) : [raw];
  return list.map((value) => {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw new PolicyEvaluationError(
      `the condition ${operator} on '${key}' has the value ${JSON.stringify(value)}; ` +
        'condition values must be strings, numbers or booleans',
    );
  });
}

function requestValues(value: ContextValue): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return [value];
  if (typeof value === 'boolean' || typeof value === 'number') return [String(value)];
  return value;
}

const REGEX_SPECIAL = /[.*+?^${}()|[\]\\/]/g;
const escapeRegex = (text: string): string => text.replace(REGEX_SPECIAL, '\\$&');

/**
 * Substitutes `${key}` / `${key, 'default'}` / `${*}` `${?}` `${$}` in `text`. Returns the text as a list of
 * literal and wildcard-bearing pieces so a substituted value never acts as a wildcard; undefined when a variable
 * has no value (AWS: the element then does not match).
 */
function expand(text: string, resolve: VariableResolver | undefined): { literal: boolean; text: string }[] | undefined {
  if (!resolve || !text.includes('${')) return [{ literal: false, text }];
  const pieces: { literal: boolean; text: string }[] = [];
  let last = 0;
  const re = /\$\{([^}]*)\}/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) pieces.push({ literal: false, text: text.slice(last, m.index) });
    const inner = m[1]!.trim();
    if (inner === '*' || inner === '?' || inner === '$') {
      pieces.push({ literal: true, text: inner });
    } else {
      const withDefault = /^([^,]+?)\s*,\s*'([^']*)'$/.exec(inner);
      const key = withDefault ? withDefault[1]! : inner;
      const value = resolve(key) ?? withDefault?.[2];
      if (value === undefined) return undefined;
      pieces.push({ literal: true, text: value });
    }
    last = m.index + m[0].length;
  }
  if (last < text.length) pieces.push({ literal: false, text: text.slice(last) });
  return pieces;
}

/** Substitutes variables for an exact comparison; undefined when a variable has no value. */
export function substitute(text: string, resolve: VariableResolver | undefined): string | undefined {
  const pieces = expand(text, resolve);
  return pieces?.map((p) => p.text).join('');
}

const globCache = new Map<string, RegExp>();

/**
 * Compiles an IAM wildcard pattern (`*`, `?`) to a regular expression.
 * - `like`: StringLike — `*` and `?` match any character.
 * - `action`: the Action element — case-insensitive.
 * - `resource`: the Resource element — in the first five colon-separated parts of an ARN `*` and `?` stay inside
 *   their part, except that a `*` ending a part may run past the colon; in the resource part they match anything.
 * Returns undefined when a policy variable in the pattern has no value.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
 */
export function compileGlob(
  pattern: string,
  mode: 'like' | 'action' | 'resource',
  resolve?: VariableResolver,
): RegExp | undefined {
  const cacheable = !resolve || !pattern.includes('${');
  const cacheKey = `${mode}\u0000${pattern}`;
  if (cacheable) {
    const hit = globCache.get(cacheKey);
    if (hit) return hit;
  }
  const pieces = expand(pattern, resolve);
  if (!pieces) return undefined;
  let source = '^';
  let colons = 0;
  for (const piece of pieces) {
    if (piece.literal) {
      source += escapeRegex(piece.text);
      continue;
    }
    const text = piece.text;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (mode !== 'resource' || colons >= 5) {
        if (ch === ':') colons++;
        source += ch === '*' ? '[\\s\\S]*' : ch === '?' ? '[\\s\\S]' : escapeRegex(ch);
        continue;
      }
      if (ch === ':') {
        colons++;
        source += ':';
      } else if (ch === '*') {
        const endsPart = i + 1 === text.length || text[i + 1] === ':';
        source += endsPart ? '[\\s\\S]*' : '[^:]*';
      } else if (ch === '?') {
        source += '[^:]';
      } else {
        source += escapeRegex(ch);
      }
    }
  }
  const regex = new RegExp(`${source}$`, mode === 'action' ? 'i' : '');
  if (cacheable) globCache.set(cacheKey, regex);
  return regex;
}

/** Splits an ARN into its six parts (the resource part keeps its colons); undefined if it has fewer. */
function arnParts(arn: string): string[] | undefined {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < 5; i++) {
    const colon = arn.indexOf(':', start);
    if (colon < 0) return undefined;
    parts.push(arn.slice(start, colon));
    start = colon + 1;
  }
  parts.push(arn.slice(start));
  return parts;
}

/** ArnLike: each of the six colon-delimited parts is matched separately, with `*` and `?` inside each part. */
function arnMatches(requestArn: string, pattern: string, resolve: VariableResolver | undefined): boolean {
  if (pattern === '*') return true;
  const p = arnParts(pattern);
  const r = arnParts(requestArn);
  if (!p || !r) return false;
  for (let i = 0; i < 6; i++) {
    const regex = compileGlob(p[i]!, 'like', resolve);
    if (!regex || !regex.test(r[i]!)) return false;
  }
  return true;
}

function parseDate(text: string): number {
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  return Date.parse(text);
}

const blockLists = new Map<string, BlockList>();
function cidrBlock(cidr: string, operator: string): BlockList {
  const hit = blockLists.get(cidr);
  if (hit) return hit;
  const [address, prefixText] = cidr.split('/');
  const type = isIPv4(address ?? '') ? 'ipv4' : isIPv6(address ?? '') ? 'ipv6' : undefined;
  const prefix = prefixText === undefined ? (type === 'ipv4' ? 32 : 128) : Number(prefixText);
  if (!type || !Number.isInteger(prefix)) {
    throw new PolicyEvaluationError(`${operator} has '${cidr}', which is not an IP address or CIDR range`);
  }
  const list = new BlockList();
  list.addSubnet(address!, prefix, type);
  blockLists.set(cidr, list);
  return list;
}

/** Whether one request value matches one policy value under the (positive form of the) operator. */
function valueMatches(
  op: ParsedOperator,
  key: string,
  requestValue: string,
  policyValue: string,
  resolve: VariableResolver | undefined,
): boolean {
  const base = op.base;
  const vars = base.variables ? resolve : undefined;
  switch (base.family) {
    case 'String': {
      if (base.like) {
        const regex = compileGlob(policyValue, 'like', vars);
        return regex !== undefined && regex.test(requestValue);
      }
      const expected = substitute(policyValue, vars);
      if (expected === undefined) return false;
      return base.ignoreCase ? expected.toLowerCase() === requestValue.toLowerCase() : expected === requestValue;
    }
    case 'Arn':
      return arnMatches(requestValue, policyValue, vars);
    case 'Bool': {
      const expected = substitute(policyValue, vars);
      return expected !== undefined && expected.toLowerCase() === requestValue.toLowerCase();
    }
    case 'Binary':
      return policyValue === requestValue;
    case 'Numeric':
    case 'Date': {
      const parse = base.family === 'Numeric' ? Number : parseDate;
      const p = policyValue.trim() === '' ? Number.NaN : parse(policyValue);
      if (Number.isNaN(p)) {
        throw new PolicyEvaluationError(
          `${op.name} on '${key}' has the value '${policyValue}', which is not a ${base.family === 'Numeric' ? 'number' : 'date (ISO 8601 or epoch seconds)'}`,
        );
      }
      const r = requestValue.trim() === '' ? Number.NaN : parse(requestValue);
      return !Number.isNaN(r) && base.compare!(r, p);
    }
    case 'Ip': {
      const list = cidrBlock(policyValue, op.name);
      const type = isIPv4(requestValue) ? 'ipv4' : isIPv6(requestValue) ? 'ipv6' : undefined;
      return type !== undefined && list.check(requestValue, type);
    }
    case 'Null':
      return false; // handled by the caller
  }
}

/** The predicate for one request value: positive operators — some policy value matches; negated — none does. */
function predicate(
  op: ParsedOperator,
  key: string,
  requestValue: string,
  values: readonly string[],
  resolve: VariableResolver | undefined,
): boolean {
  let any = false;
  for (const policyValue of values) {
    if (valueMatches(op, key, requestValue, policyValue, resolve)) {
      any = true;
      break;
    }
  }
  return op.base.negated ? !any : any;
}

function evaluateOne(
  op: ParsedOperator,
  key: string,
  values: readonly string[],
  context: ConditionContext,
  resolve: VariableResolver | undefined,
): boolean {
  const family = op.base.family;
  if (family === 'Numeric' || family === 'Date' || family === 'Ip') {
    // A malformed policy value fails closed whatever the request holds (AWS would have refused the policy).
    const probe = family === 'Numeric' ? '0' : family === 'Date' ? '1970-01-01T00:00:00Z' : '127.0.0.1';
    for (const v of values) valueMatches(op, key, probe, v, undefined);
  }
  const present = requestValues(context.get(key));
  const absent = present === undefined || present.length === 0;
  if (op.base.family === 'Null') {
    // "true": the key must be absent; "false": it must be present.
    return values.some((v) => {
      const want = v.toLowerCase();
      if (want !== 'true' && want !== 'false') {
        throw new PolicyEvaluationError(`Null on '${key}' has the value '${v}'; it takes "true" or "false"`);
      }
      return want === 'true' ? absent : !absent;
    });
  }
  // "If the key is not present, evaluate the condition element as true" — with or without a set qualifier.
  if (absent && op.ifExists) return true;
  if (op.set === 'ForAllValues') {
    if (absent) return true;
    return present.every((r) => predicate(op, key, r, values, resolve));
  }
  if (op.set === 'ForAnyValue') {
    if (absent) return false;
    return present.some((r) => predicate(op, key, r, values, resolve));
  }
  if (absent) {
    // A missing key: IfExists → true; negated operators → true; otherwise no match.
    return op.ifExists || op.base.negated;
  }
  // A single-valued operator on a multivalued key: positive — some value matches; negated — no value matches.
  return op.base.negated
    ? present.every((r) => predicate(op, key, r, values, resolve))
    : present.some((r) => predicate(op, key, r, values, resolve));
}

/**
 * Evaluates a statement's Condition block: every operator and every key must match (AND); the values of one key
 * are OR-ed (NOR-ed for negated operators).
 * @throws PolicyEvaluationError for an unknown operator or a malformed value — the caller fails closed.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
 */
export function conditionsMatch(
  condition: Readonly<Record<string, Readonly<Record<string, unknown>>>>,
  context: ConditionContext,
  resolve: VariableResolver | undefined,
): boolean {
  // Every operator is checked for validity first: an unknown operator fails closed even if another one is false.
  const entries = Object.entries(condition);
  const parsed: [ParsedOperator, Readonly<Record<string, unknown>>][] = [];
  for (const [name, keys] of entries) {
    const op = parseOperator(name);
    if (typeof op === 'string') throw new PolicyEvaluationError(op);
    if (keys === null || typeof keys !== 'object' || Array.isArray(keys)) {
      throw new PolicyEvaluationError(`the condition operator ${name} must map condition keys to values`);
    }
    parsed.push([op, keys]);
  }
  for (const [op, keys] of parsed) {
    for (const [key, raw] of Object.entries(keys)) {
      if (!evaluateOne(op, key, policyValues(op.name, key, raw), context, resolve)) return false;
    }
  }
  return true;
}
