import { join } from 'node:path';
import { startInspectorServer, type InspectorServer, type QueueView } from '../inspector/inspector-server.js';
import { RecorderOptionError } from './errors.js';
import { watchDeadLetters, type InspectedQueue } from './dead-letter-watcher.js';
import type { FlightRecorder, RecordableCall } from './flight-recorder.js';

/** File the recording is written to on stop, under the runtime's out dir. */
export const RECORDING_FILE = 'recording.jsonl';

/** What {@link startRecording} needs from the running stack. */
export interface RecordingOptions {
  readonly recorder: FlightRecorder;
  /** Subscribes to gateway calls with their bodies. */
  readonly onCall: (listener: (call: RecordableCall) => void) => () => void;
  readonly stacks: readonly string[];
  readonly functions: ReadonlyArray<{ readonly logicalId: string; readonly functionName: string }>;
  readonly tables: ReadonlyArray<{ readonly logicalId: string; readonly name: string }>;
  readonly queues: ReadonlyArray<{ readonly logicalId: string; readonly name: string; readonly arn: string; readonly attributes: Readonly<Record<string, string>> }>;
  /** On-failure destinations (queue ARNs) of the stream mappings: dead-letter queues too. */
  readonly onFailureDestinations: readonly string[];
  readonly inspectQueue: (name: string) => InspectedQueue | undefined;
  readonly mappingStats: () => ReadonlyArray<{ readonly logicalId: string; readonly functionName: string; readonly eventSourceArn: string; readonly invocations: number; readonly records: number; readonly failures: number; readonly partialFailures: number }>;
  /** Inspector port; 0 = any free one, undefined = no inspector. */
  readonly inspectorPort?: number;
  /** Where `recording.jsonl` goes on stop. */
  readonly outDir: string;
}

/** A running recording: the recorder fed by the gateway and the dead-letter watcher, and the inspector. */
export interface Recording {
  /** The inspector page's URL ('' when not started). */
  readonly inspectorUrl: string;
  /** Stops the feeds and the inspector, then writes `<outDir>/recording.jsonl`; returns its path. */
  stop(): Promise<string>;
}

/**
 * Feeds the flight recorder with every gateway call (with bodies) and every dead-lettered message, and serves the
 * inspector. Invocations and function output are fed by the runtime's LocalFunction hooks.
 */
export async function startRecording(options: RecordingOptions): Promise<Recording> {
  const { recorder } = options;
  recorder.nameResources([...options.queues.map((q) => [q.name, q.logicalId] as const), ...options.tables.map((t) => [t.name, t.logicalId] as const)]);
  const unsubscribe = options.onCall((call) => recorder.recordCall(call));
  const byArn = new Map(options.queues.map((queue) => [queue.arn, queue]));
  const deadLetterFor = new Map<string, string[]>();
  for (const queue of options.queues) {
    const target = redriveTarget(queue.attributes.RedrivePolicy);
    const dlq = target ? byArn.get(target) : undefined;
    if (dlq) deadLetterFor.set(dlq.name, [...(deadLetterFor.get(dlq.name) ?? []), queue.logicalId]);
  }
  for (const arn of options.onFailureDestinations) {
    const queue = byArn.get(arn);
    if (queue) deadLetterFor.set(queue.name, [...(deadLetterFor.get(queue.name) ?? []), 'stream mapping on-failure']);
  }
  recorder.markDeadLetterQueues([...deadLetterFor.keys()].map((name) => options.queues.find((q) => q.name === name)?.logicalId ?? name));
  const watcher = watchDeadLetters({ recorder, queues: [...deadLetterFor.keys()], inspect: options.inspectQueue });
  const queues = (): QueueView[] =>
    options.queues.map((queue) => {
      const inspected = options.inspectQueue(queue.name);
      const target = redriveTarget(queue.attributes.RedrivePolicy);
      return {
        logicalId: queue.logicalId,
        name: queue.name,
        visible: inspected?.messages.ready.length ?? 0,
        inFlight: inspected?.messages.inflight.length ?? 0,
        delayed: inspected?.messages.delayed.length ?? 0,
        ...(target && byArn.get(target) && { deadLetterQueue: byArn.get(target)!.logicalId }),
        ...(deadLetterFor.has(queue.name) && { deadLetterFor: deadLetterFor.get(queue.name)! }),
      };
    });
  let inspector: InspectorServer | undefined;
  if (options.inspectorPort !== undefined) {
    const port = options.inspectorPort;
    inspector = await startInspectorServer({
      port,
      source: {
        recorder,
        stacks: options.stacks,
        functions: () => options.functions,
        tables: () => options.tables,
        queues,
        deadLetters: (name) => {
          const inspected = options.inspectQueue(name);
          if (!inspected) return [];
          const { ready, delayed, inflight } = inspected.messages;
          return [...ready, ...delayed, ...inflight.map((entry) => entry.message)].map((m) => ({ messageId: m.messageId, body: m.body, receiveCount: m.approximateReceiveCount, sentTimestamp: m.sentTimestamp }));
        },
        mappings: options.mappingStats,
      },
    }).catch((error: NodeJS.ErrnoException) => {
      unsubscribe();
      watcher.stop();
      throw error.code === 'EADDRINUSE' ? new RecorderOptionError(`inspector port ${port} is taken: stop what uses it or pass --inspector-port <n> (0 = any free port)`, { cause: error }) : error;
    });
  }
  let stopped: Promise<string> | undefined;
  return {
    inspectorUrl: inspector?.url ?? '',
    stop: () =>
      (stopped ??= (async () => {
        watcher.stop();
        try {
          watcher.poll();
        } catch {
          // The SQS emulator may be gone already; the last half second of dead letters is then not in the file.
        }
        unsubscribe();
        await inspector?.close();
        const file = join(options.outDir, RECORDING_FILE);
        recorder.writeJsonl(file);
        return file;
      })()),
  };
}

function redriveTarget(policy: string | undefined): string | undefined {
  if (!policy) return undefined;
  try {
    return (JSON.parse(policy) as { deadLetterTargetArn?: string }).deadLetterTargetArn;
  } catch {
    return undefined;
  }
}
