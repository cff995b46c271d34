import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyAlreadyInProgressError, IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { formatIssues } from '../shared/errors.js';
import { faultPoint, InjectedFault } from '../shared/faults.js';
import { METRIC, type Observability } from '../shared/observability.js';
import { PaymentEventSchema, type PaymentEvent } from '../shared/payments-model.js';
import { DeadlineApproachingError, InvalidEventMessageError, WebhookDeliveryError } from './errors.js';
import type { RetryQueue } from './retry-queue.js';
import { classifyWebhookAnswer, retryDelaySeconds, type RetrySchedule } from './retry-schedule.js';
import type { WebhookClient } from './webhook-client.js';

/** Idempotency key prefix of notifier records: stable across function renames (Powertools defaults to the name). */
export const NOTIFIER_KEY_PREFIX = 'notifier';

/** Ports and settings of the notifier. */
export interface NotifierDeps {
  readonly webhook: WebhookClient;
  readonly persistenceStore: BasePersistenceLayer;
  /** Lifetime of a delivery record, in seconds. */
  readonly expiresAfterSeconds: number;
  readonly observability: Observability;
  /**
   * Least time left, in ms, to start delivering a record (an idempotency write, the webhook call, a second write):
   * with less, the record is reported for retry instead of being cut by the function timeout mid-way.
   * @default 2000
   */
  readonly minRemainingMs?: number;
  /**
   * Retry schedule of failed deliveries: each failed record is hidden for its backoff delay (ChangeMessageVisibility)
   * and a refused one (4xx other than 408/409/425/429) is dead-lettered at once with its reason.
   * @default - no schedule: a failed record reappears after the queue's visibility timeout
   */
  readonly retry?: {
    readonly schedule: RetrySchedule;
    readonly queue: RetryQueue;
    /** Jitter source. @default Math.random */
    readonly random?: () => number;
  };
}

/** What one record's delivery returned (stored by Powertools and replayed for duplicates). */
export interface DeliveryResult {
  readonly eventId: string;
  readonly status: number;
  readonly deliveredAt: string;
}

/** What one record's processing returned when the webhook refused the event for good (it is in the DLQ now). */
export interface DeadLetteredResult {
  readonly eventId: string;
  readonly status?: number;
  readonly deadLettered: true;
}

/** The notifier: a batch handler delivering each event once per event id. */
export interface Notifier {
  handle(event: SQSEvent, context: Context): Promise<SQSBatchResponse>;
}

/**
 * Parses an events queue record.
 * @throws InvalidEventMessageError naming every problem.
 */
export function parseEventRecord(record: SQSRecord): PaymentEvent {
  let json: unknown;
  try {
    json = JSON.parse(record.body);
  } catch (error) {
    throw new InvalidEventMessageError(record.messageId, [`body is not JSON (${(error as Error).message})`], { cause: error });
  }
  const parsed = PaymentEventSchema.safeParse(json);
  if (!parsed.success) throw new InvalidEventMessageError(record.messageId, formatIssues(parsed.error.issues), { cause: parsed.error });
  return parsed.data;
}

/**
 * Builds the notifier: Powertools BatchProcessor (partial batch responses) + makeIdempotent keyed by the event id,
 * so an event already delivered is not POSTed again — except in the window Powertools leaves open: a crash after
 * the webhook answered and before the record is marked COMPLETED re-runs the call (the receiver must dedup by the
 * `Idempotency-Key` header, which is why it is sent).
 * @see https://docs.powertools.aws.dev/lambda/typescript/latest/features/idempotency/
 */
