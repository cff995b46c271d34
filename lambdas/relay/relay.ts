import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import { formatIssues } from '../shared/errors.js';
import { ACCOUNT_PREFIX, OUTBOX_PREFIX } from '../shared/ledger-keys.js';
import { PaymentEventSchema, type PaymentEvent } from '../shared/payments-model.js';
import { UnprocessableRecordError } from './errors.js';

/** SendMessageBatch carries at most 10 entries. */
export const SQS_BATCH_LIMIT = 10;

/** Ports of the relay. */
export interface RelayDeps {
  readonly sqs: Pick<SQSClient, 'send'>;
  /** Target queue; a URL ending in `.fifo` gets a group (the account) and a dedup id (the event id). */
  readonly queueUrl: string;
}

/** Outcome of relaying one stream batch. */
export interface RelayResult {
  /** Sequence numbers of the records to report failed (unprocessable, or whose entry the queue refused). */
  readonly failedSequenceNumbers: string[];
  readonly published: PaymentEvent[];
  /** Records that carry no event (other item types, unchanged `lastEvent`). */
  skipped: number;
  readonly unprocessable: UnprocessableRecordError[];
  /** Why entries failed, per sequence number. */
  readonly sendFailures: { readonly sequenceNumber: string; readonly eventId: string; readonly reason: string }[];
}

/**
 * The payment event a ledger stream record carries, or `null` when it carries none.
 *
 * - `OUTBOX#…` INSERT: the `event` attribute (atomic, powertools and at-least-once strategies).
 * - `ACCOUNT#…` INSERT/MODIFY with a `lastEvent` attribute that changed (watermark strategy; with NEW_IMAGE only the
 *   change cannot be seen, so it is published and the event id dedups it downstream).
 * @throws UnprocessableRecordError when the record should carry an event but its JSON or schema is invalid.
 */
export function eventFromRecord(record: DynamoDBRecord): PaymentEvent | null {
  const image = record.dynamodb?.NewImage;
  const pk = record.dynamodb?.Keys?.pk?.S ?? image?.pk?.S ?? '';
  const sequenceNumber = record.dynamodb?.SequenceNumber ?? '';
  let raw: string | undefined;
  if (pk.startsWith(OUTBOX_PREFIX)) {
    if (record.eventName !== 'INSERT') return null;
    raw = image?.event?.S;
    if (raw === undefined) throw new UnprocessableRecordError(sequenceNumber, ['outbox INSERT without a NewImage `event` string']);
  } else if (pk.startsWith(ACCOUNT_PREFIX)) {
    if (record.eventName !== 'INSERT' && record.eventName !== 'MODIFY') return null;
    raw = image?.lastEvent?.S;
    if (raw === undefined || raw === record.dynamodb?.OldImage?.lastEvent?.S) return null;
  } else {
    return null;
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new UnprocessableRecordError(sequenceNumber, [`event is not JSON (${(error as Error).message})`], { cause: error });
  }
  const parsed = PaymentEventSchema.safeParse(json);
  if (!parsed.success) throw new UnprocessableRecordError(sequenceNumber, formatIssues(parsed.error.issues), { cause: parsed.error });
  return parsed.data;
}

/**
 * Publishes the events of a stream batch to the events queue with SendMessageBatch (chunks of 10) and returns which
 * records to report failed: only those whose entry failed, or that are unprocessable (D5). On a FIFO target the
 * chunks after a failed one are not sent (and are reported), so an account's events cannot overtake each other.
 */
export async function relayRecords(records: readonly DynamoDBRecord[], deps: RelayDeps): Promise<RelayResult> {
  const fifo = deps.queueUrl.endsWith('.fifo');
  const result: RelayResult = { failedSequenceNumbers: [], published: [], skipped: 0, unprocessable: [], sendFailures: [] };
  const pending: { sequenceNumber: string; event: PaymentEvent; entry: SendMessageBatchRequestEntry }[] = [];
  for (const record of records) {
    const sequenceNumber = record.dynamodb?.SequenceNumber ?? '';
    let event: PaymentEvent | null;
    try {
      event = eventFromRecord(record);
    } catch (error) {
      if (!(error instanceof UnprocessableRecordError)) throw error;
      result.unprocessable.push(error);
      result.failedSequenceNumbers.push(sequenceNumber);
      continue;
    }
    if (event === null) {
      result.skipped += 1;
      continue;
    }
    pending.push({
      sequenceNumber,
      event,
      entry: {
        Id: String(pending.length),
        MessageBody: JSON.stringify(event),
        MessageAttributes: {
          eventType: { DataType: 'String', StringValue: event.eventType },
          eventId: { DataType: 'String', StringValue: event.eventId },
        },
        ...(fifo ? { MessageGroupId: event.accountId, MessageDeduplicationId: event.eventId } : {}),
      },
    });
  }

  for (let start = 0; start < pending.length; start += SQS_BATCH_LIMIT) {
    const chunk = pending.slice(start, start + SQS_BATCH_LIMIT);
    const failed = new Map<string, string>();
    try {
      const response = await deps.sqs.send(
        new SendMessageBatchCommand({ QueueUrl: deps.queueUrl, Entries: chunk.map((p) => p.entry) }),
      );
      for (const failure of response.Failed ?? []) {
        if (failure.Id !== undefined) failed.set(failure.Id, `${failure.Code ?? 'Failed'}: ${failure.Message ?? ''}`.trim());
      }
    } catch (error) {
      for (const p of chunk) failed.set(p.entry.Id!, `SendMessageBatch failed: ${(error as Error).message}`);
    }
    for (const p of chunk) {
      const reason = failed.get(p.entry.Id!);
      if (reason === undefined) {
        result.published.push(p.event);
      } else {
        result.failedSequenceNumbers.push(p.sequenceNumber);
        result.sendFailures.push({ sequenceNumber: p.sequenceNumber, eventId: p.event.eventId, reason });
      }
    }
    if (fifo && failed.size > 0) {
      // Lambda retries the stream from the lowest failed record anyway (D5); publishing later chunks now would let
      // an account's later events overtake the failed one on a FIFO target. Hold them back for the retry.
      for (const p of pending.slice(start + SQS_BATCH_LIMIT)) {
        result.failedSequenceNumbers.push(p.sequenceNumber);
        result.sendFailures.push({
          sequenceNumber: p.sequenceNumber,
          eventId: p.event.eventId,
          reason: 'not sent: an earlier entry failed and the FIFO target must keep per-account order',
        });
      }
      break;
    }
  }
  return result;
}
