import type { SQSBatchItemFailure, SQSBatchResponse, SQSRecord } from 'aws-lambda';

/** Why a record was reported failed. */
export interface RecordFailure {
  readonly record: SQSRecord;
  /** The error of the record itself, or `undefined` when it was skipped behind an earlier failure of its group. */
  readonly error?: unknown;
  /** The messageId of the failed record that stopped the group, for a skipped record. */
  readonly blockedBy?: string;
  /** True when the record was not attempted because the invocation was running out of time. */
  readonly deadline?: boolean;
}

/** Largest SQS FIFO batch (S1): a batch never holds more message groups than this. */
export const MAX_FIFO_BATCH_GROUPS = 10;

/** Options of {@link processFifoBatch}. */
export interface FifoBatchOptions {
  /** Called before every record but the first one started (the chaos harness's mid-batch crash point). */
  readonly betweenRecords?: () => void;
  /**
   * How many records may run at once, each of a different message group (records without a MessageGroupId each
   * count as their own group). Within a group records still run one after another, in batch order. 1 runs the
   * whole batch in batch order, one record at a time, as Powertools' `SqsFifoPartialProcessorAsync` does.
   *
   * The default stays 1 because running groups in parallel is only safe when `handle` keeps no per-record state
   * outside its own call (a logger's appended keys, a shared "current record" variable): each consumer opts in.
   * {@link MAX_FIFO_BATCH_GROUPS} (10) lets every group of a FIFO batch run at once, which is what a consumer with
   * independent groups wants; more only matters for standard-queue batches (up to 10,000 records).
   * @default 1
   */
  readonly groupConcurrency?: number;
  /** Errors that must crash the whole invocation instead of failing one record (an injected crash). @default none */
  readonly isFatal?: (error: unknown) => boolean;
  /**
   * Errors that can never succeed on retry (a poison message: unparseable, invalid). Such a record is reported — it
   * dead-letters after maxReceiveCount — but does NOT stop its group: it carries no effect to keep in order, and
   * holding the group would drag every later valid message into the DLQ with it (their receive counts rise in
   * lockstep with the poison's). @default none
   */
  readonly isPermanent?: (error: unknown) => boolean;
  /** Called once per reported record. */
  readonly onFailure?: (failure: RecordFailure) => void;
  /**
   * Asked before each record but the first one started: true stops starting records in every group and reports
   * every record not started yet, so an invocation about to time out returns a partial response instead of failing
   * the whole batch. Records already running finish first. @default never
   */
  readonly shouldStop?: () => boolean;
}

/**
 * Processes an SQS batch and builds the partial batch response, stopping each FIFO group at its first retryable
 * failure: the failed message and every later message of THAT group are reported, other groups go on (S10).
 * A permanent failure (poison) is reported alone and its group goes on (see `isPermanent`).
 * Records without a FIFO group fail independently: standard-queue records, including those of an SQS fair queue,
 * which carry a MessageGroupId that names a tenant, not an order (see {@link fifoGroupOf}).
 *
 * With `groupConcurrency` > 1, records start in batch order but a record waits while an earlier record of its own
 * group runs, so different groups run concurrently and each group stays in order (S9). The response lists failures
 * in batch order whatever the completion order.
 *
 * A fatal error (`isFatal`, or any error thrown by a hook) ends the invocation at once, like a crash: no further
 * record starts, no response is built and the promise rejects with that error. Records of other groups already
 * running are not awaited — as on AWS, where a crashed invocation's in-flight calls may or may not have landed; the
 * whole batch is redelivered and the idempotency marker absorbs whatever did commit.
 *
 * Same contract as Powertools' `SqsFifoPartialProcessorAsync` with `skipGroupOnError`, plus parallel groups, fatal
 * errors that end the invocation like a crash would (Powertools catches every error per record) and never a throw on
 * a fully failed batch.
 * @throws RangeError when `groupConcurrency` is not a positive integer.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
 */
