import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { interpretBatchResponse } from './batch-response.js';
import { sqsRecordMatches } from './event-filter.js';
import { sleep } from './signal.js';
import type { FunctionInvoker, MappingStats, QueueInfo, ResolvedMapping } from './types.js';

/** Synchronous invocation payload limit that also caps an SQS batch (S4). */
export const MAX_BATCH_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** An SQS record as Lambda delivers it (S15). */
export interface SqsEventRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: Record<string, string>;
  messageAttributes: Record<string, SqsEventMessageAttribute>;
  md5OfBody: string;
  md5OfMessageAttributes?: string;
  eventSource: 'aws:sqs';
  eventSourceARN: string;
  awsRegion: string;
}

/** A message attribute in Lambda's camelCase form. */
export interface SqsEventMessageAttribute {
  stringValue?: string;
  binaryValue?: string;
  stringListValues: string[];
  binaryListValues: string[];
  dataType: string;
}

/** Dependencies of one {@link SqsPoller}. */
export interface SqsPollerDeps {
  readonly sqs: SQSClient;
  readonly invoker: FunctionInvoker;
  readonly queue: QueueInfo;
  readonly region: string;
  readonly stats: MappingStats;
  readonly log: (line: string) => void;
  /** One line per invocation (function, batch size, duration, outcome); may be a no-op when the caller logs them. */
  readonly logInvocation: (line: string) => void;
  /** Concurrent invocations (S11): MaximumConcurrency, or AWS's initial 5 for a mapping without it. */
  readonly concurrency: number;
  readonly waitTimeSeconds: number;
  /** How often the queue depth behind {@link SqsPoller.idle} is refreshed. */
  readonly depthRefreshMs: number;
}

const base64 = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : Buffer.from(bytes).toString('base64'));

/** Converts a received message to Lambda's SQS record shape (S15). */
export function toSqsEventRecord(message: Message, eventSourceARN: string, awsRegion: string): SqsEventRecord {
  const messageAttributes: Record<string, SqsEventMessageAttribute> = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    const attribute: SqsEventMessageAttribute = {
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((bytes) => base64(bytes) as string),
      dataType: value.DataType ?? 'String',
    };
    if (value.StringValue !== undefined) attribute.stringValue = value.StringValue;
    if (value.BinaryValue !== undefined) attribute.binaryValue = base64(value.BinaryValue);
    messageAttributes[name] = attribute;
  }
  const record: SqsEventRecord = {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: { ...(message.Attributes as Record<string, string> | undefined) },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN,
    awsRegion,
  };
  if (message.MD5OfMessageAttributes) {
    // Keep AWS's key order: md5OfMessageAttributes sits right after md5OfBody.
    const { eventSource, eventSourceARN: arn, awsRegion: region, ...head } = record;
    return { ...head, md5OfMessageAttributes: message.MD5OfMessageAttributes, eventSource, eventSourceARN: arn, awsRegion: region };
  }
  return record;
}

const recordBytes = (record: SqsEventRecord) => Buffer.byteLength(JSON.stringify(record)) + 1;

/**
 * Runs one SQS event source mapping the way Lambda does (S1–S15): long-polls the queue, assembles batches (size,
 * window, 6 MB), deletes messages the filters reject, invokes synchronously with at most `concurrency` invocations,
 * deletes what succeeded and leaves the rest to reappear after the visibility timeout, which it never shortens.
 * FIFO group ordering (S9) relies on the queue: fauxqs, like SQS, hands out no message of a group while an earlier
 * one of that group is in flight.
 */
export class SqsPoller {
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private depthLoop?: Promise<void>;
  private running = 0;
  private messagesInHand = 0;
  private queueDepth = Number.POSITIVE_INFINITY;
  private readonly fifo: boolean;
  private readonly batchSize: number;
  private readonly windowMs: number;
  private readonly reportFailures: boolean;

