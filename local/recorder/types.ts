/**
 * What the flight recorder keeps: one small, flat, JSON-serialisable event per hop of a message (an invocation, a
 * record handed to a function, an SDK call, a queue move, a structured log line), each with the correlation keys
 * found in it. Events hold extracted fields, never whole bodies: the ring's memory stays bounded.
 */

/** Kinds of recorded events. */
export type RecordedEventKind = 'invocation' | 'record' | 'call' | 'queue' | 'log';

/** Fields every recorded event has. */
export interface RecordedEventBase {
  /** Position in the recording (increasing, never reused). */
  readonly seq: number;
  /** Epoch milliseconds. */
  readonly t: number;
  readonly kind: RecordedEventKind;
  /** Logical id of the function concerned (the invoked one, or the caller of an SDK call); `caller` for outside callers. */
  readonly fn?: string;
  /** Correlation keys found (Idempotency-Key, paymentId, eventId, messageId, MessageDeduplicationId values). */
  readonly keys: readonly string[];
}

/** One function invocation. */
export interface InvocationEvent extends RecordedEventBase {
  readonly kind: 'invocation';
  readonly trigger: 'api' | 'sqs' | 'stream' | 'direct';
  /** Queue or table name for mapping batches, `METHOD /path` for API events. */
  readonly source?: string;
  /** Records in the batch (mapping batches). */
  readonly batchSize?: number;
  readonly durationMs: number;
  readonly outcome: 'ok' | 'partial' | 'error' | 'timeout';
  /** `errorType: errorMessage` of a failed invocation. */
  readonly error?: string;
  /** Item identifiers (message ids, sequence numbers) of a partial batch response. */
  readonly failures?: readonly string[];
  /** HTTP status of an API response. */
  readonly status?: number;
  readonly cold: boolean;
  readonly requestId: string;
}

/** One SQS message or stream record handed to a function by an event source mapping. */
export interface RecordEvent extends RecordedEventBase {
  readonly kind: 'record';
  readonly source: string;
  /** SQS message id or stream sequence number. */
  readonly id: string;
  /** ApproximateReceiveCount of an SQS message. */
  readonly receiveCount?: number;
  /** INSERT / MODIFY / REMOVE of a stream record. */
  readonly eventName?: string;
  /** `failed`: reported in batchItemFailures, or the whole invocation failed. */
  readonly outcome: 'ok' | 'failed';
  readonly batchSize: number;
  readonly requestId: string;
  /** Why it failed (the invocation's error), when it did. */
  readonly error?: string;
}

/** One AWS SDK call through the gateway (data-plane calls; control calls are only counted). */
export interface CallEvent extends RecordedEventBase {
  readonly kind: 'call';
  readonly service: string;
  readonly operation: string;
  /** Table, index, stream or queue name(s) authorized. */
  readonly resource?: string;
  readonly decision: 'Allow' | 'Deny' | 'Error';
  readonly status: number;
  readonly durationMs: number;
  /** AWS error code of a failed call (`ConditionalCheckFailedException`, `TransactionCanceledException`, `AccessDeniedException`…). */
  readonly error?: string;
  /** CancellationReasons codes of a cancelled transaction, in item order (`None`, `ConditionalCheckFailed`…). */
  readonly reasons?: readonly string[];
  /** Error message (denials, validation errors), shortened. */
  readonly message?: string;
  /** Capacity units the response reports (when the request asked for them). */
  readonly consumedUnits?: number;
  /** Items written by a transaction or batch. */
  readonly items?: number;
}

/** What happened to a queue message. */
export type QueueMove = 'send' | 'receive' | 'visibility' | 'delete' | 'dead-letter' | 'redrive';

/** One message moving into, out of or within a queue. */
export interface QueueEvent extends RecordedEventBase {
  readonly kind: 'queue';
  readonly move: QueueMove;
  readonly queue: string;
  readonly messageId?: string;
  readonly dedupId?: string;
  readonly group?: string;
  readonly receiveCount?: number;
  /** New visibility timeout of a `visibility` move, seconds. */
  readonly visibilitySeconds?: number;
  /** A FIFO send answered with the MessageId of an earlier send of the same dedup id: SQS did not enqueue it again. */
  readonly deduplicated?: boolean;
  /** Failure of this entry (a batch entry rejected, a denied call). */
  readonly error?: string;
}

/** One structured log line of a function (Powertools Logger JSON). */
export interface LogEvent extends RecordedEventBase {
  readonly kind: 'log';
  readonly level: string;
  readonly message: string;
  /** Pipeline layer (`api`, `ledger`, `relay`, `notifier`) from the logger's persistent keys. */
  readonly layer?: string;
  readonly requestId?: string;
  /** A few explanatory fields of the line (`reason`, `status`, `blockedBy`, `error`…), shortened. */
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

/** Any recorded event. */
export type RecordedEvent = InvocationEvent | RecordEvent | CallEvent | QueueEvent | LogEvent;

/** A recorded event before the recorder numbers it. */
export type NewEvent = RecordedEvent extends infer E ? (E extends RecordedEvent ? Omit<E, 'seq'> : never) : never;

/** Counters the recorder keeps besides the ring (never evicted). */
export interface RecorderCounters {
  /** Events recorded since start (the ring holds the last `limit`). */
  readonly recorded: number;
  /** Events dropped from the ring to make room. */
  readonly evicted: number;
  /** Per function logical id: invocations, errors (failed or timed out), partial batch responses, cold starts. */
  readonly functions: Readonly<Record<string, { invocations: number; errors: number; partial: number; cold: number }>>;
  /** EMF `DuplicatesSkipped` summed per `layer` dimension (duplicates absorbed per layer). */
  readonly duplicatesAbsorbed: Readonly<Record<string, number>>;
  /** Every EMF metric summed per `name|layer`. */
  readonly metrics: Readonly<Record<string, number>>;
  /** Calls per `service:operation`, including the control calls not kept in the ring. */
  readonly calls: Readonly<Record<string, number>>;
  /** Denied calls. */
  readonly denied: number;
  /** Messages seen moved to a dead-letter queue. */
  readonly deadLettered: number;
}
