import type { FlightRecorder } from './flight-recorder.js';

/** A message as the SQS emulator shows it without receiving it. */
export interface InspectedMessage {
  readonly messageId: string;
  readonly body: string;
  readonly approximateReceiveCount: number;
  readonly sentTimestamp: number;
}

/** Non-destructive view of a queue (fauxqs `inspectQueue`): nothing is received, no visibility changes. */
export interface InspectedQueue {
  readonly messages: {
    readonly ready: readonly InspectedMessage[];
    readonly delayed: readonly InspectedMessage[];
    readonly inflight: ReadonlyArray<{ readonly message: InspectedMessage }>;
  };
}

/** Options of {@link watchDeadLetters}. */
export interface DeadLetterWatchOptions {
  readonly recorder: FlightRecorder;
  /** Names of the dead-letter queues (redrive targets and on-failure destinations). */
  readonly queues: readonly string[];
  readonly inspect: (name: string) => InspectedQueue | undefined;
  /** @default 500 */
  readonly intervalMs?: number;
}

/**
 * Records a `dead-letter` event for each message that appears in a dead-letter queue. SQS moves a message there
 * itself (on the receive after maxReceiveCount) and no API call shows it, so the queues are looked at without
 * receiving (the emulator's inspection), every `intervalMs`.
 */
export function watchDeadLetters(options: DeadLetterWatchOptions): { poll(): void; stop(): void } {
  const seen = new Map(options.queues.map((name) => [name, new Set<string>()]));
  const poll = () => {
    for (const [name, ids] of seen) {
      const queue = options.inspect(name);
      if (!queue) continue;
      const { ready, delayed, inflight } = queue.messages;
      for (const message of [...ready, ...delayed, ...inflight.map((entry) => entry.message)]) {
        if (ids.has(message.messageId)) continue;
        ids.add(message.messageId);
        options.recorder.recordDeadLetter(name, { messageId: message.messageId, body: message.body, receiveCount: message.approximateReceiveCount });
      }
    }
  };
  const timer = setInterval(poll, options.intervalMs ?? 500);
  timer.unref();
  return { poll, stop: () => clearInterval(timer) };
}
