import { randomUUID } from 'node:crypto';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record,
  type AttributeValue,
  type DynamoDBStreamsClient,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { interpretBatchResponse } from './batch-response.js';
import { streamRecordMatches } from './event-filter.js';
import { Signal, sleep } from './signal.js';
import type { FunctionInvoker, InvokeResult, MappingStats, QueueInfo, ResolvedMapping } from './types.js';

/** Attribute value in the JSON form Lambda delivers (binary as base64). */
export type EventAttributeValue =
  | { S: string } | { N: string } | { B: string } | { SS: string[] } | { NS: string[] } | { BS: string[] }
  | { M: Record<string, EventAttributeValue> } | { L: EventAttributeValue[] } | { NULL: boolean } | { BOOL: boolean };

/** A DynamoDB stream record as Lambda delivers it (D10). */
export interface StreamEventRecord {
  eventID: string;
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  eventVersion: string;
  eventSource: 'aws:dynamodb';
  awsRegion: string;
  dynamodb: {
    ApproximateCreationDateTime: number;
    Keys: Record<string, EventAttributeValue>;
    NewImage?: Record<string, EventAttributeValue>;
    OldImage?: Record<string, EventAttributeValue>;
    SequenceNumber: string;
    SizeBytes: number;
    StreamViewType: string;
  };
  eventSourceARN: string;
  userIdentity?: { type: string; principalId: string };
}

/** The metadata record Lambda sends to an on-failure destination for a DynamoDB stream batch (D6). */
export interface StreamFailureRecord {
  requestContext: { requestId: string; functionArn: string; condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded'; approximateInvokeCount: number };
  responseContext: { statusCode: number; executedVersion: string; functionError?: string };
  version: '1.0';
  timestamp: string;
  DDBStreamBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

/** Dependencies of one {@link StreamPoller}. */
export interface StreamPollerDeps {
  readonly streams: DynamoDBStreamsClient;
  readonly sqs: SQSClient;
  readonly invoker: FunctionInvoker;
  readonly queueByArn: (arn: string) => QueueInfo | undefined;
  readonly region: string;
  readonly stats: MappingStats;
  readonly log: (line: string) => void;
  /** One line per invocation (function, batch size, duration, outcome); may be a no-op when the caller logs them. */
  readonly logInvocation: (line: string) => void;
  /** Per-shard GetRecords interval when the shard is caught up (D2), also the delay before a retry. */
  readonly pollIntervalMs: number;
  /** How often DescribeStream is called to find new shards. */
  readonly shardDiscoveryMs: number;
  /** Clock used for record age (D7); injectable so tests need not wait a minute. */
  readonly clock: () => number;
}

const toBase64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

function toEventValue(value: AttributeValue): EventAttributeValue {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.B !== undefined) return { B: toBase64(value.B) };
  if (value.SS !== undefined) return { SS: value.SS };
  if (value.NS !== undefined) return { NS: value.NS };
  if (value.BS !== undefined) return { BS: value.BS.map(toBase64) };
  if (value.M !== undefined) return { M: toEventImage(value.M) };
  if (value.L !== undefined) return { L: value.L.map(toEventValue) };
  if (value.NULL !== undefined) return { NULL: value.NULL };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  return { NULL: true };
}

function toEventImage(image: Record<string, AttributeValue>): Record<string, EventAttributeValue> {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, toEventValue(value)]));
}

