import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { LocalRuntime } from '../../local/runtime.js';

/** Queues a chaos drain watches, by a short name for reports. */
export type WatchedQueues = Readonly<Record<string, string | undefined>>;

/** One look at where the pipeline's work is. */
export interface PipelineSnapshot {
  /** Messages visible + in flight + delayed on the queues that feed functions (not the DLQs). */
  readonly backlog: number;
  /** Invocations that finished without a function error or whole-batch failure, over every mapping. */
  readonly completed: number;
  /** One line per place where something waits: queues with messages, functions with invocations running. */
  readonly stuck: readonly string[];
}

/** Thrown when a drain made no progress for the allowed time; the message says what is stuck where. */
export class DrainStalledError extends Error {
  constructor(
    message: string,
    readonly snapshot: PipelineSnapshot,
  ) {
    super(message);
    this.name = 'DrainStalledError';
  }
}

/** Options of {@link waitForDrain}. */
export interface DrainOptions {
  /** Give up after this long WITHOUT progress (not in total). @default 300000 */
  readonly stallMs?: number;
  /** How long each idle check may take before progress is looked at. @default 20000 */
  readonly sliceMs?: number;
  /** What is being drained, for messages. */
  readonly phase: string;
  readonly log?: (line: string) => void;
}

/**
 * Waits until the local runtime is idle (every mapped queue empty, nothing running, streams read to their end).
 *
 * Progress-based: a 2,000-payment run with every fault on takes far longer to drain than any fixed limit that
 * still catches a real hang, so it fails only after `stallMs` in which neither the backlog reached a new low nor any
 * invocation completed; then it reports each queue's visible / in-flight / delayed counts and the functions still
 * running. A redelivery loop of failing invocations is not progress.
 * @throws DrainStalledError naming the phase, the time without progress and what is stuck where.
 */
export async function waitForDrain(runtime: LocalRuntime, sqs: SQSClient, queues: WatchedQueues, options: DrainOptions): Promise<void> {
  const stallMs = options.stallMs ?? 300_000;
  const sliceMs = Math.min(options.sliceMs ?? 20_000, stallMs);
  const started = Date.now();
  let lastProgress = Date.now();
  let lowestBacklog = Number.POSITIVE_INFINITY;
  let completed = -1;
  let lastLog = Date.now();
  for (;;) {
    try {
      await runtime.waitForIdle({ timeoutMs: sliceMs });
      return;
    } catch (error) {
      if (!/not idle after/.test((error as Error).message)) throw error;
    }
    const now = await snapshotPipeline(runtime, sqs, queues);
    if (now.backlog < lowestBacklog || now.completed > completed) lastProgress = Date.now();
    lowestBacklog = Math.min(lowestBacklog, now.backlog);
    completed = Math.max(completed, now.completed);
    const quietMs = Date.now() - lastProgress;
    if (quietMs >= stallMs) {
      throw new DrainStalledError(
        `${options.phase}: no progress for ${Math.round(quietMs / 1000)} s (after ${Math.round((Date.now() - started) / 1000)} s ` +
          `draining; the limit is time WITHOUT progress, --idle-timeout-minutes): ${now.stuck.join('; ') || 'nothing visible is waiting'}`,
        now,
      );
    }
    if (Date.now() - lastLog >= 60_000) {
      lastLog = Date.now();
      options.log?.(
        `${options.phase}: draining for ${Math.round((Date.now() - started) / 1000)} s, backlog ${now.backlog}, ` +
          `${now.completed} invocation(s) completed; ${now.stuck.join('; ')}`,
      );
    }
  }
}

const DEPTH = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] as const;

/** Where the work is now: queue depths (source queues and DLQs), running functions, completed invocations. */
export async function snapshotPipeline(runtime: LocalRuntime, sqs: SQSClient, queues: WatchedQueues): Promise<PipelineSnapshot> {
  const stuck: string[] = [];
  let backlog = 0;
  for (const [name, url] of Object.entries(queues)) {
    if (!url) continue;
    let counts: number[];
    try {
      const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: [...DEPTH] }));
      counts = DEPTH.map((key) => Number(Attributes[key] ?? 0));
    } catch (error) {
      stuck.push(`${name}: depth unknown (${(error as Error).message})`);
      continue;
    }
    const [visible = 0, inFlight = 0, delayed = 0] = counts;
    if (!/dlq|failure/i.test(name)) backlog += visible + inFlight + delayed;
    if (visible + inFlight + delayed > 0) stuck.push(`${name}: ${visible} visible, ${inFlight} in flight, ${delayed} delayed`);
  }
  for (const [id, fn] of runtime.functions) if (fn.active > 0) stuck.push(`${id}: ${fn.active} invocation(s) running`);
  const mappings = runtime.mappingStats();
  const completed = mappings.reduce((sum, m) => sum + m.invocations - m.failures, 0);
  for (const m of mappings) {
    if (m.failures > 0) stuck.push(`${m.functionName} ← ${m.eventSourceArn.split(':').pop()}: ${m.failures} failed invocation(s) so far`);
  }
  return { backlog, completed, stuck };
}
