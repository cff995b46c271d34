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
  /**
   * Whether a marker that expired but that TTL has not deleted yet (F6) counts as absent, so the key is processed
   * again. `false` keeps it a duplicate until TTL deletes it: an expired marker still proves the effect happened, and
   * re-applying would repeat the effect under the same ids (the ledger's choice, issue 11 item 2).
   * @default true
   */
  readonly reuseExpiredMarkers?: boolean;
}

/** One exactly-once commit: the caller's business items plus the dedup marker, in one transaction. */
export interface CommitOnceInput {
  /** Consumer scope, so two consumers of the same key do not share a marker (for example `ledger`). */
  readonly scope: string;
  /** The producer's idempotency key (not an SQS messageId: a producer re-send gets a new one). */
  readonly key: string;
  /** How long the marker stays live, in seconds; must outlive every redelivery of the key. */
  readonly ttlSeconds: number;
  /**
   * The business actions (Put/Update/Delete/ConditionCheck) to commit with the marker: 0–99 distinct items, or 1–100
   * when {@link CommitOnceInput.markerItem} carries the marker on one of them.
   */
  readonly items: readonly TransactWriteItem[];
  /**
   * Index in `items` of a Put that carries the marker, instead of a separate `DEDUP#` item: one transactional item
   * less, so 2 write units less per commit on AWS.
   *
   * The core adds the marker condition (`attribute_not_exists(pk) OR expiresAt < :now`), the marker attributes
   * (`scope`, `idempotencyKey`, `createdAt`, the TTL attribute and `marker`) and `ReturnValuesOnConditionCheckFailure:
   * ALL_OLD` to that Put, and reports `duplicate` when ITS condition fails. That Put must therefore have no condition
   * of its own, none of those attributes, and — the caller's duty, the core cannot check it — a key derived
   * deterministically from `key` (and `scope`): two deliveries of one key must name the same item, or nothing is
   * deduplicated. The ledger's outbox item is such an item: `OUTBOX#evt_<sha256(key)>`, because
   * eventId = eventIdFor(paymentIdFor(key)).
   * @default - a separate marker item keyed by `markerKey(scope, key)`
   */
  readonly markerItem?: number;
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

/** An outbox item as stored (see `OUTBOX_ATTRIBUTES`); fields are `undefined` on items written before the format. */
export interface OutboxItem {
  readonly eventId: string;
  readonly eventType?: string;
  readonly groupKey?: string;
  /** The event's JSON text. */
  readonly payload?: string;
  readonly createdAt?: string;
  readonly publishedAt?: string;
  readonly rejectedAt?: string;
}
