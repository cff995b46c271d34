import { EventSourceMappingError } from './errors.js';
import { SqsPoller } from './sqs-poller.js';
import { StreamPoller } from './stream-poller.js';
import { sourceKindOf } from './validate-mappings.js';
import type {
  EventSourceMappings,
  EventSourceMappingsOptions,
  FunctionInvoker,
  MappingStats,
  ResolvedMapping,
} from './types.js';

export * from './types.js';
export { validateMappings, sourceKindOf, type SourceKind } from './validate-mappings.js';
export { matchesPattern, parseFilterPattern, sqsRecordMatches, streamRecordMatches } from './event-filter.js';
export { interpretBatchResponse, type BatchOutcome } from './batch-response.js';
export { EventSourceMappingError, MappingValidationError, FilterPatternError, EmulatorPatchError } from './errors.js';
export { NOISY_TENANT_RULE, patchFauxqsFairQueues } from './fauxqs-fair-queues.js';
export { patchFauxqsFifoBatches } from './fauxqs-fifo-batches.js';
export { toSqsEventRecord, type SqsEventRecord } from './sqs-poller.js';
export { toStreamEventRecord, type StreamEventRecord, type StreamFailureRecord } from './stream-poller.js';

/** Upper bound on local pollers per SQS mapping, whatever MaximumConcurrency says (keeps a laptop responsive). */
export const MAX_LOCAL_SQS_CONCURRENCY = 10;

/** Finds the invoker of a mapping: by function ARN, or by name when the template referenced the function by name. */
function findInvoker(invokers: ReadonlyMap<string, FunctionInvoker>, ref: string): FunctionInvoker | undefined {
  const direct = invokers.get(ref);
  if (direct) return direct;
  for (const invoker of invokers.values()) {
    if (invoker.functionName === ref || invoker.arn.endsWith(`:function:${ref}`)) return invoker;
  }
  return undefined;
}

/**
 * Starts every enabled SQS and DynamoDB Streams event source mapping with AWS's semantics (S1–S15, D1–D10).
 *
 * Call {@link validateMappings} first: this function assumes valid mappings. Mappings of other sources (Kinesis, MSK…)
 * are skipped with a log line.
 * @throws EventSourceMappingError when a mapping's function or queue is unknown.
 */
export function startEventSourceMappings(options: EventSourceMappingsOptions): EventSourceMappings {
  const log = options.log ?? (() => {});
  const pollers: { stats: MappingStats; poller: SqsPoller | StreamPoller }[] = [];
  for (const mapping of options.mappings) {
    const poller = createPoller(mapping, options, log);
    if (poller) pollers.push(poller);
  }
  pollers.forEach(({ poller }) => poller.start());
  return {
    async stop() {
      await Promise.allSettled(pollers.map(({ poller }) => poller.stop()));
    },
    idle() {
      return pollers.every(({ poller }) => poller.idle());
    },
    stats() {
      return pollers.map(({ stats }) => ({ ...stats }));
    },
  };
}

function createPoller(
  mapping: ResolvedMapping,
  options: EventSourceMappingsOptions,
  log: (line: string) => void,
): { stats: MappingStats; poller: SqsPoller | StreamPoller } | undefined {
  const kind = sourceKindOf(mapping.eventSourceArn);
  const logInvocation = options.logInvocations === false ? () => {} : log;
  if (mapping.enabled === false) {
    log(`${mapping.logicalId}: disabled (Enabled: false)`);
    return undefined;
  }
  if (kind === 'other') {
    log(`${mapping.logicalId}: event source ${mapping.eventSourceArn} is not emulated locally; skipped`);
    return undefined;
  }
  const invoker = findInvoker(options.invokers, mapping.functionRef);
  if (!invoker) {
    throw new EventSourceMappingError(`${mapping.logicalId}: function ${mapping.functionRef} is not a function of this app`);
  }
  const stats: MappingStats = {
    logicalId: mapping.logicalId,
    functionName: invoker.functionName,
    eventSourceArn: mapping.eventSourceArn,
    invocations: 0,
    batches: 0,
    records: 0,
    failures: 0,
    partialFailures: 0,
    filteredOut: 0,
    discarded: 0,
  };
  if (kind === 'sqs') {
    const queue = options.queueByArn(mapping.eventSourceArn);
    if (!queue) throw new EventSourceMappingError(`${mapping.logicalId}: queue ${mapping.eventSourceArn} is not a queue of this app`);
    const visibility = Number(queue.attributes.VisibilityTimeout ?? '30');
    const recommended = 6 * invoker.timeoutSeconds + (mapping.maximumBatchingWindowSeconds ?? 0);
    if (visibility < recommended) {
      // S12: accepted by AWS, but a slow batch can then be received again while it is still being processed.
      log(
        `${mapping.logicalId} (S12): queue visibility timeout ${visibility} s is below the recommended 6 × function timeout (${invoker.timeoutSeconds} s) + batching window = ${recommended} s`,
      );
    }
    const concurrency = Math.min(mapping.maximumConcurrency ?? options.defaultSqsConcurrency ?? 5, MAX_LOCAL_SQS_CONCURRENCY);
    const poller = new SqsPoller(mapping, {
      sqs: options.sqs,
      invoker,
      queue,
      region: options.region,
      stats,
      log,
      logInvocation,
      concurrency,
      waitTimeSeconds: options.sqsWaitTimeSeconds ?? 1,
      depthRefreshMs: 200,
    });
    return { stats, poller };
  }
  const poller = new StreamPoller(mapping, {
    streams: options.streams,
    sqs: options.sqs,
    invoker,
    queueByArn: options.queueByArn,
    region: options.region,
    stats,
    log,
    logInvocation,
    pollIntervalMs: options.streamPollIntervalMs ?? 250,
    shardDiscoveryMs: 1_000,
    clock: options.clock ?? Date.now,
  });
  return { stats, poller };
}
