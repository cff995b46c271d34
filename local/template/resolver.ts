import { TemplateResolutionError } from '../errors.js';
import { defaultIdentity, NAME_PROPERTY, type IdentityContext } from './default-identity.js';
import type { CfnTemplate, ResourceIdentity } from './types.js';

/** Options for {@link TemplateResolver}. */
export interface ResolverOptions extends IdentityContext {
  /** `AWS::URLSuffix`. @default 'amazonaws.com' */
  readonly urlSuffix?: string;
  /** Exports of stacks resolved earlier, for `Fn::ImportValue`. @default - none: ImportValue fails */
  readonly exports?: ReadonlyMap<string, unknown>;
  /** Rewrites every resolved string (for example an execute-api URL into the local API's). @default - identity */
  readonly localize?: (value: string) => string;
}

/** Marker for `Ref: AWS::NoValue`: the property is removed. */
const NO_VALUE = Symbol('AWS::NoValue');

/**
 * Resolves CloudFormation intrinsic functions of one stack template to local values.
 *
 * Supports Ref (resources, parameters, pseudo parameters), Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split,
 * Fn::If with Conditions (Fn::Equals/And/Or/Not, Condition), Fn::FindInMap, Fn::Base64, Fn::GetAZs,
 * Fn::ImportValue (from the exports of stacks resolved earlier) and Fn::ToJsonString.
 *
 * @throws TemplateResolutionError naming the template path of anything it cannot resolve.
 */
export class TemplateResolver {
  private readonly identities = new Map<string, ResourceIdentity>();
  private readonly conditions = new Map<string, boolean>();
  private readonly urlSuffix: string;

  public constructor(
    public readonly template: CfnTemplate,
    private readonly options: ResolverOptions,
  ) {
    this.urlSuffix = options.urlSuffix ?? 'amazonaws.com';
  }

  /** Replaces what Ref/GetAtt return for a resource (for example the real StreamArn once the table exists). */
  public setIdentity(logicalId: string, identity: ResourceIdentity): void {
    this.identities.set(logicalId, identity);
  }

  /** What Ref/GetAtt return for a resource. */
  public identity(logicalId: string, path = `Resources.${logicalId}`): ResourceIdentity {
    const known = this.identities.get(logicalId);
    if (known) return known;
    const resource = this.template.Resources?.[logicalId];
    if (!resource) throw new TemplateResolutionError(path, `no resource or parameter named "${logicalId}" in the template`);
    const properties = resource.Properties ?? {};
    const nameProperty = NAME_PROPERTY[resource.Type];
    const rawName = nameProperty ? properties[nameProperty] : undefined;
    const name = rawName === undefined ? undefined : String(this.resolve(rawName, `Resources.${logicalId}.Properties.${nameProperty}`));
    const identity = defaultIdentity(this.options, logicalId, resource.Type, properties, name);
    this.identities.set(logicalId, identity);
    return identity;
  }

  /** True when the resource has no Condition or its Condition holds. */
  public isEnabled(logicalId: string): boolean {
    const condition = this.template.Resources?.[logicalId]?.Condition;
    return condition === undefined || this.condition(condition, `Resources.${logicalId}.Condition`);
  }

  /** Evaluates a named condition of the template's Conditions section. */
  public condition(name: string, path = `Conditions.${name}`): boolean {
    const cached = this.conditions.get(name);
    if (cached !== undefined) return cached;
    const definition = this.template.Conditions?.[name];
    if (definition === undefined) throw new TemplateResolutionError(path, `unknown condition "${name}"`);
    const value = this.evaluate(definition, `Conditions.${name}`);
    if (typeof value !== 'boolean') throw new TemplateResolutionError(path, `condition "${name}" is not a boolean`);
    this.conditions.set(name, value);
    return value;
  }

  /**
   * Resolves a template value: every intrinsic function inside it is replaced by its local value.
   *
   * @param path - where the value sits in the template, for error messages (`Resources.Fn.Properties.Environment`).
   */
  public resolve(value: unknown, path: string): unknown {
    const resolved = this.evaluate(value, path);
    return resolved === NO_VALUE ? undefined : resolved;
  }