export function createNotifier(deps: NotifierDeps): Notifier {
  const { observability, webhook } = deps;
  const { logger } = observability;
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'eventId',
    expiresAfterSeconds: deps.expiresAfterSeconds,
    throwOnNoIdempotencyKey: true,
    responseHook: (response) => {
      observability.count(METRIC.DuplicatesSkipped);
      logger.info('Event already delivered: webhook not called again');
      return response;
    },
  });

  const deliverOnce = makeIdempotent(
    async (event: PaymentEvent): Promise<DeliveryResult> => {
      observability.count(METRIC.WebhookAttempts);
      let status: number;
      try {
        ({ status } = await webhook.deliver(event));
      } catch (error) {
        observability.count(METRIC.WebhookFailures);
        throw error;
      }
      faultPoint('notifier.afterWebhook');
      logger.info('Event delivered to the webhook', { status });
      return { eventId: event.eventId, status, deliveredAt: new Date().toISOString() };
    },
    { persistenceStore: deps.persistenceStore, config, keyPrefix: NOTIFIER_KEY_PREFIX },
  );

  const minRemainingMs = deps.minRemainingMs ?? 2000;
  // Per invocation: never demand more than half the time the invocation started with, so a short function timeout
  // still delivers its first records.
  const thresholds = new WeakMap<Context, number>();
  const recordHandler = async (record: SQSRecord, context?: Context): Promise<DeliveryResult | DeadLetteredResult> => {
    if (context && context.getRemainingTimeInMillis() < (thresholds.get(context) ?? minRemainingMs)) {
      logger.debug('Not started: the invocation is close to its timeout, reported for retry', { messageId: record.messageId });
      throw new DeadlineApproachingError(record.messageId);
    }
    let event: PaymentEvent;
    try {
      event = parseEventRecord(record);
    } catch (error) {
      logger.error('Invalid event message: reported failed, it will dead-letter after maxReceiveCount', {
        messageId: record.messageId,
        reasons: (error as InvalidEventMessageError).reasons,
      });
      throw error;
    }
    logger.appendKeys({ eventId: event.eventId, paymentId: event.paymentId, idempotencyKey: event.idempotencyKey });
    try {
      return await deliverOnce(event);
    } catch (error) {
      if (error instanceof IdempotencyAlreadyInProgressError) {
        // The same event is being delivered by another invocation (a duplicate on the standard queue): retry later,
        // by then its record is COMPLETED and this copy is skipped.
        logger.info('Event is being delivered by another invocation: reported for retry', { messageId: record.messageId });
      } else if (error instanceof WebhookDeliveryError) {
        const outcome = await applyRetrySchedule(record, error);
        if (outcome) return outcome;
      } else if (!(error instanceof InjectedFault)) {
        logger.error('Event delivery failed: reported for retry', { messageId: record.messageId, error: error as Error });
      }
      throw error;
    } finally {
      logger.removeKeys(['eventId', 'paymentId', 'idempotencyKey']);
    }
  };

  /**
   * A failed delivery: a refusal (4xx other than 408/409/425/429) is dead-lettered now and the record reported done;
   * anything else is hidden for its backoff delay, honouring Retry-After, and reported failed.
   */
  const applyRetrySchedule = async (record: SQSRecord, error: WebhookDeliveryError): Promise<DeadLetteredResult | undefined> => {
    const retry = deps.retry;
    const attempt = Number(record.attributes?.ApproximateReceiveCount ?? '1') || 1;
    if (retry && classifyWebhookAnswer(error.status) === 'dead-letter') {
      const reason = `${error.message}: a 4xx other than 408/409/425/429 refuses the request itself, and the same signed bytes would be refused again`;
      await retry.queue.deadLetter(record, { status: error.status, reason });
      observability.count(METRIC.WebhookDeadLettered);
      logger.error('Webhook refused the event: moved to the dead-letter queue without retrying', {
        messageId: record.messageId,
        status: error.status,
        attempt,
        reason: error.message,
      });
      return { eventId: error.eventId, status: error.status, deadLettered: true };
    }
    if (!retry) {
      logger.warn('Webhook delivery failed: reported for retry', { messageId: record.messageId, status: error.status, reason: error.message });
      return undefined;
    }
    const delaySeconds = retryDelaySeconds({ attempt, schedule: retry.schedule, random: retry.random, retryAfterSeconds: error.retryAfterSeconds });
    try {
      await retry.queue.delay(record, delaySeconds);
    } catch (visibilityError) {
      // The receipt handle may be stale (the invocation ran past the visibility timeout): the record still fails and
      // reappears after the queue's own visibility timeout.
      logger.warn('Could not delay the failed record; it reappears after the queue visibility timeout', {
        messageId: record.messageId,
        error: visibilityError as Error,
      });
    }
    const last = attempt >= retry.schedule.maxAttempts;
    logger.warn(last ? 'Webhook delivery failed on the last attempt: the event goes to the dead-letter queue' : 'Webhook delivery failed: retried on the schedule', {
      messageId: record.messageId,
      status: error.status,
      reason: error.message,
      attempt,
      maxAttempts: retry.schedule.maxAttempts,
      nextAttemptInSeconds: last ? undefined : delaySeconds,
      retryAfterSeconds: error.retryAfterSeconds,
    });
    return undefined;
  };

  return {
    async handle(event, context) {
      config.registerLambdaContext(context);
      thresholds.set(context, Math.min(minRemainingMs, context.getRemainingTimeInMillis() / 2));
      const processor = new BatchProcessor(EventType.SQS);
      try {
        const response = await processPartialResponse(event, recordHandler, processor, {
          context,
          // One record at a time: the webhook sees calls in queue order, and a crash stops the rest of the batch.
          processInParallel: false,
          throwOnFullBatchFailure: false,
        });
        // An injected crash must end the invocation like a real one, not become one reported record.
        const crash = processor.errors.find((error) => error instanceof InjectedFault);
        if (crash) throw crash;
        return response;
      } finally {
        observability.flush();
      }
    },
  };
}