  constructor(private readonly mapping: ResolvedMapping, private readonly deps: SqsPollerDeps) {
    this.fifo = deps.queue.attributes.FifoQueue === 'true';
    this.batchSize = mapping.batchSize ?? 10;
    this.windowMs = (mapping.maximumBatchingWindowSeconds ?? 0) * 1000;
    this.reportFailures = (mapping.functionResponseTypes ?? []).includes('ReportBatchItemFailures');
  }

  /** Starts the pollers and the queue-depth refresher. */
  start(): void {
    this.loop = this.pollLoop();
    this.depthLoop = this.refreshDepthLoop();
  }

  /** Stops polling and waits for running invocations; messages in hand reappear after their visibility timeout. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([this.loop, this.depthLoop]);
  }

  /** No visible, delayed or in-flight message on the queue (last refresh) and nothing in hand or running. */
  idle(): boolean {
    return this.running === 0 && this.messagesInHand === 0 && this.queueDepth === 0;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async refreshDepthLoop(): Promise<void> {
    while (!this.stopped) {
      try {
        const { Attributes = {} } = await this.deps.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: this.deps.queue.url,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
          }),
          { abortSignal: this.abort.signal },
        );
        this.queueDepth =
          Number(Attributes.ApproximateNumberOfMessages ?? 0) +
          Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
          Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0);
      } catch {
        this.queueDepth = Number.POSITIVE_INFINITY;
      }
      await sleep(this.deps.depthRefreshMs, this.abort.signal);
    }
  }

  /**
   * One receiver assembles batches one at a time and hands each to a free invocation slot; it receives nothing while
   * every slot is busy, so no message sits in flight waiting for a slot (S11: `concurrency` caps invocations).
   */
  private async pollLoop(): Promise<void> {
    let carry: SqsEventRecord[] = [];
    const inFlight = new Set<Promise<void>>();
    while (!this.stopped) {
      if (inFlight.size >= this.deps.concurrency) {
        await Promise.race(inFlight);
        continue;
      }
      let batch: SqsEventRecord[];
      try {
        ({ batch, carry } = await this.collectBatch(carry));
      } catch (error) {
        if (this.stopped) break;
        this.deps.log(`${this.mapping.logicalId}: ReceiveMessage failed: ${(error as Error).message}`);
        await sleep(1000, this.abort.signal);
        continue;
      }
      if (batch.length === 0) continue;
      this.messagesInHand -= batch.length;
      this.running++;
      const invocation: Promise<void> = this.process(batch)
        .catch((error: unknown) => this.deps.log(`${this.mapping.logicalId}: ${(error as Error).message}`))
        .finally(() => {
          this.running--;
          inFlight.delete(invocation);
        });
      inFlight.add(invocation);
    }
    await Promise.allSettled(inFlight);
    // Messages carried over stay in flight and reappear after the visibility timeout.
    this.messagesInHand -= carry.length;
  }

  /**
   * Receives until the batch is full, the window (started by the first message) ends, or the next message would
   * take the payload past 6 MB; a message that does not fit is carried into the next batch (S4).
   */
  private async collectBatch(carry: SqsEventRecord[]): Promise<{ batch: SqsEventRecord[]; carry: SqsEventRecord[] }> {
    const batch = [...carry];
    let deadline = batch.length > 0 ? Date.now() + this.windowMs : Number.POSITIVE_INFINITY;
    for (;;) {
      if (this.stopped || batch.length >= this.batchSize) break;
      if (batch.length > 0 && (this.windowMs === 0 || Date.now() >= deadline)) break;
      const remainingMs = deadline - Date.now();
      const waitTimeSeconds = batch.length === 0 ? this.deps.waitTimeSeconds : Math.min(20, Math.floor(remainingMs / 1000));
      let received;
      try {
        received = await this.deps.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.deps.queue.url,
            MaxNumberOfMessages: Math.min(10, this.batchSize - batch.length),
            WaitTimeSeconds: waitTimeSeconds,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: this.abort.signal },
        );
      } catch (error) {
        // Keep what is already in hand: it is in flight and must be processed (or left to reappear).
        if (batch.length > 0) break;
        throw error;
      }
      const messages = received.Messages ?? [];
      if (messages.length > 0 && batch.length === 0) deadline = Date.now() + this.windowMs;
      this.messagesInHand += messages.length;
      batch.push(...messages.map((m) => toSqsEventRecord(m, this.mapping.eventSourceArn, this.deps.region)));
      if (messages.length === 0 && waitTimeSeconds === 0 && batch.length > 0) {
        await sleep(Math.min(50, Math.max(0, remainingMs)), this.abort.signal);
      }
    }
    let bytes = 0;
    let fits = 0;
    while (fits < batch.length && bytes + recordBytes(batch[fits] as SqsEventRecord) <= MAX_BATCH_PAYLOAD_BYTES) {
      bytes += recordBytes(batch[fits] as SqsEventRecord);
      fits++;
    }
    // A single oversized record still goes alone (SQS caps a message at 1 MiB, so this cannot happen on AWS).
    fits = Math.max(fits, Math.min(1, batch.length));
    return { batch: batch.slice(0, fits), carry: batch.slice(fits) };
  }

  private async process(received: SqsEventRecord[]): Promise<void> {
    const { stats, invoker } = this.deps;
    const records = received.filter((record) => sqsRecordMatches(this.mapping.filterPatterns, record));
    const dropped = received.filter((record) => !records.includes(record));
    if (dropped.length > 0) {
      // S14: messages the filters reject are deleted, never delivered.
      stats.filteredOut += dropped.length;
      await this.delete(dropped);
    }
    if (records.length === 0) return;
    stats.batches++;
    stats.invocations++;
    stats.records += records.length;
    const result = await invoker.invoke({ Records: records });
    const label = `${invoker.functionName} ← ${this.queueName()} batch=${records.length} ${Math.round(result.durationMs)}ms`;
    if (!result.ok) {
      stats.failures++;
      const why = result.timedOut ? 'timed out' : `${result.error?.errorType ?? 'Error'}: ${result.error?.errorMessage ?? ''}`;
      this.deps.logInvocation(`${label} error (${why}); ${records.length} message(s) reappear after the visibility timeout`);
      return;
    }
    if (!this.reportFailures) {
      await this.delete(records);
      this.deps.logInvocation(`${label} ok`);
      return;
    }
    const outcome = interpretBatchResponse(result.payload, new Set(records.map((r) => r.messageId)));
    if (outcome.kind === 'invalid') {
      stats.failures++;
      this.deps.log(`${label} failed: invalid batch response (${outcome.reason}); the whole batch is retried`);
      return;
    }
    const failed = new Set(outcome.kind === 'partial' ? outcome.failedIds : []);
    stats.partialFailures += failed.size;
    await this.delete(records.filter((r) => !failed.has(r.messageId)));
    this.deps.logInvocation(failed.size === 0 ? `${label} ok` : `${label} partial: ${failed.size}/${records.length} failed`);
  }

  private async delete(records: SqsEventRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += 10) {
      const chunk = records.slice(i, i + 10);
      try {
        const result = await this.deps.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.deps.queue.url,
            Entries: chunk.map((r, index) => ({ Id: String(index), ReceiptHandle: r.receiptHandle })),
          }),
        );
        for (const failure of result.Failed ?? []) {
          this.deps.log(`${this.mapping.logicalId}: could not delete a message (${failure.Code}: ${failure.Message})`);
        }
      } catch (error) {
        this.deps.log(`${this.mapping.logicalId}: DeleteMessageBatch failed: ${(error as Error).message}`);
      }
    }
  }

  private queueName(): string {
    return this.mapping.eventSourceArn.split(':').pop() ?? this.mapping.eventSourceArn;
  }

  /** True for a FIFO source queue. */
  get isFifo(): boolean {
    return this.fifo;
  }
}
