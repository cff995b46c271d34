import type { SendMessageBatchCommand, SendMessageBatchRequestEntry, MessageAttributeValue, SQSClient } from '@aws-sdk/client-sqs';

/**
 * What SQS requires of a SendMessageBatch entry, where fauxqs is laxer than AWS (it accepts an empty `DataType`, for
 * one). Tests run what the code sends through these rules, so code that relies on an emulator's leniency fails here
 * instead of on AWS.
 *
 * Rules (SQS API reference, MessageAttributeValue and SendMessageBatchRequestEntry; developer guide, message
 * attributes):
 * - an attribute's Name, type and value must not be empty or null; DataType is required and is `String`, `Number` or
 *   `Binary`, optionally followed by `.` and a custom label;
 * - String and Number attributes carry a non-empty `StringValue` (Number: a number), Binary ones a `BinaryValue`;
 * - a name is up to 256 characters of letters, digits, `_`, `-` and `.`, does not start or end with `.`, has no `..`,
 *   and does not start with `AWS.` or `Amazon.` (any case); at most 10 attributes per message;
 * - the entry Id is up to 80 letters, digits, `-` and `_`, unique in the batch (at most 10 entries); the body is not
 *   empty; a FIFO queue needs a MessageGroupId (and a MessageDeduplicationId unless content-based deduplication is on);
 *   a standard queue takes no MessageDeduplicationId.
 * @returns one line per violation, naming the entry, the attribute and the rule; empty when SQS would accept them.
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
    const attributes = Object.entries(entry.MessageAttributes ?? {});
    if (attributes.length > 10) problems.push(`entry ${id}: at most 10 message attributes, not ${attributes.length}`);
    for (const [name, value] of attributes) problems.push(...attributeViolations(id, name, value));
  }
  return problems;
}

function attributeViolations(id: string, name: string, value: MessageAttributeValue): string[] {
  const problems: string[] = [];
  const where = `entry ${id}, attribute ${JSON.stringify(name)}`;
  if (!/^[A-Za-z0-9_.-]{1,256}$/.test(name) || name.startsWith('.') || name.endsWith('.') || name.includes('..')) {
    problems.push(`${where}: a name is 1 to 256 letters, digits, '_', '-' or '.', not starting or ending with '.', without '..'`);
  }
  if (/^(aws|amazon)\./i.test(name)) problems.push(`${where}: names starting with AWS. or Amazon. are reserved`);
  const type = value.DataType ?? '';
  const base = /^(String|Number|Binary)(\.[^\s]+)?$/.exec(type)?.[1];
  if (base === undefined) {
    problems.push(`${where}: DataType ${JSON.stringify(type)} must be String, Number or Binary (optionally with a .label)`);
    return problems;
  }
  if (base === 'Binary') {
    if (!value.BinaryValue || value.BinaryValue.length === 0) problems.push(`${where}: a Binary attribute needs a non-empty BinaryValue`);
  } else if (!value.StringValue) {
    problems.push(`${where}: a ${base} attribute needs a non-empty StringValue`);
  } else if (base === 'Number' && !Number.isFinite(Number(value.StringValue))) {
    problems.push(`${where}: a Number attribute's StringValue must be a number, not ${JSON.stringify(value.StringValue)}`);
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