  private evaluate(value: unknown, path: string): unknown {
    if (typeof value === 'string') return this.options.localize ? this.options.localize(value) : value;
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) {
      return value.map((item, i) => this.evaluate(item, `${path}[${i}]`)).filter((item) => item !== NO_VALUE);
    }
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [key, argument] = entries[0]!;
      if (key === 'Ref' || key.startsWith('Fn::') || key === 'Condition') {
        const result = this.intrinsic(key, argument, `${path}.${key}`);
        return typeof result === 'string' && this.options.localize ? this.options.localize(result) : result;
      }
    }
    const out: Record<string, unknown> = {};
    for (const [key, item] of entries) {
      const resolved = this.evaluate(item, `${path}.${key}`);
      if (resolved !== NO_VALUE) out[key] = resolved;
    }
    return out;
  }

  private intrinsic(name: string, argument: unknown, path: string): unknown {
    switch (name) {
      case 'Ref':
        return this.ref(String(argument), path);
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = Array.isArray(argument)
          ? [String(argument[0]), String(this.evaluate(argument[1], path))]
          : splitOnce(String(argument), '.');
        return this.getAtt(logicalId, attribute, path);
      }
      case 'Fn::Join': {
        const [delimiter, list] = asArray(argument, 2, path);
        const items = this.evaluate(list, `${path}[1]`);
        if (!Array.isArray(items)) throw new TemplateResolutionError(path, 'Fn::Join needs a list');
        return items.map((item, i) => scalar(item, `${path}[1][${i}]`)).join(String(delimiter));
      }
      case 'Fn::Sub':
        return this.sub(argument, path);
      case 'Fn::Select': {
        const [index, list] = asArray(argument, 2, path);
        const items = this.evaluate(list, `${path}[1]`);
        const i = Number(this.evaluate(index, `${path}[0]`));
        if (!Array.isArray(items) || !(i >= 0 && i < items.length)) {
          throw new TemplateResolutionError(path, `Fn::Select index ${i} is out of range`);
        }
        return items[i];
      }
      case 'Fn::Split': {
        const [delimiter, source] = asArray(argument, 2, path);
        return scalar(this.evaluate(source, `${path}[1]`), path).split(String(delimiter));
      }
      case 'Fn::If': {
        const [condition, whenTrue, whenFalse] = asArray(argument, 3, path);
        return this.condition(String(condition), path) ? this.evaluate(whenTrue, `${path}[1]`) : this.evaluate(whenFalse, `${path}[2]`);
      }
      case 'Fn::Equals': {
        const [a, b] = asArray(argument, 2, path);
        return JSON.stringify(this.evaluate(a, `${path}[0]`)) === JSON.stringify(this.evaluate(b, `${path}[1]`));
      }
      case 'Fn::And':
        return asArray(argument, -1, path).every((c, i) => this.evaluate(c, `${path}[${i}]`) === true);
      case 'Fn::Or':
        return asArray(argument, -1, path).some((c, i) => this.evaluate(c, `${path}[${i}]`) === true);
      case 'Fn::Not':
        return this.evaluate(asArray(argument, 1, path)[0], `${path}[0]`) !== true;
      case 'Condition':
        return this.condition(String(argument), path);
      case 'Fn::FindInMap': {
        const [map, first, second] = asArray(argument, 3, path).map((k, i) => String(this.evaluate(k, `${path}[${i}]`)));
        const found = this.template.Mappings?.[map!]?.[first!]?.[second!];
        if (found === undefined) throw new TemplateResolutionError(path, `Fn::FindInMap: no ${map}.${first}.${second}`);
        return found;
      }
      case 'Fn::Base64':
        return Buffer.from(scalar(this.evaluate(argument, path), path)).toString('base64');
      case 'Fn::GetAZs':
        return ['a', 'b', 'c'].map((zone) => `${this.options.region}${zone}`);
      case 'Fn::ToJsonString':
        return JSON.stringify(this.evaluate(argument, path));
      case 'Fn::ImportValue': {
        const exportName = scalar(this.evaluate(argument, path), path);
        if (!this.options.exports?.has(exportName)) {
          throw new TemplateResolutionError(
            path,
            `Fn::ImportValue "${exportName}": no stack of this assembly exports it (imports from stacks deployed elsewhere cannot be resolved locally)`,
          );
        }
        return this.options.exports.get(exportName);
      }
      default:
        throw new TemplateResolutionError(path, `${name} is not supported by the local runtime`);
    }
  }

  private ref(target: string, path: string): unknown {
    switch (target) {
      case 'AWS::Region':
        return this.options.region;
      case 'AWS::AccountId':
        return this.options.accountId;
      case 'AWS::Partition':
        return this.options.partition;
      case 'AWS::URLSuffix':
        return this.urlSuffix;
      case 'AWS::StackName':
        return this.options.stackName;
      case 'AWS::StackId':
        return `arn:${this.options.partition}:cloudformation:${this.options.region}:${this.options.accountId}:stack/${this.options.stackName}/local`;
      case 'AWS::NotificationARNs':
        return [];
      case 'AWS::NoValue':
        return NO_VALUE;
    }
    const parameter = this.template.Parameters?.[target];
    if (parameter) {
      if (parameter.Default === undefined) {
        throw new TemplateResolutionError(path, `parameter "${target}" has no Default (parameters cannot be passed to the local runtime)`);
      }
      return parameter.Default;
    }
    return this.identity(target, path).ref;
  }

  private getAtt(logicalId: string, attribute: string, path: string): string {
    const identity = this.identity(logicalId, path);
    const value = identity.attributes[attribute];
    if (value === undefined) {
      const type = this.template.Resources?.[logicalId]?.Type ?? 'unknown type';
      throw new TemplateResolutionError(path, `Fn::GetAtt ${logicalId}.${attribute} (${type}) is not available locally`);
    }
    return value;
  }

  private sub(argument: unknown, path: string): string {
    const [text, variables] = Array.isArray(argument) ? [argument[0], argument[1] ?? {}] : [argument, {}];
    const vars = variables as Record<string, unknown>;
    return String(text).replace(/\$\{([^}]*)\}/g, (match, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      if (name in vars) return scalar(this.evaluate(vars[name], `${path}.${name}`), path);
      if (name.includes('.') && !name.startsWith('AWS::')) {
        const [logicalId, attribute] = splitOnce(name, '.');
        return this.getAtt(logicalId, attribute, `${path}.\${${name}}`);
      }
      const resolved = this.ref(name, `${path}.\${${name}}`);
      if (resolved === NO_VALUE) return match;
      return scalar(resolved, path);
    });
  }
}

function splitOnce(value: string, separator: string): [string, string] {
  const i = value.indexOf(separator);
  return i < 0 ? [value, ''] : [value.slice(0, i), value.slice(i + 1)];
}

function asArray(argument: unknown, length: number, path: string): unknown[] {
  if (!Array.isArray(argument) || (length >= 0 && argument.length < length)) {
    throw new TemplateResolutionError(path, `expected a list${length >= 0 ? ` of ${length}` : ''}, got ${JSON.stringify(argument)}`);
  }
  return argument;
}

function scalar(value: unknown, path: string): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new TemplateResolutionError(path, `expected a string, got ${JSON.stringify(value)}`);
}
