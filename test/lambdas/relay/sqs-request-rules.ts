import type { SendMessageBatchCommand, SendMessageBatchRequestEntry, SQSClient } from '@aws-sdk/client-sqs';
import { messageAttributesError } from '../../../local/gateway/sqs-message-rules.js';

/**
 * What SQS requires of a SendMessageBatch entry, where fauxqs is laxer than AWS (it accepts an empty `DataType`, for
 * one). Tests run what the code sends through these rules, so code that relies on an emulator's leniency fails here
 * instead of on AWS.
 *
 * Message attributes are judged by the local gateway's rules (local/gateway/sqs-message-rules.ts: count, names,
 * DataType, values — the same rules every function's SQS call meets under `cdk-local`), so the two cannot disagree.
 * The entry rules (SQS API reference, SendMessageBatchRequestEntry): the Id is up to 80 letters, digits, `-` and `_`,
 * unique in the batch (at most 10 entries); the body is not empty; a FIFO queue needs a MessageGroupId (and a
 * MessageDeduplicationId unless content-based deduplication is on); a standard queue takes no MessageDeduplicationId.
 * @returns one line per violation, naming the entry and the rule (for attributes, SQS's error); empty when SQS would
 *   accept them.
 */
export function sqsBatchViolations(
  entries: readonly SendMessageBatchRequestEntry[],
  queue: { readonly fifo: boolean; readonly contentBasedDeduplication?: boolean },
): string[] {
  const problems: string[] = [];
  if (entries.length === 0 || entries.length > 10) problems.push(`a batch holds 1 to 10 entries, not ${entries.length}`);
  const ids = new Set<string>();
  for (const entry of entries) {
    const id = entry.Id ?? '';
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(id)) problems.push(`entry Id ${JSON.stringify(id)}: 1 to 80 letters, digits, '-' or '_'`);
    if (ids.has(id)) problems.push(`entry Id ${JSON.stringify(id)} is not unique in the batch`);
    ids.add(id);
    if (!entry.MessageBody) problems.push(`entry ${id}: the message body must not be empty`);
    if (queue.fifo && !entry.MessageGroupId) problems.push(`entry ${id}: a FIFO queue requires a MessageGroupId`);
    if (!queue.fifo && entry.MessageDeduplicationId !== undefined) {
      problems.push(`entry ${id}: MessageDeduplicationId applies only to FIFO queues`);
    }
    if (queue.fifo && !queue.contentBasedDeduplication && !entry.MessageDeduplicationId) {
      problems.push(`entry ${id}: a FIFO queue without content-based deduplication requires a MessageDeduplicationId`);
    }
    const attributes = messageAttributesError(entry.MessageAttributes);
    if (attributes) problems.push(`entry ${id}: ${attributes.code}: ${attributes.message}`);
  }
  return problems;
}

/** One SendMessageBatch request as the code sent it. */
export interface RecordedBatch {
  readonly queueUrl: string;
  readonly entries: SendMessageBatchRequestEntry[];
}

/**
 * An SQS client that records every SendMessageBatch request and answers with `respond` (fauxqs's `send`, or a fake
 * for faults no emulator produces). `violations()` checks every recorded request against {@link sqsBatchViolations},
 * a queue whose URL ends in `.fifo` as FIFO.
 */
export function recordingSqs(respond: (command: SendMessageBatchCommand) => Promise<unknown>): {
  readonly client: SQSClient;
  readonly batches: RecordedBatch[];
  violations(): string[];
} {
  const batches: RecordedBatch[] = [];
  const client = {
    send: async (command: SendMessageBatchCommand) => {
      batches.push({ queueUrl: command.input.QueueUrl ?? '', entries: command.input.Entries ?? [] });
      return respond(command);
    },
  } as unknown as SQSClient;
  const violations = () => batches.flatMap((b) => sqsBatchViolations(b.entries, { fifo: b.queueUrl.endsWith('.fifo') }).map((v) => `${b.queueUrl}: ${v}`));
  return { client, batches, violations };
}
