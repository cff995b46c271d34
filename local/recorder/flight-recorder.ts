import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { extractKeys, ownKey, parseFunctionLine } from './correlation-keys.js';
import { RecorderOptionError } from './errors.js';
import type { CallEvent, NewEvent, QueueEvent, RecordedEvent, RecorderCounters } from './types.js';

/**
 * Events kept by default: about 300 bytes each in memory (measured by `npm run bench -- --recorder`, BENCHMARKS.md
 * "Flight recorder"), so the full ring stays well under 50 MB.
 */
export const DEFAULT_RECORD_LIMIT = 100_000;
/** Largest ring accepted. */
export const MAX_RECORD_LIMIT = 5_000_000;

/** SQS's FIFO deduplication interval: a send with a dedup id seen on the same queue within it is not enqueued. */
const FIFO_DEDUP_WINDOW_MS = 5 * 60_000;
/** Receipt handles (of messages in flight) and dedup ids (of the last 5 minutes' sends) remembered at most. */
const MAX_REMEMBERED = 20_000;

/** One gateway call as the recorder reads it (`GatewayCall` with its bodies). */
export interface RecordableCall {
  readonly principal: string;
  readonly principalKind: string;
  readonly service: string;
  readonly operation: string;
  readonly resources: readonly string[];
  readonly decision: 'Allow' | 'Deny' | 'Error';
  readonly status: number;
  readonly durationMs: number;
  readonly requestBody?: Buffer;
  readonly responseBody?: Buffer;
}

/** An invocation result as the recorder reads it (`InvokeResult`). */
export interface RecordableResult {
  readonly ok: boolean;
  readonly timedOut: boolean;
  readonly durationMs: number;
  readonly requestId: string;
  readonly payload?: unknown;
  readonly error?: { readonly errorType: string; readonly errorMessage: string };
}

/** Options of {@link FlightRecorder}. */
export interface FlightRecorderOptions {
  /** Events kept (the oldest are dropped first); 1–5,000,000. @default 100000 ({@link DEFAULT_RECORD_LIMIT}) */
  readonly limit?: number;
  /** Names the function of a gateway principal (a role ARN). @default - the ARN's last part */
  readonly functionOfPrincipal?: (principalArn: string) => string | undefined;
  /** Clock, epoch ms. @default Date.now */
  readonly clock?: () => number;
}

/** Data-plane operations kept in the ring; every other call is only counted (polls of attributes, shard iterators…). */
const KEY_OPERATIONS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'GetItem', 'TransactWriteItems', 'TransactGetItems', 'SendMessage']);
const QUEUE_OPERATIONS = new Set(['SendMessageBatch', 'ReceiveMessage', 'DeleteMessage', 'DeleteMessageBatch', 'ChangeMessageVisibility', 'ChangeMessageVisibilityBatch']);

/**
 * The local runtime's flight recorder: a ring of the last N events (invocations, records handed to functions, SDK
 * calls, queue moves, structured log lines), each carrying the correlation keys found in it, plus counters that
 * are never evicted (invocations, errors, duplicates absorbed per layer). Recording does no I/O and parses only
 * small bodies; {@link FlightRecorder.events} and the journey builder do the rest when asked.
 */
export class FlightRecorder {
  public readonly limit: number;
  private readonly ring: (RecordedEvent | undefined)[];
  private next = 0;
  private seq = 0;
  private evicted = 0;
  private denied = 0;
  private deadLettered = 0;
  private readonly functionCounters: Record<string, { invocations: number; errors: number; partial: number; cold: number }> = {};
  private readonly duplicates: Record<string, number> = {};
  private readonly metrics: Record<string, number> = {};
  private readonly calls: Record<string, number> = {};
  private readonly receipts = new Map<string, { messageId: string; keys: string[] }>();
  private readonly dedupSent = new Map<string, number>();
  private readonly clock: () => number;
  private readonly names = new Map<string, string>();
  private readonly deadLetterQueues = new Set<string>();
  private readonly functionOf: (principalArn: string) => string | undefined;