export async function processFifoBatch(
  records: readonly SQSRecord[],
  handle: (record: SQSRecord) => Promise<void>,
  options: FifoBatchOptions = {},
): Promise<SQSBatchResponse> {
  const limit = options.groupConcurrency ?? 1;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(
      `groupConcurrency must be a positive integer, got ${String(limit)}: use 1 for one record at a time, ` +
        `or up to ${MAX_FIFO_BATCH_GROUPS} to run every group of a FIFO batch at once`,
    );
  }
  const pending = records.map(() => true);
  const failures = new Map<number, SQSBatchItemFailure>();
  const groupOf = (index: number): string | undefined => fifoGroupOf(records[index]!);
  const runningGroups = new Set<string>();
  let firstPending = 0;
  let inFlight = 0;
  let started = 0;
  let stopped = false;
  let crashed = false;

  return new Promise<SQSBatchResponse>((resolve, reject) => {
    const crash = (error: unknown): void => {
      if (crashed) return;
      crashed = true;
      reject(error);
    };
    const report = (index: number, failure: Omit<RecordFailure, 'record'>): void => {
      pending[index] = false;
      failures.set(index, { itemIdentifier: records[index]!.messageId });
      options.onFailure?.({ record: records[index]!, ...failure });
    };
    /** The earliest pending record whose group has nothing running. */
    const nextRunnable = (): number | undefined => {
      while (firstPending < records.length && !pending[firstPending]) firstPending++;
      for (let i = firstPending; i < records.length; i++) {
        if (!pending[i]) continue;
        const group = groupOf(i);
        if (group === undefined || !runningGroups.has(group)) return i;
      }
      return undefined;
    };
    const finishIfDone = (): void => {
      if (crashed || inFlight > 0) return;
      if (pending.some(Boolean)) return;
      resolve({ batchItemFailures: [...failures.entries()].sort(([a], [b]) => a - b).map(([, failure]) => failure) });
    };
    const run = async (index: number): Promise<void> => {
      const record = records[index]!;
      const group = groupOf(index);
      try {
        await handle(record);
      } catch (error) {
        if (crashed) return;
        if (options.isFatal?.(error)) return crash(error);
        report(index, { error });
        if (group !== undefined && !options.isPermanent?.(error)) {
          // Every later record of the group is reported now: it can never start in this invocation.
          for (let later = index + 1; later < records.length; later++) {
            if (pending[later] && groupOf(later) === group) report(later, { blockedBy: record.messageId });
          }
        }
      } finally {
        inFlight--;
        if (group !== undefined) runningGroups.delete(group);
      }
    };
    const pump = (): void => {
      try {
        while (!crashed && !stopped && inFlight < limit) {
          const index = nextRunnable();
          if (index === undefined) break;
          if (started > 0) {
            if (options.shouldStop?.()) {
              stopped = true;
              for (let rest = 0; rest < records.length; rest++) if (pending[rest]) report(rest, { deadline: true });
              break;
            }
            options.betweenRecords?.();
          }
          pending[index] = false;
          started++;
          inFlight++;
          const group = groupOf(index);
          if (group !== undefined) runningGroups.add(group);
          void run(index).then(pump, crash);
        }
        finishIfDone();
      } catch (error) {
        crash(error);
      }
    };
    pump();
  });
}

/**
 * The FIFO message group of a record, or `undefined` when its order does not matter: no MessageGroupId, or a record
 * of a standard queue (its eventSourceARN does not end in `.fifo`). On an SQS fair queue — a standard queue — the
 * MessageGroupId names the tenant for fair delivery and promises no order, so stopping "its group" at a failure would
 * only hold back the tenant's other messages.
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues.html
 */
export function fifoGroupOf(record: SQSRecord): string | undefined {
  const group = record.attributes?.MessageGroupId;
  if (group === undefined) return undefined;
  const arn = record.eventSourceARN;
  return arn === undefined || arn === '' || arn.endsWith('.fifo') ? group : undefined;
}
