import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { formatIssues } from '../shared/errors.js';
import { faultPoint, InjectedFault } from '../shared/faults.js';
import { MAX_FIFO_BATCH_GROUPS, processFifoBatch } from '../shared/fifo-batch.js';
import { METRIC, type Observability } from '../shared/observability.js';
import { PaymentMessageSchema } from '../shared/payments-model.js';
import type { DeadLetterKind, DeadLetterSender } from './dead-letter.js';
import { PoisonMessageError, SequenceFencedError } from './errors.js';
import type { LoadedLedgerStrategy } from './strategies/index.js';
import type { LedgerOutcome, PaymentDelivery } from './strategy.js';

/** Ports of the ledger consumer. */
export interface LedgerConsumerDeps {
  readonly strategy: LoadedLedgerStrategy;
  readonly observability: Observability;
  /**
   * Time to keep in hand, in ms: no new record is started when less remains than this (or than twice the slowest
   * record so far). The rest of the batch is reported for retry instead of the whole batch timing out.
   * @default 1000
   */
  readonly deadlineMarginMs?: number;
  /**
   * Sends a poison or fenced message to the payments DLQ at once, with its reason as a message attribute, and reports
   * it processed. Without it such a message is reported failed and dead-letters after maxReceiveCount receives.
   * @default - reported failed (re-judged on every receive)
   */
  readonly deadLetter?: DeadLetterSender;
  /**
   * Parses a record (a test seam for version skew: two builds that judge one body differently).
   * @default parseDelivery
   */
  readonly parse?: (record: SQSRecord) => PaymentDelivery;
}

/**
 * Parses one payments queue record.
 * @throws PoisonMessageError naming every problem (bad JSON, each invalid field).
 */
export function parseDelivery(record: SQSRecord): PaymentDelivery {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch (error) {
    throw new PoisonMessageError(record.messageId, [`body is not JSON (${(error as Error).message})`], { cause: error });
  }
  const parsed = PaymentMessageSchema.safeParse(body);
  if (!parsed.success) throw new PoisonMessageError(record.messageId, formatIssues(parsed.error.issues), { cause: parsed.error });
  const group = record.attributes?.MessageGroupId;
  if (group !== undefined && group !== parsed.data.accountId) {
    // Order per account and the sequence fence hold only when the FIFO group is the account.
    throw new PoisonMessageError(record.messageId, [
      `MessageGroupId (${group}) must equal accountId (${parsed.data.accountId}): the producer must send each payment ` +
        'with MessageGroupId = accountId, or order per account and the sequence fence do not hold',
    ]);
  }
  return {
    message: parsed.data,
    messageId: record.messageId,
    sequenceNumber: record.attributes?.SequenceNumber,
    queueArn: record.eventSourceARN || undefined,
    receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? '1'),
  };
}

/**
 * The ledger consumer: each record through the strategy, FIFO stop-at-first-failure per group, an injected crash
 * ending the invocation, and a message that can never be applied in order — poison (invalid) or fenced without a
 * marker ({@link SequenceFencedError}) — sent to the DLQ at once with its reason (or, without `deadLetter`, reported
 * failed so that it dead-letters after maxReceiveCount). Either way it is logged and counted, never acknowledged.
 */