  public constructor(options: FlightRecorderOptions = {}) {
    const limit = options.limit ?? DEFAULT_RECORD_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RECORD_LIMIT) {
      throw new RecorderOptionError(`record limit must be an integer from 1 to ${MAX_RECORD_LIMIT}, got ${limit}: pass --record-limit <events> (default ${DEFAULT_RECORD_LIMIT})`);
    }
    this.limit = limit;
    this.ring = new Array<RecordedEvent | undefined>(limit);
    this.clock = options.clock ?? Date.now;
    const resolve = options.functionOfPrincipal ?? ((arn: string) => arn.split(/[:/]/).pop());
    const names = new Map<string, string | undefined>();
    this.functionOf = (arn) => {
      if (!names.has(arn)) names.set(arn, resolve(arn));
      return names.get(arn);
    };
  }

  /**
   * Names resources by logical id in the events (queue and table physical names are long and change per deploy).
   * @param names physical name → logical id
   */
  public nameResources(names: Iterable<readonly [string, string]>): void {
    for (const [physical, logical] of names) this.names.set(physical, logical);
  }

  /** Names the dead-letter queues (logical ids or names): a receive from one of them is recorded as a `redrive`. */
  public markDeadLetterQueues(names: Iterable<string>): void {
    for (const name of names) this.deadLetterQueues.add(name);
  }

  /** Adds one event (numbered here); returns it. */
  public add(event: NewEvent): RecordedEvent {
    const numbered = { seq: ++this.seq, ...event } as RecordedEvent;
    if (this.ring[this.next] !== undefined) this.evicted++;
    this.ring[this.next] = numbered;
    this.next = (this.next + 1) % this.limit;
    return numbered;
  }

  /** The events held, oldest first. */
  public events(): RecordedEvent[] {
    const out: RecordedEvent[] = [];
    for (let i = 0; i < this.limit; i++) {
      const event = this.ring[(this.next + i) % this.limit];
      if (event !== undefined) out.push(event);
    }
    return out;
  }

  /** Counters since start (not bounded by the ring). */
  public counters(): RecorderCounters {
    return {
      recorded: this.seq,
      evicted: this.evicted,
      functions: structuredClone(this.functionCounters),
      duplicatesAbsorbed: { ...this.duplicates },
      metrics: { ...this.metrics },
      calls: { ...this.calls },
      denied: this.denied,
      deadLettered: this.deadLettered,
    };
  }

  /** Writes the ring as JSON Lines (one event per line, oldest first); returns the number of events written. */
  public writeJsonl(file: string): number {
    const events = this.events();
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, events.map((event) => JSON.stringify(event)).join('\n') + (events.length ? '\n' : ''));
    return events.length;
  }

  /** Records one invocation of a function and, for mapping batches, each record it was handed. */
  public recordInvocation(fn: string, event: unknown, result: RecordableResult, cold: boolean): void {
    // Records are handed over when the invocation starts.
    const t = this.clock() - result.durationMs;
    const counters = (this.functionCounters[fn] ??= { invocations: 0, errors: 0, partial: 0, cold: 0 });
    counters.invocations++;
    if (!result.ok) counters.errors++;
    if (cold) counters.cold++;
    const outcome = result.timedOut ? 'timeout' : !result.ok ? 'error' : 'ok';
    const error = result.error ? `${result.error.errorType}: ${result.error.errorMessage}`.slice(0, 300) : undefined;
    const base = { t, fn, durationMs: result.durationMs, cold, requestId: result.requestId, ...(error && { error }) };
    const records = (event as { Records?: unknown[] } | null)?.Records;
    const first = Array.isArray(records) ? (records[0] as { eventSource?: string; eventSourceARN?: string } | undefined) : undefined;
    if (first && (first.eventSource === 'aws:sqs' || first.eventSource === 'aws:dynamodb')) {
      const sqs = first.eventSource === 'aws:sqs';
      const failures = batchFailures(result.payload);
      if (failures.length) counters.partial++;
      const source = this.name(sourceName(first.eventSourceARN ?? ''));
      this.add({ kind: 'invocation', ...base, keys: [], trigger: sqs ? 'sqs' : 'stream', source, batchSize: records!.length, outcome: failures.length && outcome === 'ok' ? 'partial' : outcome, ...(failures.length && { failures }) });
      const failed = new Set(failures);
      for (const raw of records!) {
        if (sqs) {
          const record = raw as { messageId?: string; body?: string; attributes?: Record<string, string> };
          const id = ownKey(record.messageId ?? '');
          const keys = extractKeys(record.body ?? '', id ? [id] : []);
          const dedup = record.attributes?.MessageDeduplicationId;
          if (dedup && !keys.includes(dedup)) keys.push(ownKey(dedup));
          const ok = result.ok && !failed.has(id);
          this.add({ kind: 'record', t, fn, keys, source, id, receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? 1), outcome: ok ? 'ok' : 'failed', batchSize: records!.length, requestId: result.requestId, ...(!result.ok && error && { error }) });
        } else {
          const record = raw as { eventName?: string; dynamodb?: { SequenceNumber?: string; NewImage?: unknown; Keys?: unknown } };
          const id = record.dynamodb?.SequenceNumber ?? '';
          const keys = extractKeys(JSON.stringify(record.dynamodb?.NewImage ?? record.dynamodb?.Keys ?? {}));
          const ok = result.ok && !failed.has(id);
          this.add({ kind: 'record', t, fn, keys, source, id, eventName: record.eventName, outcome: ok ? 'ok' : 'failed', batchSize: records!.length, requestId: result.requestId, ...(!result.ok && error && { error }) });
        }
      }
      return;
    }
    const api = event as { httpMethod?: string; path?: string; headers?: Record<string, string | undefined>; body?: string | null } | null;
    if (api?.httpMethod) {
      const keys: string[] = [];
      for (const [name, value] of Object.entries(api.headers ?? {})) if (name.toLowerCase() === 'idempotency-key' && value) keys.push(value);
      extractKeys(api.body ?? '', keys);
      const response = result.payload as { statusCode?: number; body?: string } | null | undefined;
      if (typeof response?.body === 'string') extractKeys(response.body, keys);
      const status = typeof response?.statusCode === 'number' ? response.statusCode : undefined;
      this.add({ kind: 'invocation', ...base, keys, trigger: 'api', source: `${api.httpMethod} ${api.path ?? ''}`, outcome, ...(status !== undefined && { status }) });
      return;
    }
    this.add({ kind: 'invocation', ...base, keys: extractKeys(safeStringify(event)), trigger: 'direct', outcome });
  }

  /** Records one line a function printed: structured log lines become events, EMF metrics feed the counters. */
  public recordLine(fn: string, line: string): void {
    if (line.length < 2 || !line.includes('{')) return;
    const parsed = parseFunctionLine(line, fn, this.clock());
    if (!parsed) return;
    if ('metrics' in parsed) {
      for (const { name, layer, value } of parsed.metrics.values) {
        this.metrics[`${name}|${layer}`] = (this.metrics[`${name}|${layer}`] ?? 0) + value;
        if (name === 'DuplicatesSkipped') this.duplicates[layer || fn] = (this.duplicates[layer || fn] ?? 0) + value;
      }
      return;
    }
    this.add(parsed.log as NewEvent);
  }

  /** Records a message the runtime saw arrive in a dead-letter queue. */
  public recordDeadLetter(queue: string, message: { readonly messageId: string; readonly body?: string; readonly receiveCount?: number }): void {
    this.deadLettered++;
    queue = this.name(queue);
    const keys = extractKeys(message.body ?? '', [ownKey(message.messageId)]);
    this.add({ kind: 'queue', t: this.clock(), keys, move: 'dead-letter', queue, messageId: message.messageId, ...(message.receiveCount !== undefined && { receiveCount: message.receiveCount }) });
  }

  /** Records one call through the gateway (its bodies give the keys, the queue moves and the failure reasons). */
  public recordCall(call: RecordableCall): void {
    // When the answer came back: a long-polled receive happens at its end, a write is committed by then.
    const t = this.clock();
    const op = `${call.service}:${call.operation}`;
    this.calls[op] = (this.calls[op] ?? 0) + 1;
    if (call.decision === 'Deny') this.denied++;
    const fn = call.principalKind === 'function' ? this.functionOf(call.principal) : call.principalKind === 'caller' ? 'caller' : 'unknown';
    const keyed = KEY_OPERATIONS.has(call.operation);
    const queued = call.service === 'sqs' && QUEUE_OPERATIONS.has(call.operation);
    const failed = call.status >= 400 || call.decision !== 'Allow';
    if (!keyed && !queued && !failed) return;
    // An empty long poll (most receives) answers `{}` or `{"Messages":[]}`: nothing to parse.
    if (call.operation === 'ReceiveMessage' && !failed && (call.responseBody?.length ?? 0) < 40) return;
    const request = parseJson(call.requestBody);
    const response = failed || queued || call.operation === 'SendMessage' || includesCapacity(call.responseBody) ? parseJson(call.responseBody) : undefined;
    if (queued && !failed && request) {
      this.recordQueueMoves(call, fn, t, request, response ?? {});
      return;
    }
    const keys = call.requestBody && call.requestBody.length ? extractKeys(call.requestBody.toString('utf8')) : [];
    if (failed && call.responseBody && call.responseBody.length) extractKeys(call.responseBody.toString('utf8'), keys);
    const error = failed ? errorCode(response) : undefined;
    const reasons = Array.isArray(response?.CancellationReasons) ? (response.CancellationReasons as Array<{ Code?: string }>).map((r) => r.Code ?? 'None') : undefined;
    const message = failed ? String(response?.message ?? response?.Message ?? '').slice(0, 300) : '';
    const consumedUnits = capacityUnits(response?.ConsumedCapacity);
    const items = Array.isArray(request?.TransactItems) ? request.TransactItems.length : undefined;
    const queue = call.service === 'sqs' ? this.name(sourceName(String(request?.QueueUrl ?? ''))) : undefined;
    const resource = queue ?? resourceName(call.resources, (n) => this.name(n));
    const event: NewEvent = {
      kind: 'call',
      t,
      fn,
      keys,
      service: call.service,
      operation: call.operation,
      ...(resource && { resource }),
      decision: call.decision,
      status: call.status,
      durationMs: call.durationMs,
      ...(error && { error }),
      ...(reasons && { reasons }),
      ...(message && { message }),
      ...(consumedUnits !== undefined && { consumedUnits }),
      ...(items !== undefined && { items }),
    } satisfies Omit<CallEvent, 'seq'>;
    if (call.operation === 'SendMessage' && !failed && request && queue) {
      const messageId = typeof response?.MessageId === 'string' ? response.MessageId : undefined;
      this.recordSend(fn, t, queue, request, messageId, keys);
      return;
    }
    this.add(event);
  }

  private recordQueueMoves(call: RecordableCall, fn: string | undefined, t: number, request: Record<string, unknown>, response: Record<string, unknown>): void {
    const queue = this.name(sourceName(String(request.QueueUrl ?? '')));
    const failedEntries = new Map<string, string>();
    for (const entry of (response.Failed as Array<{ Id?: string; Code?: string; Message?: string }> | undefined) ?? []) failedEntries.set(String(entry.Id), `${entry.Code ?? 'Failed'}: ${entry.Message ?? ''}`.slice(0, 200));
    switch (call.operation) {
      case 'SendMessageBatch': {
        const ids = new Map<string, string>();
        for (const entry of (response.Successful as Array<{ Id?: string; MessageId?: string }> | undefined) ?? []) if (entry.Id && entry.MessageId) ids.set(entry.Id, entry.MessageId);
        for (const entry of (request.Entries as Array<Record<string, unknown>> | undefined) ?? []) {
          const id = String(entry.Id);
          const keys = extractKeys(String(entry.MessageBody ?? ''));
          const error = failedEntries.get(id);
          this.recordSend(fn, t, queue, entry, ids.get(id), keys, error);
        }
        return;
      }
      case 'ReceiveMessage': {
        for (const message of (response.Messages as Array<{ MessageId?: string; ReceiptHandle?: string; Body?: string; Attributes?: Record<string, string> }> | undefined) ?? []) {
          const messageId = ownKey(message.MessageId ?? '');
          const keys = extractKeys(message.Body ?? '', [messageId]);
          const dedupId = message.Attributes?.MessageDeduplicationId;
          if (dedupId && !keys.includes(dedupId)) keys.push(ownKey(dedupId));
          if (message.ReceiptHandle) this.remember(this.receipts, message.ReceiptHandle, { messageId, keys });
          const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? Number.NaN);
          this.add({ kind: 'queue', t, fn, keys, move: this.deadLetterQueues.has(queue) ? 'redrive' : 'receive', queue, messageId, ...(Number.isFinite(receiveCount) && { receiveCount }), ...(message.Attributes?.MessageGroupId && { group: message.Attributes.MessageGroupId }) });
        }
        return;
      }
      case 'DeleteMessage':
      case 'ChangeMessageVisibility':
      case 'DeleteMessageBatch':
      case 'ChangeMessageVisibilityBatch': {
        const batch = call.operation.endsWith('Batch');
        const entries = batch ? ((request.Entries as Array<Record<string, unknown>> | undefined) ?? []) : [request];
        const move = call.operation.startsWith('Delete') ? 'delete' : 'visibility';
        for (const entry of entries) {
          const handle = String(entry.ReceiptHandle ?? '');
          const known = this.receipts.get(handle);
          if (move === 'delete') this.receipts.delete(handle);
          const error = batch ? failedEntries.get(String(entry.Id)) : undefined;
          const visibility = Number(entry.VisibilityTimeout);
          this.add({
            kind: 'queue',
            t,
            fn,
            keys: known?.keys ?? [],
            move,
            queue,
            ...(known && { messageId: known.messageId }),
            ...(move === 'visibility' && Number.isFinite(visibility) && { visibilitySeconds: visibility }),
            ...(error && { error }),
          } satisfies Omit<QueueEvent, 'seq'>);
        }
        return;
      }
    }
  }

  private recordSend(fn: string | undefined, t: number, queue: string, entry: Record<string, unknown>, messageId: string | undefined, keys: string[], error?: string): void {
    if (messageId && !keys.includes(messageId)) keys.push((messageId = ownKey(messageId)));
    const dedupId = typeof entry.MessageDeduplicationId === 'string' ? ownKey(entry.MessageDeduplicationId) : undefined;
    if (dedupId && !keys.includes(dedupId)) keys.push(dedupId);
    let deduplicated = false;
    if (dedupId && !error) {
      const slot = `${queue}\n${dedupId}`;
      const previous = this.dedupSent.get(slot);
      deduplicated = previous !== undefined && t - previous < FIFO_DEDUP_WINDOW_MS;
      if (!deduplicated) this.remember(this.dedupSent, slot, t);
    }
    const group = typeof entry.MessageGroupId === 'string' ? entry.MessageGroupId : undefined;
    this.add({
      kind: 'queue',
      t,
      fn,
      keys,
      move: 'send',
      queue,
      ...(messageId && { messageId }),
      ...(dedupId && { dedupId }),
      ...(group && { group }),
      ...(deduplicated && { deduplicated }),
      ...(error && { error }),
    });
  }

  private name(physical: string): string {
    return this.names.get(physical) ?? ownKey(physical);
  }

  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    map.set(key, value);
    if (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value!);
  }
}

