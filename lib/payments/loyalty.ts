import type { RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { LOYALTY_POINTS_AWARDED } from '../../lambdas/loyalty/events.js';
import { ENV } from '../../lambdas/shared/env.js';
import { EventQueue } from '../constructs/event-queue.js';
import type { HandlerFunctionOptions } from '../constructs/handler-function.js';
import type { OutboxRelay } from '../constructs/outbox-relay.js';
import type { MonitoredConsumer } from '../constructs/pipeline-monitoring.js';
import { QueueConsumer } from '../constructs/queue-consumer.js';
import type { LedgerTable } from '../constructs/tables.js';

/** Props of {@link LoyaltyConsumer}. */
export interface LoyaltyConsumerProps {
  /** Handler entry (`lambdas/loyalty/handler.ts`). */
  readonly entry: string;
  /** The effects table (points, markers, outbox items). */
  readonly ledgerTable: LedgerTable;
  /** The stack's relay: it feeds PaymentApplied events to this consumer and publishes its LoyaltyPointsAwarded events. */
  readonly relay: OutboxRelay;
  /**
   * Receives before a message is dead-lettered.
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * Customer-managed key of the queues.
   * @default - SQS-managed encryption
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Removal policy of the queues.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Function options (timeout, memory, logs).
   * @default - the HandlerFunction defaults
   */
  readonly functionOptions?: HandlerFunctionOptions;
}

/**
 * The second example consumer next to payments: loyalty points fed by the payment events (the relay fans
 * PaymentApplied out to its FIFO queue as well as to the notifier's), an exactly-once effect (points + marker + outbox
 * event in one transaction) and its own outbox event, LoyaltyPointsAwarded, relayed to its own events queue.
 */
export class LoyaltyConsumer extends Construct {
  /** The consumer (queue, DLQ, function, mapping). */
  readonly consumer: QueueConsumer;
  /** Where its LoyaltyPointsAwarded events go (a downstream subscriber reads it). */
  readonly events: EventQueue;

  constructor(scope: Construct, id: string, props: LoyaltyConsumerProps) {
    super(scope, id);
    this.consumer = new QueueConsumer(this, 'Consumer', {
      entry: props.entry,
      fifo: true,
      serviceName: 'loyalty',
      maxReceiveCount: props.maxReceiveCount,
      encryptionKey: props.encryptionKey,
      removalPolicy: props.removalPolicy,
      dedupTtlEnvironmentVariable: ENV.DEDUP_TTL_SECONDS,
      functionOptions: {
        ...props.functionOptions,
        description: 'loyalty: awards points once per applied payment event (marker + points + outbox event in one transaction)',
      },
    });
    // commitOnce's transaction: a Put (marker, outbox event) and an Update (points), nothing read first (C1).
    props.ledgerTable.grantEffectWrite(this.consumer.handler.function, ['PutItem', 'UpdateItem']);
    this.events = new EventQueue(this, 'Events', {
      fifo: true,
      maxReceiveCount: props.maxReceiveCount,
      encryptionKey: props.encryptionKey,
      removalPolicy: props.removalPolicy,
    });
    props.relay.addRoute({ eventTypes: ['PaymentApplied'], destination: this.consumer.queue });
    props.relay.addRoute({ eventTypes: [LOYALTY_POINTS_AWARDED], destination: this.events.queue });
  }

  /** What PipelineMonitoring watches for it (alarms `Loyalty…`, metrics under service `loyalty`). */
  get monitored(): MonitoredConsumer {
    return {
      label: 'Loyalty',
      function: this.consumer.handler.function,
      queue: this.consumer.queue,
      deadLetterQueue: this.consumer.deadLetterQueue,
      metrics: { service: 'loyalty', layer: 'loyalty' },
    };
  }
}