export async function processLedgerBatch(event: SQSEvent, context: Context | undefined, deps: LedgerConsumerDeps): Promise<SQSBatchResponse> {
  const { strategy, observability } = deps;
  const { logger } = observability;
  if (context) strategy.registerLambdaContext?.(context);
  const margin = deps.deadlineMarginMs ?? 1000;
  let slowestMs = 0;
  let deadlineHit = false;
  const parse = deps.parse ?? parseDelivery;
  const applyRecord = async (record: SQSRecord): Promise<void> => {
    const delivery = parse(record);
    // Groups run in parallel: the keys go on each line, not on the shared logger (appendKeys would let one record's
    // lines carry another's keys, and the journey of a message is rebuilt from these keys).
    const keys = { idempotencyKey: delivery.message.idempotencyKey, paymentId: delivery.message.paymentId };
    const outcome = await strategy.apply(delivery);
    recordOutcome(observability, delivery, outcome, keys);
  };
  const processRecord = async (record: SQSRecord): Promise<void> => {
    try {
      await applyRecord(record);
    } catch (error) {
      const kind = deadLetterKind(error);
      if (kind === undefined) throw error;
      if (kind === 'fenced') observability.count(METRIC.FencedWithoutMarker);
      if (kind === 'poison') observability.count(METRIC.PoisonMessages);
      if (!deps.deadLetter) throw error;
      const reasons = (error as PoisonMessageError | SequenceFencedError).reasons;
      try {
        const { droppedAttributes } = await deps.deadLetter.send(record, kind, reasons);
        observability.count(METRIC.DeadLetteredAtOnce);
        logger.error(`${kind === 'poison' ? 'Poison message' : 'Fenced without marker'}: sent to the dead-letter queue with its reason`, {
          messageId: record.messageId,
          group: record.attributes?.MessageGroupId,
          sequenceNumber: record.attributes?.SequenceNumber,
          reasons,
          ...(droppedAttributes.length > 0 ? { droppedAttributes } : {}),
        });
      } catch (sendError) {
        // Not in the DLQ: report it failed instead, so it is received again (and judged again) or dead-letters.
        logger.error('Could not send to the dead-letter queue: reported failed instead', { messageId: record.messageId, error: sendError as Error });
        throw error;
      }
    }
  };
  try {
    return await processFifoBatch(
      event.Records,
      async (record) => {
        const started = Date.now();
        try {
          await processRecord(record);
        } finally {
          slowestMs = Math.max(slowestMs, Date.now() - started);
        }
      },
      {
        groupConcurrency: MAX_FIFO_BATCH_GROUPS, // groups are independent accounts: all groups of a batch at once
        betweenRecords: () => faultPoint('ledger.midBatch'),
        isFatal: (error) => error instanceof InjectedFault,
        isPermanent: (error) => deadLetterKind(error) !== undefined,
        shouldStop: () => {
          deadlineHit = context !== undefined && context.getRemainingTimeInMillis() < Math.max(margin, 2 * slowestMs);
          return deadlineHit;
        },
        onFailure: ({ record, error, blockedBy, deadline }) => {
          const group = record.attributes?.MessageGroupId;
          if (deadline) {
            logger.debug('Not started: the invocation is close to its timeout, reported for retry', { messageId: record.messageId, group });
          } else if (blockedBy) {
            logger.info('Skipped: an earlier message of its FIFO group failed', { messageId: record.messageId, group, blockedBy });
          } else if (error instanceof PoisonMessageError || error instanceof SequenceFencedError) {
            const what = error instanceof PoisonMessageError ? 'Poison message' : 'Fenced without marker';
            logger.error(`${what}: reported failed, it will dead-letter after maxReceiveCount`, {
              messageId: record.messageId,
              group,
              reasons: error.reasons,
              receiveCount: record.attributes?.ApproximateReceiveCount,
            });
          } else {
            logger.error('Payment failed: reported for retry', { messageId: record.messageId, group, error: error as Error });
          }
        },
      },
    );
  } finally {
    if (deadlineHit) logger.warn('Stopped early: too little time left for another record; the rest of the batch is retried');
    observability.flush();
  }
}

/** Which errors mean "never applicable in order": dead-letter them (`poison` / `fenced`), or undefined for any other. */
function deadLetterKind(error: unknown): DeadLetterKind | undefined {
  if (error instanceof PoisonMessageError) return 'poison';
  if (error instanceof SequenceFencedError) return 'fenced';
  return undefined;
}

function recordOutcome(
  observability: Observability,
  delivery: PaymentDelivery,
  outcome: LedgerOutcome & { fenced?: boolean; expiredMarker?: boolean },
  recordKeys: { readonly idempotencyKey: string; readonly paymentId: string },
): void {
  const { logger } = observability;
  const keys = { ...recordKeys, eventId: outcome.eventId };
  switch (outcome.status) {
    case 'applied':
      observability.count(METRIC.PaymentsApplied);
      logger.info('Payment applied', { ...keys, balance: outcome.balance });
      break;
    case 'rejected':
      observability.count(METRIC.PaymentsRejected);
      logger.info('Payment rejected', { ...keys, balance: outcome.balance });
      break;
    case 'duplicate':
      observability.count(METRIC.DuplicatesSkipped);
      if (outcome.fenced) {
        observability.count(METRIC.ZombieCommitsFenced);
        logger.warn('Late copy refused by the sequence fence: its payment and a newer one of the group were already applied', {
          ...keys,
          messageId: delivery.messageId,
          sequenceNumber: delivery.sequenceNumber,
        });
      } else if (outcome.expiredMarker) {
        logger.warn('Duplicate of a payment whose outbox item expired but is still present: not applied again', {
          ...keys,
          messageId: delivery.messageId,
          receiveCount: delivery.receiveCount,
        });
      } else {
        logger.info('Duplicate delivery skipped: the outcome was already recorded', {
          ...keys,
          messageId: delivery.messageId,
          receiveCount: delivery.receiveCount,
        });
      }
      break;
  }
}
