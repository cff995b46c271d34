import { TemplateResolutionError } from '../errors.js';
import type { ResolvedMapping, StartingPosition } from '../esm/types.js';
import type { FunctionDefinition } from '../lambda/function-definitions.js';
import type { TemplateResolver } from '../template/resolver.js';

/**
 * Reads every AWS::Lambda::EventSourceMapping of a stack with its properties resolved (ARNs of the source and the
 * target function, filter patterns parsed from their JSON strings).
 *
 * @param functions - the stack's functions, to turn a `FunctionName` (name, ARN or partial ARN) into the function ARN.
 * @throws TemplateResolutionError naming the mapping when its function is not one the runtime runs.
 */
export function readEventSourceMappings(resolver: TemplateResolver, functions: readonly FunctionDefinition[]): ResolvedMapping[] {
  const mappings: ResolvedMapping[] = [];
  for (const [logicalId, resource] of Object.entries(resolver.template.Resources ?? {})) {
    if (resource.Type !== 'AWS::Lambda::EventSourceMapping' || !resolver.isEnabled(logicalId)) continue;
    const path = `Resources.${logicalId}.Properties`;
    const p = (resolver.resolve(resource.Properties ?? {}, path) ?? {}) as Record<string, any>;
    const target = String(p.FunctionName ?? '');
    const fn = functions.find((f) => f.arn === target || f.functionName === target || target.endsWith(`:function:${f.functionName}`));
    if (!fn) throw new TemplateResolutionError(`${path}.FunctionName`, `function "${target}" is not run locally (skipped or unknown)`);
    const number = (value: unknown) => (value === undefined ? undefined : Number(value));
    const bool = (value: unknown) => (value === undefined ? undefined : value === true || value === 'true');
    const filters = (p.FilterCriteria?.Filters ?? []) as Array<{ Pattern?: string }>;
    mappings.push({
      logicalId,
      functionRef: fn.arn,
      eventSourceArn: String(p.EventSourceArn),
      batchSize: number(p.BatchSize),
      maximumBatchingWindowSeconds: number(p.MaximumBatchingWindowInSeconds),
      functionResponseTypes: p.FunctionResponseTypes,
      filterPatterns: filters.length
        ? filters.map((filter, i) => {
            try {
              return JSON.parse(String(filter.Pattern)) as Record<string, unknown>;
            } catch (error) {
              throw new TemplateResolutionError(`${path}.FilterCriteria.Filters[${i}].Pattern`, 'not valid JSON', { cause: error });
            }
          })
        : undefined,
      maximumConcurrency: number(p.ScalingConfig?.MaximumConcurrency),
      startingPosition: p.StartingPosition as StartingPosition | undefined,
      startingPositionTimestamp: number(p.StartingPositionTimestamp),
      maximumRetryAttempts: number(p.MaximumRetryAttempts),
      maximumRecordAgeInSeconds: number(p.MaximumRecordAgeInSeconds),
      bisectBatchOnFunctionError: bool(p.BisectBatchOnFunctionError),
      parallelizationFactor: number(p.ParallelizationFactor),
      onFailureDestination: p.DestinationConfig?.OnFailure?.Destination,
      enabled: bool(p.Enabled),
    });
  }
  return mappings;
}