/** Converts a GetRecords record to Lambda's event record shape (D10). */
export function toStreamEventRecord(record: _Record, eventSourceARN: string, awsRegion: string): StreamEventRecord {
  const ddb = record.dynamodb ?? {};
  const created = ddb.ApproximateCreationDateTime;
  const dynamodb: StreamEventRecord['dynamodb'] = {
    ApproximateCreationDateTime: created instanceof Date ? Math.floor(created.getTime() / 1000) : Number(created ?? 0),
    Keys: toEventImage(ddb.Keys ?? {}),
    SequenceNumber: ddb.SequenceNumber ?? '',
    SizeBytes: ddb.SizeBytes ?? 0,
    StreamViewType: ddb.StreamViewType ?? 'KEYS_ONLY',
  };
  if (ddb.NewImage) dynamodb.NewImage = toEventImage(ddb.NewImage);
  if (ddb.OldImage) dynamodb.OldImage = toEventImage(ddb.OldImage);
  // Keep AWS's key order inside `dynamodb`.
  const ordered = {
    ApproximateCreationDateTime: dynamodb.ApproximateCreationDateTime,
    Keys: dynamodb.Keys,
    ...(dynamodb.NewImage ? { NewImage: dynamodb.NewImage } : {}),
    ...(dynamodb.OldImage ? { OldImage: dynamodb.OldImage } : {}),
    SequenceNumber: dynamodb.SequenceNumber,
    SizeBytes: dynamodb.SizeBytes,
    StreamViewType: dynamodb.StreamViewType,
  };
  const known = record.eventName === 'INSERT' || record.eventName === 'MODIFY' || record.eventName === 'REMOVE';
  // DynamoDB Local emits TTL deletions with the event name "UNKNOWN_TO_SDK_VERSION" and no userIdentity; on AWS they
  // are REMOVE events by the DynamoDB service principal (D10).
  const ttlDelete = !known;
  const event: StreamEventRecord = {
    eventID: record.eventID ?? randomUUID(),
    eventName: (known ? record.eventName : 'REMOVE') as StreamEventRecord['eventName'],
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion,
    dynamodb: ordered,
    eventSourceARN,
  };
  if (record.userIdentity?.Type && record.userIdentity.PrincipalId) {
    event.userIdentity = { type: record.userIdentity.Type, principalId: record.userIdentity.PrincipalId };
  } else if (ttlDelete) {
    event.userIdentity = { type: 'Service', principalId: 'dynamodb.amazonaws.com' };
  }
  return event;
}

/** A record with the local bookkeeping the poller needs. */
interface Pending {
  readonly event: StreamEventRecord;
  /** Best estimate of when the record entered the stream, epoch ms (see {@link arrivalEstimate}). */
  readonly arrivedAt: number;
}

/**
 * DynamoDB Local rounds ApproximateCreationDateTime down to the minute, so a record may be up to 59 s younger than it
 * says. The youngest age consistent with both that value and the moment we first saw the record is used, so
 * MaximumRecordAgeInSeconds never discards a record early.
 */
function arrivalEstimate(event: StreamEventRecord, firstSeen: number): number {
  const stamped = event.dynamodb.ApproximateCreationDateTime * 1000;
  return stamped > 0 ? Math.min(firstSeen, stamped + 59_999) : firstSeen;
}

function keyHash(keys: Record<string, EventAttributeValue>): number {
  const text = JSON.stringify(Object.keys(keys).sort().map((name) => [name, keys[name]]));
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (hash * 31 + text.charCodeAt(i)) | 0;
  return Math.abs(hash);
}

/** One of ParallelizationFactor sequential lanes of a shard; records of one item key always use the same lane. */
class Lane {
  readonly queue: Pending[] = [];
  readonly signal = new Signal();
  busy = false;
}

class ShardState {
  iterator?: string;
  lastSequenceNumber?: string;
  ended = false;
  caughtUp = false;
  started = false;
  finished = false;
  readonly lanes: Lane[];
  constructor(readonly shard: Shard, laneCount: number, readonly initialPosition: 'TRIM_HORIZON' | 'LATEST') {
    this.lanes = Array.from({ length: laneCount }, () => new Lane());
  }
  get drained(): boolean {
    return this.lanes.every((lane) => lane.queue.length === 0 && !lane.busy);
  }
}

/** Synchronous invocation payload limit (F8), which also caps a stream batch. */
const MAX_BATCH_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** The first records of `queue` up to `batchSize` that fit in one 6 MB payload (at least one). */
function takeBatch(queue: readonly Pending[], batchSize: number): Pending[] {
  let bytes = 0;
  let count = 0;
  while (count < Math.min(batchSize, queue.length)) {
    const size = Buffer.byteLength(JSON.stringify((queue[count] as Pending).event)) + 1;
    if (count > 0 && bytes + size > MAX_BATCH_PAYLOAD_BYTES) break;
    bytes += size;
    count++;
  }
  return queue.slice(0, count);
}

/** Longest pause between two attempts at a failing batch. */
const MAX_RETRY_DELAY_MS = 2_000;

/** Buffered records per shard before reading pauses. */
const MAX_BUFFERED_PER_SHARD = 1_000;

/**
 * Runs one DynamoDB Streams event source mapping the way Lambda does (D1–D10): reads every shard in order (parents
 * before children), about 4 times a second, in `ParallelizationFactor` lanes keyed by item key; retries a failed batch
 * while blocking its lane (D3), bisects on error (D4), checkpoints at the lowest reported failure (D5), discards to the
 * on-failure destination with AWS's metadata record (D6), honours MaximumRecordAgeInSeconds (D7) and filters (D8).
 */
