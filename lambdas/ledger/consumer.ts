import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { formatIssues } from '../shared/errors.js';
import { faultPoint, InjectedFault } from '../shared/faults.js';
import { MAX_FIFO_BATCH_GROUPS, processFifoBatch } from '../shared/fifo-batch.js';
import { METRIC, type Observability } from '../shared/observability.js';
import { PaymentMessageSchema } from '../shared/payments-model.js';
import { PoisonMessageError } from './errors.js';
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
  return {
    message: parsed.data,
    messageId: record.messageId,
    sequenceNumber: record.attributes?.SequenceNumber,
    receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? '1'),
  };
}

/**
 * The ledger consumer: each record through the strategy, FIFO stop-at-first-failure per group, a poison message
 * reported (it dead-letters after maxReceiveCount) with its reason logged, and an injected crash ending the invocation.
 */
export async function processLedgerBatch(event: SQSEvent, context: Context | undefined, deps: LedgerConsumerDeps): Promise<SQSBatchResponse> {
  const { strategy, observability } = deps;
  const { logger } = observability;
  if (context) strategy.registerLambdaContext?.(context);
  const margin = deps.deadlineMarginMs ?? 1000;
  let slowestMs = 0;
  let deadlineHit = false;
  const processRecord = async (record: SQSRecord): Promise<void> => {
    const delivery = parseDelivery(record);
    logger.appendKeys({ idempotencyKey: delivery.message.idempotencyKey, paymentId: delivery.message.paymentId });
    try {
      const outcome = await strategy.apply(delivery);
      recordOutcome(observability, delivery, outcome);
    } finally {
      logger.removeKeys(['idempotencyKey', 'paymentId', 'eventId']);
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
        isPermanent: (error) => error instanceof PoisonMessageError,
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
          } else if (error instanceof PoisonMessageError) {
            observability.count(METRIC.PoisonMessages);
            logger.error('Poison message: reported failed, it will dead-letter after maxReceiveCount', {
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

function recordOutcome(observability: Observability, delivery: PaymentDelivery, outcome: LedgerOutcome & { fenced?: boolean }): void {
  const { logger } = observability;
  logger.appendKeys({ eventId: outcome.eventId });
  switch (outcome.status) {
    case 'applied':
      observability.count(METRIC.PaymentsApplied);
      logger.info('Payment applied', { balance: outcome.balance });
      break;
    case 'rejected':
      observability.count(METRIC.PaymentsRejected);
      logger.info('Payment rejected', { balance: outcome.balance });
      break;
    case 'duplicate':
      observability.count(METRIC.DuplicatesSkipped);
      if (outcome.fenced) {
        observability.count(METRIC.ZombieCommitsFenced);
        logger.warn('Late commit refused by the sequence fence: a newer message of the group was already applied', {
          messageId: delivery.messageId,
          sequenceNumber: delivery.sequenceNumber,
        });
      } else {
        logger.info('Duplicate delivery skipped: the outcome was already recorded', {
          messageId: delivery.messageId,
          receiveCount: delivery.receiveCount,
        });
      }
      break;
  }
}
