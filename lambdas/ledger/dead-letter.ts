import { createHash } from 'node:crypto';
import { SendMessageCommand, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';

/** Message attributes the ledger adds to a message it dead-letters itself (read them in the DLQ or in the redrive report). */
export const DEAD_LETTER_ATTRIBUTES = {
  /** `poison` (the message can never be valid under this build) or `fenced` (behind the sequence fence, never applied). */
  kind: 'ledgerFailure',
  /** The reasons, `; `-joined, at most {@link MAX_REASON_LENGTH} characters. */
  reason: 'ledgerFailureReason',
} as const;

/** Why the ledger dead-letters a message itself. */
export type DeadLetterKind = 'poison' | 'fenced';

/** SQS allows 10 message attributes per message: the original ones beyond 10 − 2 are not copied. */
const MAX_MESSAGE_ATTRIBUTES = 10;
const MAX_REASON_LENGTH = 2000;

/** Port: sends one record to the dead-letter queue with its reason. */
export interface DeadLetterSender {
  /**
   * Sends `record` (same body, its message attributes, the same MessageGroupId on a FIFO DLQ) with the reason as
   * message attributes.
   * @returns the names of the original attributes that did not fit (SQS allows 10 per message).
   */
  send(record: SQSRecord, kind: DeadLetterKind, reasons: readonly string[]): Promise<{ readonly droppedAttributes: readonly string[] }>;
}

/**
 * Deduplication id of a record the ledger dead-letters: stable per source message, so a crash between the send and the
 * batch response (the record is received and sent again) does not put it in the DLQ twice within 5 minutes (F2).
 */
export function deadLetterDeduplicationId(messageId: string): string {
  return createHash('sha256').update(`dead-letter:${messageId}`).digest('hex');
}

/**
 * The ledger's dead-letter sender: SendMessage to the payments DLQ (FIFO when its URL ends in `.fifo`).
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
 */
export function createSqsDeadLetterSender(sqs: SQSClient, queueUrl: string): DeadLetterSender {
  const fifo = queueUrl.endsWith('.fifo');
  return {
    async send(record, kind, reasons) {
      const { attributes, dropped } = copyAttributes(record.messageAttributes);
      attributes[DEAD_LETTER_ATTRIBUTES.kind] = { DataType: 'String', StringValue: kind };
      attributes[DEAD_LETTER_ATTRIBUTES.reason] = {
        DataType: 'String',
        StringValue: (reasons.join('; ') || 'no reason given').slice(0, MAX_REASON_LENGTH),
      };
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: record.body,
          MessageAttributes: attributes,
          ...(fifo
            ? {
                // A record without a group (not from a FIFO queue) still needs one on a FIFO DLQ.
                MessageGroupId: record.attributes?.MessageGroupId ?? 'no-group',
                MessageDeduplicationId: deadLetterDeduplicationId(record.messageId),
              }
            : {}),
        }),
      );
      return { droppedAttributes: dropped };
    },
  };
}

/** Lambda's record attributes (`stringValue`, base64 `binaryValue`) as SendMessage wants them, leaving room for ours. */
function copyAttributes(source: SQSRecord['messageAttributes'] | undefined): {
  attributes: Record<string, MessageAttributeValue>;
  dropped: string[];
} {
  const attributes: Record<string, MessageAttributeValue> = {};
  const dropped: string[] = [];
  const room = MAX_MESSAGE_ATTRIBUTES - Object.keys(DEAD_LETTER_ATTRIBUTES).length;
  for (const [name, value] of Object.entries(source ?? {})) {
    if ((Object.values(DEAD_LETTER_ATTRIBUTES) as string[]).includes(name)) continue; // a redriven dead letter: replaced
    if (Object.keys(attributes).length >= room) {
      dropped.push(name);
      continue;
    }
    if (value.stringValue !== undefined) {
      attributes[name] = { DataType: value.dataType, StringValue: value.stringValue };
    } else if (value.binaryValue !== undefined) {
      attributes[name] = { DataType: value.dataType, BinaryValue: Buffer.from(value.binaryValue, 'base64') };
    } else {
      dropped.push(name); // list values: SendMessage does not accept them
    }
  }
  return { attributes, dropped };
}
