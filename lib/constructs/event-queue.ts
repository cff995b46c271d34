import { RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ConstructValidationError } from '../errors.js';
import { allResolved, DEFAULT_QUEUE_RETENTION, DLQ_RETENTION } from './windows.js';

/** Props of {@link EventQueue}. */
export interface EventQueueProps {
  /**
   * A FIFO queue (order per group key, dedup by event id within 5 minutes) and a FIFO DLQ.
   * @default false
   */
  readonly fifo?: boolean;
  /**
   * Receives before a message moves to the DLQ (≥ 5, as for every queue of the blueprint).
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * Customer-managed KMS key for both queues.
   * @default - SQS-managed server-side encryption (SSE-SQS)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Removal policy of the queues.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A destination for outbox events that a downstream subscriber reads (another team's service, a future consumer):
 * the queue and its DLQ, encrypted and TLS-only, with FIFO dedup by message (the relay sets the dedup id = event id).
 * Route events to it with `OutboxRelay.addRoute({ eventTypes, destination: eventQueue.queue })`.
 */
export class EventQueue extends Construct {
  /** The queue the relay publishes to. */
  readonly queue: sqs.Queue;
  /** Its dead-letter queue (14 days). */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: EventQueueProps = {}) {
    super(scope, id);
    const maxReceiveCount = props.maxReceiveCount ?? 5;
    if (allResolved(maxReceiveCount) && (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 5)) {
      throw new ConstructValidationError(
        this.node.path,
        `maxReceiveCount (${maxReceiveCount}) must be an integer of at least 5, so a transient failure does not dead-letter (S13); set maxReceiveCount: 5`,
      );
    }
    const fifo = props.fifo ?? false;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    const encryption = props.encryptionKey
      ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }
      : { encryption: sqs.QueueEncryption.SQS_MANAGED };
    this.deadLetterQueue = new sqs.Queue(this, 'Dlq', {
      fifo: fifo || undefined,
      retentionPeriod: DLQ_RETENTION,
      enforceSSL: true,
      removalPolicy,
      ...encryption,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      fifo: fifo || undefined,
      retentionPeriod: DEFAULT_QUEUE_RETENTION,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
      enforceSSL: true,
      removalPolicy,
      ...encryption,
    });
  }
}
