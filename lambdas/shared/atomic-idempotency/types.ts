import type { AttributeValue, DynamoDBClient, TransactWriteItem } from '@aws-sdk/client-dynamodb';
import type { PlainValue } from '../attribute-values.js';

/** Primary key of an item, as attribute values. */
export type ItemKey = Record<string, AttributeValue>;

/** Options of {@link AtomicIdempotency}. */
export interface AtomicIdempotencyOptions {
  /** DynamoDB client (one per execution environment). */
  readonly client: DynamoDBClient;
  /** Table that holds the dedup markers (usually the table of the business items). */
  readonly tableName: string;
  /**
   * Key of the marker for a scope and an idempotency key.
   * @default - `{ pk: 'DEDUP#<scope>#<key>', sk: 'DEDUP' }` (lambdas/shared/ledger-keys.ts)
   */
  readonly markerKey?: (scope: string, key: string) => Record<string, string>;
  /**
   * Name of the marker's TTL attribute (epoch seconds).
   * @default 'expiresAt'
   */
  readonly ttlAttribute?: string;
  /**
   * Key attribute names used to check that the transaction's items are distinct (for `Put` actions).
   * @default ['pk', 'sk']
   */
  readonly keyAttributes?: readonly string[];
}

/** One exactly-once commit: the caller's business items plus the dedup marker, in one transaction. */
export interface CommitOnceInput {
  /** Consumer scope, so two consumers of the same key do not share a marker (for example `ledger`). */
  readonly scope: string;
  /** The producer's idempotency key (not an SQS messageId: a producer re-send gets a new one). */
  readonly key: string;
  /** How long the marker stays live, in seconds; must outlive every redelivery of the key. */
  readonly ttlSeconds: number;
  /** The business actions (Put/Update/Delete/ConditionCheck) to commit with the marker: 0–99 distinct items. */
  readonly items: readonly TransactWriteItem[];
  /** Extra attributes stored on the marker, returned to a later duplicate (for example the outcome). */
  readonly marker?: Readonly<Record<string, PlainValue>>;
  /** Clock of this attempt. @default new Date() */
  readonly now?: Date;
}

/** The marker stored by the delivery that committed, as a later duplicate sees it. */
export type StoredMarker = Record<string, PlainValue>;

/** Result of {@link AtomicIdempotency.commitOnce}. */
export type CommitOnceResult =
  | { readonly status: 'committed' }
  | { readonly status: 'duplicate'; readonly marker: StoredMarker };
