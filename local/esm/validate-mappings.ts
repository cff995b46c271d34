import { MappingValidationError } from './errors.js';
import { MAX_FILTER_PATTERNS, parseFilterPattern } from './event-filter.js';
import type { ResolvedMapping, ValidationContext } from './types.js';

/** The kind of event source an ARN names; `other` (Kinesis, MSK, MQ…) is not run locally. */
export type SourceKind = 'sqs' | 'dynamodb-stream' | 'other';

/** Classifies an event source ARN. */
export function sourceKindOf(arn: string): SourceKind {
  if (/^arn:[^:]+:sqs:/.test(arn)) return 'sqs';
  if (/^arn:[^:]+:dynamodb:.*\/stream\//.test(arn)) return 'dynamodb-stream';
  return 'other';
}

function lookup<T>(source: ReadonlyMap<string, T> | Readonly<Record<string, T>>, key: string): T | undefined {
  if (source instanceof Map) return source.get(key);
  return Object.hasOwn(source, key) ? (source as Record<string, T>)[key] : undefined;
}

/** Finds a function's timeout by ARN, or by name when the template referenced the function by name. */
function functionTimeout(context: ValidationContext, ref: string): number | undefined {
  const direct = lookup(context.functionTimeoutByArn, ref);
  if (direct !== undefined) return direct;
  const entries = context.functionTimeoutByArn instanceof Map
    ? [...context.functionTimeoutByArn.entries()]
    : Object.entries(context.functionTimeoutByArn);
  return entries.find(([arn]) => arn.endsWith(`:function:${ref}`))?.[1];
}

const inRange = (value: number, min: number, max: number) => Number.isInteger(value) && value >= min && value <= max;

/**
 * Checks the mappings as AWS does at CreateEventSourceMapping, so a template AWS would reject fails at local start.
 *
 * Rules: S1/D1 batch size ranges, S2 batch size > 10 needs a batching window, S3 window range and no window on FIFO,
 * S11 MaximumConcurrency 2–1000, S12 function timeout ≤ queue visibility timeout, D1 starting position required,
 * D3 MaximumRetryAttempts −1–10000, D7 MaximumRecordAgeInSeconds −1 or 60–604800, D9 ParallelizationFactor 1–10,
 * S14/D8 at most 5 valid filter patterns, stream-only settings rejected on SQS. Unsupported sources are skipped.
 * @throws MappingValidationError listing every problem, each naming the mapping's logical id and the rule.
 * @see https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
 */
export function validateMappings(mappings: readonly ResolvedMapping[], context: ValidationContext): void {
  const problems: string[] = [];
  for (const mapping of mappings) {
    const kind = sourceKindOf(mapping.eventSourceArn);
    const say = (rule: string, text: string) => problems.push(`${mapping.logicalId} (${rule}): ${text}`);
    if (kind === 'other') continue;
    const window = mapping.maximumBatchingWindowSeconds ?? 0;
    if (!inRange(window, 0, 300)) {
      say(kind === 'sqs' ? 'S3' : 'D1', `MaximumBatchingWindowInSeconds ${window} is outside 0–300 seconds`);
    }
    const patterns = mapping.filterPatterns ?? [];
    if (patterns.length > MAX_FILTER_PATTERNS) {
      say(kind === 'sqs' ? 'S14' : 'D8', `FilterCriteria has ${patterns.length} filters; at most ${MAX_FILTER_PATTERNS} are allowed`);
    }
    for (const pattern of patterns) {
      try {
        parseFilterPattern(pattern);
      } catch (error) {
        say(kind === 'sqs' ? 'S14' : 'D8', (error as Error).message);
      }
    }
    if (kind === 'sqs') validateSqs(mapping, context, window, say);
    else validateStream(mapping, say);
  }
  if (problems.length > 0) throw new MappingValidationError(problems);
}

function validateSqs(
  mapping: ResolvedMapping,
  context: ValidationContext,
  window: number,
  say: (rule: string, text: string) => void,
): void {
  const attributes = lookup(context.queueAttributesByArn, mapping.eventSourceArn);
  if (!attributes) {
    say('CreateEventSourceMapping', `event source queue ${mapping.eventSourceArn} is not a queue of the template; create it or fix EventSourceArn`);
    return;
  }
  const fifo = attributes.FifoQueue === 'true';
  const batchSize = mapping.batchSize ?? 10;
  const maxBatch = fifo ? 10 : 10_000;
  if (!inRange(batchSize, 1, maxBatch)) {
    say('S1', `BatchSize ${batchSize} is outside 1–${maxBatch} for a ${fifo ? 'FIFO' : 'standard'} queue`);
  } else if (batchSize > 10 && window < 1) {
    say('S2', `BatchSize ${batchSize} > 10 requires MaximumBatchingWindowInSeconds ≥ 1 (got ${window}); set a batching window or BatchSize ≤ 10`);
  }
  if (fifo && window > 0) {
    say('S3', `MaximumBatchingWindowInSeconds ${window} is not supported for FIFO queues; remove it`);
  }
  if (mapping.maximumConcurrency !== undefined && !inRange(mapping.maximumConcurrency, 2, 1000)) {
    say('S11', `ScalingConfig.MaximumConcurrency ${mapping.maximumConcurrency} is outside 2–1000`);
  }
  const visibility = Number(attributes.VisibilityTimeout ?? '30');
  const timeout = functionTimeout(context, mapping.functionRef);
  if (timeout !== undefined && timeout > visibility) {
    say(
      'S12',
      `function timeout (${timeout} s) exceeds the queue visibility timeout (${visibility} s); set the visibility timeout to at least ${timeout} s (AWS recommends 6 × timeout = ${6 * timeout} s)`,
    );
  }
  const streamOnly: [keyof ResolvedMapping, string][] = [
    ['startingPosition', 'StartingPosition'],
    ['maximumRetryAttempts', 'MaximumRetryAttempts'],
    ['maximumRecordAgeInSeconds', 'MaximumRecordAgeInSeconds'],
    ['bisectBatchOnFunctionError', 'BisectBatchOnFunctionError'],
    ['parallelizationFactor', 'ParallelizationFactor'],
    ['onFailureDestination', 'DestinationConfig'],
  ];
  for (const [key, name] of streamOnly) {
    if (mapping[key] !== undefined) {
      say('CreateEventSourceMapping', `${name} is not supported for SQS event sources (use the queue's RedrivePolicy for failures); remove it`);
    }
  }
}

function validateStream(mapping: ResolvedMapping, say: (rule: string, text: string) => void): void {
  const batchSize = mapping.batchSize ?? 100;
  if (!inRange(batchSize, 1, 10_000)) say('D1', `BatchSize ${batchSize} is outside 1–10000 for a DynamoDB stream`);
  if (mapping.startingPosition === undefined) {
    say('D1', 'StartingPosition is required for a DynamoDB stream; set TRIM_HORIZON or LATEST');
  } else if (mapping.startingPosition !== 'TRIM_HORIZON' && mapping.startingPosition !== 'LATEST') {
    say('D1', `StartingPosition ${mapping.startingPosition} is not supported for DynamoDB streams; use TRIM_HORIZON or LATEST`);
  }
  const retries = mapping.maximumRetryAttempts;
  if (retries !== undefined && !inRange(retries, -1, 10_000)) {
    say('D3', `MaximumRetryAttempts ${retries} is outside −1–10000`);
  }
  const age = mapping.maximumRecordAgeInSeconds;
  if (age !== undefined && age !== -1 && !inRange(age, 60, 604_800)) {
    say('D7', `MaximumRecordAgeInSeconds ${age} must be −1 (infinite) or 60–604800`);
  }
  const factor = mapping.parallelizationFactor;
  if (factor !== undefined && !inRange(factor, 1, 10)) say('D9', `ParallelizationFactor ${factor} is outside 1–10`);
  if (mapping.maximumConcurrency !== undefined) {
    say('S11', 'ScalingConfig.MaximumConcurrency is supported for SQS event sources only; remove it');
  }
  if (mapping.onFailureDestination !== undefined && !/^arn:[^:]+:(sqs|sns):/.test(mapping.onFailureDestination)) {
    say('D6', `on-failure destination ${mapping.onFailureDestination} must be an SQS queue or SNS topic ARN`);
  }
}

/** What the function's role must be allowed for its mapping, per source kind (C5). */
export const MAPPING_ACTIONS = {
  sqs: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
  'dynamodb-stream': ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
} as const;

/** One permission a mapping needs: an action on a resource, for the role of the mapping's function. */
export interface MappingPermission {
  readonly mapping: ResolvedMapping;
  readonly action: string;
  readonly resource: string;
  /** Why AWS needs it, for the message. */
  readonly purpose: string;
}

/**
 * The permissions CreateEventSourceMapping checks on the function's execution role (C5): on an SQS queue
 * ReceiveMessage, DeleteMessage and GetQueueAttributes; on a stream DescribeStream, GetRecords, GetShardIterator
 * (stream ARN) and ListStreams (`*`); on an on-failure destination its send permission (sqs:SendMessage or
 * sns:Publish). Disabled mappings and sources that are not run locally are left out.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#events-sqs-permissions
 */
export function requiredMappingPermissions(mappings: readonly ResolvedMapping[]): MappingPermission[] {
  const permissions: MappingPermission[] = [];
  for (const mapping of mappings) {
    const kind = sourceKindOf(mapping.eventSourceArn);
    if (kind === 'other' || mapping.enabled === false) continue;
    for (const action of MAPPING_ACTIONS[kind]) {
      const resource = action === 'dynamodb:ListStreams' ? '*' : mapping.eventSourceArn;
      permissions.push({ mapping, action, resource, purpose: 'to read its event source' });
    }
    const destination = mapping.onFailureDestination;
    if (destination) {
      const action = /^arn:[^:]+:sns:/.test(destination) ? 'sns:Publish' : 'sqs:SendMessage';
      permissions.push({ mapping, action, resource: destination, purpose: 'to send to its on-failure destination' });
    }
  }
  return permissions;
}

/**
 * Fails like CreateEventSourceMapping when a mapping's function role lacks a permission the mapping needs (C5).
 *
 * @param denied - judges one permission with the template's policies; returns the role ARN and AWS's reason when
 *   it is not allowed, undefined when it is.
 * @throws MappingValidationError naming each mapping, role and missing action.
 */
export function validateMappingPermissions(
  mappings: readonly ResolvedMapping[],
  denied: (permission: MappingPermission) => { roleArn: string; reason: string } | undefined,
): void {
  const problems: string[] = [];
  for (const permission of requiredMappingPermissions(mappings)) {
    const refusal = denied(permission);
    if (!refusal) continue;
    const operation = permission.action.split(':')[1];
    problems.push(
      `${permission.mapping.logicalId} (C5): the function's execution role ${refusal.roleArn} is not allowed ${permission.action} on ${permission.resource} ${permission.purpose} (${refusal.reason}); ` +
        `AWS answers "The provided execution role does not have permissions to call ${operation}". Grant ${permission.action} to the role.`,
    );
  }
  if (problems.length > 0) throw new MappingValidationError(problems);
}
