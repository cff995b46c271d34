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

/** Options of {@link processFifoBatch}. */
export interface FifoBatchOptions {
  /** Called before every record but the first (the chaos harness's mid-batch crash point). */
  readonly betweenRecords?: () => void;
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
   * Asked before each record: true stops the batch there and reports every remaining record (all groups), so an
   * invocation about to time out returns a partial response instead of failing the whole batch. @default never
   */
  readonly shouldStop?: () => boolean;
}

/**
 * Processes an SQS batch in order and builds the partial batch response, stopping each FIFO group at its first
 * retryable failure: the failed message and every later message of THAT group are reported, other groups go on
 * (S10). A permanent failure (poison) is reported alone and its group goes on (see `isPermanent`).
 * Records without a MessageGroupId (standard queues) fail independently.
 *
 * Same contract as Powertools' `SqsFifoPartialProcessorAsync` with `skipGroupOnError`, plus fatal errors that end the
 * invocation like a crash would (Powertools catches every error per record) and never a throw on a fully failed batch.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
 */
export async function processFifoBatch(
  records: readonly SQSRecord[],
  handle: (record: SQSRecord) => Promise<void>,
  options: FifoBatchOptions = {},
): Promise<SQSBatchResponse> {
  const failures: SQSBatchItemFailure[] = [];
  const failedGroups = new Map<string, string>();
  for (const [index, record] of records.entries()) {
    if (index > 0 && options.shouldStop?.()) {
      for (const rest of records.slice(index)) {
        failures.push({ itemIdentifier: rest.messageId });
        options.onFailure?.({ record: rest, deadline: true });
      }
      break;
    }
    if (index > 0) options.betweenRecords?.();
    const group = record.attributes?.MessageGroupId;
    const blockedBy = group === undefined ? undefined : failedGroups.get(group);
    if (blockedBy !== undefined) {
      failures.push({ itemIdentifier: record.messageId });
      options.onFailure?.({ record, blockedBy });
      continue;
    }
    try {
      await handle(record);
    } catch (error) {
      if (options.isFatal?.(error)) throw error;
      if (group !== undefined && !options.isPermanent?.(error)) failedGroups.set(group, record.messageId);
      failures.push({ itemIdentifier: record.messageId });
      options.onFailure?.({ record, error });
    }
  }
  return { batchItemFailures: failures };
}
