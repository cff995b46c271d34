import { ChangeMessageVisibilityCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';

/** Port: what the notifier does with a record whose delivery failed, besides reporting it. */
export interface RetryQueue {
  /** Hides the record for `seconds` (its next attempt), from now. */
  delay(record: SQSRecord, seconds: number): Promise<void>;
  /** Puts the record's body in the dead-letter queue with the failure, so it is not retried. */
  deadLetter(record: SQSRecord, failure: DeadLetterReason): Promise<void>;
}

/** Why an event was dead-lettered without retries. */
export interface DeadLetterReason {
  /** The webhook's HTTP status. */
  readonly status?: number;
  readonly reason: string;
}

/** Message attributes the notifier sets on an event it dead-letters itself. */
export const DEAD_LETTER_ATTRIBUTES = { status: 'WebhookStatus', reason: 'WebhookFailure' } as const;

/** Options of {@link SqsRetryQueue}. */
export interface SqsRetryQueueOptions {
  readonly sqs: () => Pick<SQSClient, 'send'>;
  /** The events queue (the records' source). */
  readonly queueUrl: string;
  /** Its dead-letter queue. */
  readonly deadLetterQueueUrl: string;
}

/**
 * {@link RetryQueue} on SQS: ChangeMessageVisibility on the record's receipt handle (the function's role needs
 * sqs:ChangeMessageVisibility on the events queue) and SendMessage to the DLQ (sqs:SendMessage on the DLQ).
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html
 */
export class SqsRetryQueue implements RetryQueue {
  constructor(private readonly options: SqsRetryQueueOptions) {}

  async delay(record: SQSRecord, seconds: number): Promise<void> {
    await this.options.sqs().send(
      new ChangeMessageVisibilityCommand({ QueueUrl: this.options.queueUrl, ReceiptHandle: record.receiptHandle, VisibilityTimeout: seconds }),
    );
  }

  async deadLetter(record: SQSRecord, failure: DeadLetterReason): Promise<void> {
    await this.options.sqs().send(
      new SendMessageCommand({
        QueueUrl: this.options.deadLetterQueueUrl,
        MessageBody: record.body,
        MessageAttributes: {
          [DEAD_LETTER_ATTRIBUTES.reason]: { DataType: 'String', StringValue: failure.reason },
          ...(failure.status === undefined ? {} : { [DEAD_LETTER_ATTRIBUTES.status]: { DataType: 'Number', StringValue: String(failure.status) } }),
        },
      }),
    );
  }
}
