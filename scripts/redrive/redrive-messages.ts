import { createHash } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { DEAD_LETTER_ATTRIBUTES } from '../../lambdas/ledger/dead-letter.js';
import type { AppliedChecker, AppliedVerdict } from './applied-checker.js';
import { isFifoUrl } from './resolve-queues.js';

/** Options of {@link redriveMessages}. */
export interface RedriveOptions {
  readonly sqs: SQSClient;
  readonly dlqUrl: string;
  readonly sourceUrl: string;
  readonly checker: AppliedChecker;
  /** Report only: every message is released back to the DLQ. @default false */
  readonly dryRun?: boolean;
  /** Resend already-applied messages too. @default false */
  readonly includeApplied?: boolean;
  /** Keep already-applied messages in the DLQ instead of deleting them. @default false */
  readonly keepApplied?: boolean;
  /** Stop after this many messages. @default 1000 */
  readonly max?: number;
  /** How long a received message stays hidden while it is examined, in seconds. @default 120 */
  readonly visibilityTimeoutSeconds?: number;
  /** Long-poll wait per receive, in seconds. @default 1 */
  readonly waitTimeSeconds?: number;
  /** Called once per message, as soon as it is handled (progress output). */
  readonly onEntry?: (entry: RedriveEntry) => void;
}

/**
 * What was done with one message:
 * `resent` (sent to the source, deleted from the DLQ), `dropped` (already applied: deleted from the DLQ, not resent),
 * `kept` (left in the DLQ: dry run, --keep-applied, or an error).
 */
export type RedriveAction = 'resent' | 'dropped' | 'kept';

/** One dead-lettered message and its fate. */
export interface RedriveEntry {
  readonly messageId: string;
  readonly groupId?: string;
  /** How often the message was received before it was dead-lettered, and by this tool. */
  readonly receiveCount: number;
  readonly verdict: AppliedVerdict;
  readonly action: RedriveAction;
  /** What a real run would have done, for a dry run. */
  readonly plannedAction?: Exclude<RedriveAction, 'kept'>;
  /** Message id in the source queue, when resent. */
  readonly newMessageId?: string;
  /** Why a message that should have moved did not. */
  readonly error?: string;
  /** Why the ledger dead-lettered it itself (`poison` / `fenced` and the reason), from its message attributes. */
  readonly deadLetter?: { readonly kind: string; readonly reason?: string };
}

/** Result of a redrive run. */
export interface RedriveReport {
  readonly dlqUrl: string;
  readonly sourceUrl: string;
  readonly dryRun: boolean;
  readonly entries: readonly RedriveEntry[];
  readonly counts: Readonly<Record<'applied' | 'notApplied' | 'unknown' | 'resent' | 'dropped' | 'kept' | 'errors', number>>;
  /**
   * Messages left unexamined in the DLQ (beyond --max, or behind a kept message of the same FIFO group, which SQS
   * does not deliver while the earlier one is held).
   */
  readonly unexamined: number;
}

/**
 * Deduplication id of a resent FIFO message: new (so the 5-minute FIFO window of the original id cannot swallow it),
 * yet stable per dead-lettered message, so a redrive retried after a crash between send and delete is deduplicated.
 */
export function redriveDeduplicationId(dlqMessageId: string): string {
  return createHash('sha256').update(`redrive:${dlqMessageId}`).digest('hex');
}

/**
 * Moves dead-lettered messages back to their source queue with Receive/Send/Delete (StartMessageMoveTask is not
 * available everywhere, and cannot skip what was already applied), asking `checker` for each message whether its
 * effect already happened. FIFO: same MessageGroupId, new MessageDeduplicationId, group order kept: once a message of
 * a group fails to move, the later messages of that group are kept in the DLQ for the next run (never sent ahead of it).
 */