export class StreamPoller {
  private readonly abort = new AbortController();
  private readonly shards = new Map<string, ShardState>();
  private readonly tasks: Promise<void>[] = [];
  private discoveredOnce = false;
  private discoveryFailed = false;
  private readonly batchSize: number;
  private readonly windowMs: number;
  private readonly laneCount: number;
  private readonly maxRetries: number;
  private readonly maxAgeMs: number;
  private readonly reportFailures: boolean;

  constructor(private readonly mapping: ResolvedMapping, private readonly deps: StreamPollerDeps) {
    this.batchSize = mapping.batchSize ?? 100;
    this.windowMs = (mapping.maximumBatchingWindowSeconds ?? 0) * 1000;
    this.laneCount = mapping.parallelizationFactor ?? 1;
    this.maxRetries = mapping.maximumRetryAttempts ?? -1;
    this.maxAgeMs = (mapping.maximumRecordAgeInSeconds ?? -1) * 1000;
    this.reportFailures = (mapping.functionResponseTypes ?? []).includes('ReportBatchItemFailures');
  }

  /** Starts shard discovery and reading. */
  start(): void {
    this.tasks.push(this.discoveryLoop());
  }

  /** Stops reading and waits for running invocations (in-memory checkpoints are lost, as on a fresh mapping). */
  async stop(): Promise<void> {
    this.abort.abort();
    for (const state of this.shards.values()) state.lanes.forEach((lane) => lane.signal.notify());
    // Tasks are appended while running; wait until the list stops growing.
    for (let seen = 0; seen < this.tasks.length; ) {
      const batch = this.tasks.slice(seen);
      seen = this.tasks.length;
      await Promise.allSettled(batch);
    }
  }