/** Queue name of a queue URL or ARN, table name of a table or stream ARN. */
export function sourceName(urlOrArn: string): string {
  const table = /:table\/([^/]+)/.exec(urlOrArn);
  if (table) return table[1]!;
  return urlOrArn.split(/[/:]/).filter(Boolean).pop() ?? urlOrArn;
}

function resourceName(resources: readonly string[], name: (physical: string) => string): string | undefined {
  const names = [...new Set(resources.filter((r) => !r.startsWith('arn:aws:kms')).map((r) => name(sourceName(r))))];
  return names.length ? names.join(', ') : undefined;
}

function batchFailures(payload: unknown): string[] {
  const failures = (payload as { batchItemFailures?: Array<{ itemIdentifier?: unknown }> } | null | undefined)?.batchItemFailures;
  if (!Array.isArray(failures)) return [];
  return failures.map((f) => f?.itemIdentifier).filter((id): id is string => typeof id === 'string' && id !== '');
}

function parseJson(body: Buffer | undefined): Record<string, unknown> | undefined {
  if (!body || body.length === 0 || body[0] !== 0x7b /* { */) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function includesCapacity(body: Buffer | undefined): boolean {
  return body !== undefined && body.length > 20 && body.includes('ConsumedCapacity');
}

function errorCode(response: Record<string, unknown> | undefined): string | undefined {
  const type = response?.__type;
  return typeof type === 'string' ? type.split('#').pop() : undefined;
}

function capacityUnits(capacity: unknown): number | undefined {
  const list = Array.isArray(capacity) ? capacity : capacity ? [capacity] : [];
  let total = 0;
  for (const entry of list as Array<{ CapacityUnits?: number }>) total += Number(entry?.CapacityUnits ?? 0);
  return list.length ? total : undefined;
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}
