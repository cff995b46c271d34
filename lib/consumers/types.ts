import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { HandlerFunctionOptions } from '../constructs/handler-function.js';
import type { OutboxRelay } from '../constructs/outbox-relay.js';
import type { QueueConsumer } from '../constructs/queue-consumer.js';
import type { IdempotencyTable, LedgerTable } from '../constructs/tables.js';

/**
 * What the stack shares with every consumer added by `npm run new -- consumer <name> …`.
 * The stack builds it once and passes it to {@link addConsumers}.
 */
export interface ConsumerDeps {
  /** The single-table ledger: consumers with a DynamoDB effect write their items and dedup markers here. */
  readonly ledgerTable: LedgerTable;
  /** The Powertools idempotency table: consumers with an external effect keep their records here. */
  readonly idempotencyTable: IdempotencyTable;
  /**
   * Customer-managed key for the consumers' queues.
   * @default - SQS-managed server-side encryption
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Removal policy of the consumers' queues and log groups (RETAIN in production).
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Function options every consumer starts from (memory, log retention, timeout); a consumer's own options win.
   * @default - the HandlerFunction defaults (30 s, 512 MB)
   */
  readonly functionDefaults?: HandlerFunctionOptions;
  /**
   * Receives before a message is dead-lettered (≥ 5).
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * Default HTTP endpoint of consumers with an external effect; a consumer reads its own from CDK context
   * `<camelCaseName>Url` first.
   * @default - a consumer with an external effect fails synthesis with a message naming the context key
   */
  readonly webhookUrl?: string;
  /**
   * The stack's one outbox relay: a consumer that emits outbox events routes its event types to its own queue with
   * `outboxRelay.addRoute(...)` (and registers their schema in lambdas/relay/event-schemas.ts).
   * @default - a consumer with an outbox fails synthesis with a message saying to pass it
   */
  readonly outboxRelay?: OutboxRelay;
  /**
   * Timeout of an external consumer's HTTP call.
   * @default Duration.seconds(5)
   */
  readonly httpTimeout?: Duration;
}

/** One consumer in the {@link CONSUMERS} list: its name and the function that adds it to a stack. */
export interface ConsumerRegistration {
  /** The consumer's kebab-case name (also its dedup scope and its stack output prefix). */
  readonly name: string;
  /** Adds the consumer's queue, DLQ, function, mapping, grants and outputs under `scope`. */
  readonly add: (scope: Construct, deps: ConsumerDeps) => QueueConsumer;
  /**
   * The idempotency key of a message body (what the consumer dedups by), for `npm run redrive`'s applied-check.
   * @default - the body's `idempotencyKey` field
   */
  readonly idempotencyKeyOf?: (body: unknown) => string | undefined;
}