  /** Every shard read to its end (or caught up with its open end), nothing buffered, nothing running. */
  idle(): boolean {
    if (!this.discoveredOnce || this.discoveryFailed) return false;
    for (const state of this.shards.values()) {
      if (state.finished) continue;
      if (!state.started) return false;
      if (!(state.ended || state.caughtUp) || !state.drained) return false;
    }
    return true;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async discoveryLoop(): Promise<void> {
    while (!this.stopped) {
      try {
        const shards = await this.describeShards();
        const first = !this.discoveredOnce;
        for (const shard of shards) {
          const id = shard.ShardId as string;
          if (this.shards.has(id)) continue;
          // Shards found after the mapping started are read from their beginning, whatever the starting position.
          const position = first && this.mapping.startingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON';
          this.shards.set(id, new ShardState(shard, this.laneCount, position));
        }
        this.discoveredOnce = true;
        this.discoveryFailed = false;
        this.startReadyShards();
      } catch (error) {
        if (this.stopped) return;
        this.discoveryFailed = true;
        this.deps.log(`${this.mapping.logicalId}: DescribeStream failed: ${(error as Error).message}`);
      }
      await sleep(this.deps.shardDiscoveryMs, this.abort.signal);
    }
  }

  private async describeShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription } = await this.deps.streams.send(
        new DescribeStreamCommand({ StreamArn: this.mapping.eventSourceArn, ExclusiveStartShardId: exclusiveStartShardId }),
        { abortSignal: this.abort.signal },
      );
      shards.push(...(StreamDescription?.Shards ?? []));
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    return shards;
  }

  /** Starts every shard whose parent is unknown (trimmed) or finished: a parent is read before its children (F7). */
  private startReadyShards(): void {
    for (const state of this.shards.values()) {
      if (state.started) continue;
      const parent = state.shard.ParentShardId ? this.shards.get(state.shard.ParentShardId) : undefined;
      if (parent && !parent.finished) continue;
      state.started = true;
      this.tasks.push(this.readShard(state));
      state.lanes.forEach((lane) => this.tasks.push(this.runLane(state, lane)));
    }
  }

  private async readShard(state: ShardState): Promise<void> {
    const shardId = state.shard.ShardId as string;
    while (!this.stopped && !state.ended) {
      try {
        if (!state.iterator) {
          state.iterator = await this.shardIterator(state);
          if (!state.iterator) {
            state.ended = true;
            break;
          }
        }
        const buffered = state.lanes.reduce((sum, lane) => sum + lane.queue.length, 0);
        if (buffered >= MAX_BUFFERED_PER_SHARD) {
          await sleep(this.deps.pollIntervalMs, this.abort.signal);
          continue;
        }
        const response = await this.deps.streams.send(new GetRecordsCommand({ ShardIterator: state.iterator, Limit: 1000 }), {
          abortSignal: this.abort.signal,
        });
        const now = this.deps.clock();
        const records = response.Records ?? [];
        for (const raw of records) {
          const event = toStreamEventRecord(raw, this.mapping.eventSourceArn, this.deps.region);
          state.lastSequenceNumber = event.dynamodb.SequenceNumber;
          if (!streamRecordMatches(this.mapping.filterPatterns, event)) {
            // D8: filtered-out records are skipped; the iterator moves past them.
            this.deps.stats.filteredOut++;
            continue;
          }
          const lane = state.lanes[keyHash(event.dynamodb.Keys) % state.lanes.length] as Lane;
          lane.queue.push({ event, arrivedAt: arrivalEstimate(event, now) });
          lane.signal.notify();
        }
        state.iterator = response.NextShardIterator;
        if (!state.iterator) state.ended = true;
        state.caughtUp = records.length === 0;
        if (records.length === 0 && !state.ended) await sleep(this.deps.pollIntervalMs, this.abort.signal);
      } catch (error) {
        if (this.stopped) return;
        const name = (error as Error).name;
        this.deps.log(`${this.mapping.logicalId}: reading ${shardId} failed (${name}); retrying`);
        if (name === 'ExpiredIteratorException' || name === 'TrimmedDataAccessException') state.iterator = undefined;
        await sleep(this.deps.pollIntervalMs, this.abort.signal);
      }
    }
    state.lanes.forEach((lane) => lane.signal.notify());
  }

  private async shardIterator(state: ShardState): Promise<string | undefined> {
    const after = state.lastSequenceNumber;
    const { ShardIterator } = await this.deps.streams.send(
      new GetShardIteratorCommand({
        StreamArn: this.mapping.eventSourceArn,
        ShardId: state.shard.ShardId,
        ...(after
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after }
          : { ShardIteratorType: state.initialPosition }),
      }),
      { abortSignal: this.abort.signal },
    );
    return ShardIterator;
  }

  private async runLane(state: ShardState, lane: Lane): Promise<void> {
    while (!this.stopped) {
      if (lane.queue.length === 0) {
        if (state.ended) break;
        await lane.signal.wait(this.deps.pollIntervalMs, this.abort.signal);
        continue;
      }
      if (this.windowMs > 0 && lane.queue.length < this.batchSize && !state.ended) {
        // D1: wait for a full batch or the end of the window opened by the first buffered record.
        const deadline = Date.now() + this.windowMs;
        while (!this.stopped && lane.queue.length < this.batchSize && !state.ended && Date.now() < deadline) {
          await lane.signal.wait(deadline - Date.now(), this.abort.signal);
        }
      }
      const batch = takeBatch(lane.queue, this.batchSize);
      this.deps.stats.batches++;
      lane.busy = true;
      try {
        await this.runBatch(state, batch, 0);
      } finally {
        lane.queue.splice(0, batch.length);
        lane.busy = false;
      }
    }
    if (state.ended && state.drained && !this.stopped) {
      state.finished = state.lanes.every((l) => l.queue.length === 0 && !l.busy);
      if (state.finished) this.startReadyShards();
    }
  }

  /**
   * Delivers `records` until they succeed or are discarded: retries (D3), bisection (D4), partial responses (D5),
   * record age (D7). `retries` carries the retries already spent, as bisection does not reset nor consume them.
   */
  private async runBatch(state: ShardState, records: Pending[], retries: number): Promise<void> {
    const { stats } = this.deps;
    let current = records;
    let spent = retries;
    let invokeCount = 0;
    let last: InvokeResult | undefined;
    while (current.length > 0 && !this.stopped) {
      if (this.maxAgeMs >= 0) {
        const now = this.deps.clock();
        let expired = 0;
        while (expired < current.length && now - (current[expired] as Pending).arrivedAt > this.maxAgeMs) expired++;
        if (expired > 0) {
          await this.discard(state, current.slice(0, expired), 'RecordAgeExceeded', invokeCount, last);
          current = current.slice(expired);
          continue;
        }
      }
      stats.invocations++;
      stats.records += current.length;
      invokeCount++;
      last = await this.deps.invoker.invoke({ Records: current.map((p) => p.event) });
      const label = `${this.deps.invoker.functionName} ← ${this.streamLabel(state)} batch=${current.length} ${Math.round(last.durationMs)}ms`;
      let failedFrom = -1;
      let functionError = !last.ok;
      if (last.ok && this.reportFailures) {
        const outcome = interpretBatchResponse(last.payload, new Set(current.map((p) => p.event.dynamodb.SequenceNumber)));
        if (outcome.kind === 'invalid') {
          functionError = true;
          this.deps.log(`${label} failed: invalid batch response (${outcome.reason})`);
        } else if (outcome.kind === 'partial') {
          const failed = new Set(outcome.failedIds);
          failedFrom = current.findIndex((p) => failed.has(p.event.dynamodb.SequenceNumber));
          stats.partialFailures += outcome.failedIds.length;
        }
      }
      if (!functionError && failedFrom < 0) {
        this.deps.logInvocation(`${label} ok`);
        return;
      }
      stats.failures++;
      if (functionError) {
        if (!last.ok) this.deps.logInvocation(`${label} error (${last.timedOut ? 'timed out' : `${last.error?.errorType}: ${last.error?.errorMessage}`})`);
        if (this.mapping.bisectBatchOnFunctionError && current.length > 1) {
          const half = Math.ceil(current.length / 2);
          this.deps.log(`${label} bisecting into ${half} + ${current.length - half}`);
          await this.runBatch(state, current.slice(0, half), spent);
          await this.runBatch(state, current.slice(half), spent);
          return;
        }
      } else {
        // D5: checkpoint at the lowest failed sequence number; everything before it succeeded.
        this.deps.logInvocation(`${label} partial: retrying from record ${failedFrom + 1} of ${current.length}`);
        current = current.slice(failedFrom);
      }
      spent++;
      if (this.maxRetries >= 0 && spent > this.maxRetries) {
        await this.discard(state, current, 'RetryAttemptsExhausted', invokeCount, last);
        return;
      }
      // Capped exponential backoff: an endless retry (-1) must not spin the function and flood the log.
      await sleep(Math.min(this.deps.pollIntervalMs * 2 ** (spent - 1), MAX_RETRY_DELAY_MS), this.abort.signal);
    }
  }

  private async discard(
    state: ShardState,
    records: Pending[],
    condition: StreamFailureRecord['requestContext']['condition'],
    invokeCount: number,
    last: InvokeResult | undefined,
  ): Promise<void> {
    this.deps.stats.discarded++;
    const first = (records[0] as Pending).event;
    const lastRecord = (records[records.length - 1] as Pending).event;
    const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const failure: StreamFailureRecord = {
      requestContext: {
        requestId: last?.requestId ?? randomUUID(),
        functionArn: this.deps.invoker.arn,
        condition,
        approximateInvokeCount: invokeCount,
      },
      responseContext: {
        statusCode: 200,
        executedVersion: '$LATEST',
        ...(last && !last.ok ? { functionError: 'Unhandled' } : {}),
      },
      version: '1.0',
      timestamp: new Date(this.deps.clock()).toISOString(),
      DDBStreamBatchInfo: {
        shardId: state.shard.ShardId as string,
        startSequenceNumber: first.dynamodb.SequenceNumber,
        endSequenceNumber: lastRecord.dynamodb.SequenceNumber,
        approximateArrivalOfFirstRecord: iso(first.dynamodb.ApproximateCreationDateTime),
        approximateArrivalOfLastRecord: iso(lastRecord.dynamodb.ApproximateCreationDateTime),
        batchSize: records.length,
        streamArn: this.mapping.eventSourceArn,
      },
    };
    const destination = this.mapping.onFailureDestination;
    const where = `${records.length} record(s) ${first.dynamodb.SequenceNumber}–${lastRecord.dynamodb.SequenceNumber} (${condition})`;
    if (!destination) {
      this.deps.log(`${this.mapping.logicalId}: discarded ${where}; no on-failure destination`);
      return;
    }
    const queue = this.deps.queueByArn(destination);
    if (!queue) {
      this.deps.log(`${this.mapping.logicalId}: discarded ${where}; on-failure destination ${destination} is not an SQS queue of this app (SNS is not emulated)`);
      return;
    }
    try {
      await this.deps.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: JSON.stringify(failure) }));
      this.deps.log(`${this.mapping.logicalId}: discarded ${where} to ${destination.split(':').pop()}`);
    } catch (error) {
      this.deps.log(`${this.mapping.logicalId}: could not send the failure record for ${where}: ${(error as Error).message}`);
    }
  }

  private streamLabel(state: ShardState): string {
    const table = /table\/([^/]+)\//.exec(this.mapping.eventSourceArn)?.[1] ?? 'stream';
    return `${table}/${(state.shard.ShardId as string).slice(-8)}`;
  }
}