export async function redriveMessages(options: RedriveOptions): Promise<RedriveReport> {
  const { sqs, dlqUrl, sourceUrl, checker } = options;
  const dryRun = options.dryRun ?? false;
  const max = options.max ?? 1000;
  const sourceIsFifo = isFifoUrl(sourceUrl);
  const entries: RedriveEntry[] = [];
  const held: string[] = [];
  const seen = new Set<string>();
  // FIFO group → messageId of its first message that could not be moved in this pass: later ones of the group stay.
  const stoppedGroups = new Map<string, string>();
  let emptyReceives = 0;
  let unexamined = 0;

  try {
    while (entries.length < max && emptyReceives < 2) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlqUrl,
          MaxNumberOfMessages: Math.min(10, max - entries.length),
          VisibilityTimeout: options.visibilityTimeoutSeconds ?? 120,
          WaitTimeSeconds: options.waitTimeSeconds ?? 1,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      );
      emptyReceives = Messages.length === 0 ? emptyReceives + 1 : 0;
      for (const message of Messages) {
        // A message seen twice means its visibility ran out mid-run (a slow run): hold it, do not count it again.
        if (seen.has(message.MessageId!)) {
          held.push(message.ReceiptHandle!);
          continue;
        }
        seen.add(message.MessageId!);
        const entry = await handleMessage(message);
        entries.push(entry);
        options.onEntry?.(entry);
      }
    }
    unexamined = await visibleCount(sqs, dlqUrl);
  } finally {
    await release(sqs, dlqUrl, held);
  }

  return { dlqUrl, sourceUrl, dryRun, entries, counts: countEntries(entries), unexamined };

  async function handleMessage(message: Message): Promise<RedriveEntry> {
    const kind = message.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.kind]?.StringValue;
    const base = {
      messageId: message.MessageId!,
      groupId: message.Attributes?.MessageGroupId,
      receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? '0'),
      ...(kind ? { deadLetter: { kind, reason: message.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.reason]?.StringValue } } : {}),
    };
    let verdict: AppliedVerdict;
    try {
      verdict = await checker.check(message.Body ?? '');
    } catch (error) {
      verdict = { status: 'unknown', reason: `dedup lookup failed: ${(error as Error).message}` };
    }
    const skip = verdict.status === 'applied' && !options.includeApplied;
    const planned: Exclude<RedriveAction, 'kept'> = skip ? 'dropped' : 'resent';
    const blockedBy = base.groupId === undefined ? undefined : stoppedGroups.get(base.groupId);
    if (blockedBy !== undefined && !dryRun) {
      // Sending it would put it ahead of an earlier message of its group (order per account): keep it for the next run.
      held.push(message.ReceiptHandle!);
      return {
        ...base,
        verdict,
        action: 'kept',
        plannedAction: planned,
        error: `not moved: message ${blockedBy} of group ${base.groupId} failed earlier in this run; kept so the group keeps its order`,
      };
    }
    if (dryRun || (skip && options.keepApplied)) {
      held.push(message.ReceiptHandle!);
      return { ...base, verdict, action: 'kept', plannedAction: planned };
    }
    try {
      let newMessageId: string | undefined;
      if (!skip) {
        if (sourceIsFifo && !base.groupId) {
          throw new Error('the message has no MessageGroupId and the source queue is FIFO');
        }
        const sent = await sqs.send(
          new SendMessageCommand({
            QueueUrl: sourceUrl,
            MessageBody: message.Body ?? '',
            MessageAttributes: copyAttributes(message.MessageAttributes),
            ...(sourceIsFifo
              ? { MessageGroupId: base.groupId, MessageDeduplicationId: redriveDeduplicationId(base.messageId) }
              : {}),
          }),
        );
        newMessageId = sent.MessageId;
      }
      await sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: message.ReceiptHandle! }));
      return { ...base, verdict, action: planned, newMessageId };
    } catch (error) {
      held.push(message.ReceiptHandle!);
      if (base.groupId !== undefined) stoppedGroups.set(base.groupId, base.messageId);
      return { ...base, verdict, action: 'kept', plannedAction: planned, error: (error as Error).message };
    }
  }
}

/**
 * SendMessage accepts String/Number/Binary values only (no list values). The ledger's dead-letter reason is not sent
 * back: it described the earlier attempt.
 */
function copyAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): Record<string, MessageAttributeValue> | undefined {
  const copy: Record<string, MessageAttributeValue> = {};
  const ledgerAttributes: readonly string[] = Object.values(DEAD_LETTER_ATTRIBUTES);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (ledgerAttributes.includes(name)) continue;
    copy[name] = { DataType: value.DataType, StringValue: value.StringValue, BinaryValue: value.BinaryValue };
  }
  return Object.keys(copy).length > 0 ? copy : undefined;
}

async function visibleCount(sqs: SQSClient, url: string): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? '0');
}

/** Makes held messages visible again at once, so a dry run or a kept message leaves the DLQ as it found it. */
async function release(sqs: SQSClient, url: string, receiptHandles: readonly string[]): Promise<void> {
  for (let i = 0; i < receiptHandles.length; i += 10) {
    const chunk = receiptHandles.slice(i, i + 10);
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: url,
        Entries: chunk.map((ReceiptHandle, j) => ({ Id: String(j), ReceiptHandle, VisibilityTimeout: 0 })),
      }),
    );
  }
}

function countEntries(entries: readonly RedriveEntry[]): RedriveReport['counts'] {
  const count = (predicate: (entry: RedriveEntry) => boolean) => entries.filter(predicate).length;
  return {
    applied: count((e) => e.verdict.status === 'applied'),
    notApplied: count((e) => e.verdict.status === 'not-applied'),
    unknown: count((e) => e.verdict.status === 'unknown'),
    resent: count((e) => e.action === 'resent'),
    dropped: count((e) => e.action === 'dropped'),
    kept: count((e) => e.action === 'kept'),
    errors: count((e) => e.error !== undefined),
  };
}
