import {
  TransactWriteItemsCommand,
  type AttributeValue,
  type CancellationReason,
  type DynamoDBClient,
  type Put,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { fromAttributeMap, toAttributeMap } from '../attribute-values.js';
import { dedupKey } from '../ledger-keys.js';
import { clientRequestToken } from './clientRequestToken.js';
import {
  DEFAULT_KEY_ATTRIBUTES,
  DEFAULT_TTL_ATTRIBUTE,
  MARKER_ATTRIBUTES,
  MAX_BUSINESS_ITEMS,
  MAX_TRANSACT_ITEMS,
  RETRYABLE_CANCELLATION_CODES,
  RETRYABLE_EXCEPTION_NAMES,
} from './constants.js';
import {
  AtomicIdempotencyError,
  BusinessConditionFailedError,
  InvalidCommitError,
  RetryableCommitError,
} from './errors.js';
import type { AtomicIdempotencyOptions, CommitOnceInput, CommitOnceResult } from './types.js';

/**
 * Exactly-once effects for consumers whose effect is a DynamoDB write: the dedup marker and the caller's business items
 * commit in ONE TransactWriteItems, so either both happen or neither does — there is no window between "effect done"
 * and "marked done" (the window Powertools idempotency leaves open, see docs/field-notes).
 *
 * By default the marker is a separate `DEDUP#<scope>#<key>` item; `markerItem` lets one of the caller's Puts carry it
 * instead (one transactional item less), when that item's key is derived from the idempotency key.
 *
 * @example
 * const core = new AtomicIdempotency({ client, tableName });
 * const result = await core.commitOnce({ scope: 'ledger', key, ttlSeconds: 1_209_600, items: [accountUpdate, outboxPut] });
 * if (result.status === 'duplicate') logger.info('already applied', result.marker);
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html
 */
export class AtomicIdempotency {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #markerKey: (scope: string, key: string) => Record<string, string>;
  readonly #ttlAttribute: string;
  readonly #keyAttributes: readonly string[];
  readonly #reuseExpiredMarkers: boolean;

  constructor(options: AtomicIdempotencyOptions) {
    if (!options.tableName) throw new InvalidCommitError('tableName is required: pass the table that holds the markers');
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#markerKey = options.markerKey ?? dedupKey;
    this.#ttlAttribute = options.ttlAttribute ?? DEFAULT_TTL_ATTRIBUTE;
    this.#keyAttributes = options.keyAttributes ?? DEFAULT_KEY_ATTRIBUTES;
    this.#reuseExpiredMarkers = options.reuseExpiredMarkers ?? true;
  }

  /**
   * Commits the caller's items once per `(scope, key)`.
   *
   * The marker — a separate `DEDUP#` item by default, or the Put named by `markerItem` — is conditioned on
   * `attribute_not_exists(pk) OR expiresAt < :now` — an expired marker that TTL has not deleted yet counts as absent
   * (F6) — and asks for the stored item back on failure at no read cost (F5).
   * @returns `committed`, or `duplicate` with the marker an earlier delivery stored.
   * @throws InvalidCommitError when the input breaks a transaction rule (too many items, duplicate items, bad TTL, a
   *   `markerItem` that is not a plain Put).
   * @throws BusinessConditionFailedError when a business item's condition failed (nothing was written).
   * @throws RetryableCommitError on a transaction conflict or throttling.
   * @throws AtomicIdempotencyError on any other failure, with the SDK error as `cause`.
   */
  async commitOnce(input: CommitOnceInput): Promise<CommitOnceResult> {
    this.#validate(input);
    const now = input.now ?? new Date();
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const markerAttributes: Record<string, AttributeValue> = {
      ...toAttributeMap(input.marker ?? {}),
      ...toAttributeMap({
        [MARKER_ATTRIBUTES.scope]: input.scope,
        [MARKER_ATTRIBUTES.key]: input.key,
        [MARKER_ATTRIBUTES.createdAt]: now.toISOString(),
        [this.#ttlAttribute]: nowSeconds + input.ttlSeconds,
      }),
    };
    const carried = input.markerItem;
    let transactItems: TransactWriteItem[];
    let markerIndex: number;
    if (carried === undefined) {
      const key = this.#markerKey(input.scope, input.key);
      const item = { ...markerAttributes, ...toAttributeMap(key) };
      transactItems = [this.#markerPut({ TableName: this.#tableName, Item: item }, Object.keys(key)[0]!, nowSeconds), ...input.items];
      markerIndex = 0;
    } else {
      const carrier = input.items[carried]!.Put!;
      const markerPut = this.#markerPut({ ...carrier, Item: { ...carrier.Item, ...markerAttributes } }, this.#keyAttributes[0]!, nowSeconds);
      transactItems = input.items.map((item, index) => (index === carried ? markerPut : item));
      markerIndex = carried;
    }
    try {
      await this.#client.send(
        new TransactWriteItemsCommand({
          TransactItems: transactItems,
          ClientRequestToken: clientRequestToken(input.scope, input.key, transactItems),
        }),
      );
      return { status: 'committed' };
    } catch (error) {
      return this.#interpret(error, markerIndex, carried === undefined ? 1 : 0);
    }
  }

  /**
   * The marker's Put: absent (or, with `reuseExpiredMarkers`, expired but not yet deleted by TTL) and ALL_OLD on
   * failure.
   */
  #markerPut(put: Put, partitionKey: string, nowSeconds: number): TransactWriteItem {
    if (!this.#reuseExpiredMarkers) {
      return {
        Put: {
          ...put,
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': partitionKey },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      };
    }
    return {
      Put: {
        ...put,
        ConditionExpression: `attribute_not_exists(#pk) OR #ttl < :now`,
        ExpressionAttributeNames: { '#pk': partitionKey, '#ttl': this.#ttlAttribute },
        ExpressionAttributeValues: { ':now': { N: String(nowSeconds) } },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  /**
   * Maps a failed transaction to an outcome. `markerIndex` is the marker's position in TransactItems; `offset` turns a
   * TransactItems position into the caller's `items` index (1 with a separate marker in front, 0 with a carried one).
   */
  #interpret(error: unknown, markerIndex: number, offset: number): CommitOnceResult {
    const name = (error as { name?: string } | null)?.name ?? '';
    if (name === 'TransactionCanceledException') {
      const reasons: CancellationReason[] = (error as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [];
      const codes = reasons.map((r) => r.Code ?? 'None');
      if (codes[markerIndex] === 'ConditionalCheckFailed') {
        return { status: 'duplicate', marker: fromAttributeMap(reasons[markerIndex]?.Item ?? {}) };
      }
      const failed = codes.findIndex((code, index) => index !== markerIndex && code === 'ConditionalCheckFailed');
      if (failed >= 0) {
        const item = reasons[failed]?.Item;
        throw new BusinessConditionFailedError(failed - offset, item ? fromAttributeMap(item) : undefined, { cause: error });
      }
      if (codes.some((code) => RETRYABLE_CANCELLATION_CODES.has(code))) {
        throw new RetryableCommitError(`Transaction cancelled, retry later (${codes.join(', ')})`, codes, { cause: error });
      }
      throw new AtomicIdempotencyError(`Transaction cancelled (${codes.join(', ')})`, { cause: error });
    }
    if (RETRYABLE_EXCEPTION_NAMES.has(name)) {
      throw new RetryableCommitError(`Transaction refused, retry later (${name})`, [name], { cause: error });
    }
    throw new AtomicIdempotencyError(`Transaction failed (${name || 'unknown error'})`, { cause: error });
  }

  #validate(input: CommitOnceInput): void {
    if (!input.scope || input.scope.includes('#')) {
      throw new InvalidCommitError(`scope (${JSON.stringify(input.scope)}) must be a non-empty string without '#'`);
    }
    if (!input.key) throw new InvalidCommitError('key must be a non-empty idempotency key');
    if (!Number.isInteger(input.ttlSeconds) || input.ttlSeconds <= 0) {
      throw new InvalidCommitError(`ttlSeconds (${input.ttlSeconds}) must be a positive integer number of seconds`);
    }
    const carried = input.markerItem;
    const limit = carried === undefined ? MAX_BUSINESS_ITEMS : MAX_TRANSACT_ITEMS;
    if (input.items.length > limit) {
      throw new InvalidCommitError(
        carried === undefined
          ? `items has ${input.items.length} actions; a transaction holds at most ${MAX_BUSINESS_ITEMS} business items plus the marker (100 in all): split the work or drop items`
          : `items has ${input.items.length} actions; a transaction holds at most ${MAX_TRANSACT_ITEMS}: split the work or drop items`,
      );
    }
    const reserved = [this.#ttlAttribute, ...(Object.values(MARKER_ATTRIBUTES) as string[])];
    for (const name of Object.keys(input.marker ?? {})) {
      if (reserved.includes(name)) throw new InvalidCommitError(`marker attribute "${name}" is reserved by the core: rename it`);
    }
    if (carried !== undefined) this.#validateCarrier(input, carried, reserved);
    const seen = new Map<string, number>();
    if (carried === undefined) {
      seen.set(identity(this.#tableName, toAttributeMap(this.#markerKey(input.scope, input.key))), -1);
    }
    input.items.forEach((item, index) => {
      const id = this.#itemIdentity(item);
      if (id === undefined) return;
      const previous = seen.get(id);
      if (previous !== undefined) {
        const other = previous === -1 ? 'the dedup marker' : `item ${previous}`;
        throw new InvalidCommitError(
          `item ${index} targets the same item as ${other}; a transaction's actions must touch distinct items: merge them`,
        );
      }
      seen.set(id, index);
    });
  }

  /** Checks that `items[carried]` can carry the marker: a Put, keyed, without a condition or marker attributes of its own. */
  #validateCarrier(input: CommitOnceInput, carried: number, reserved: readonly string[]): void {
    if (!Number.isInteger(carried) || carried < 0 || carried >= input.items.length) {
      throw new InvalidCommitError(
        `markerItem (${carried}) must be the index of a Put in items (0 to ${input.items.length - 1}): pass the index of the item that carries the marker, or omit markerItem for a separate marker item`,
      );
    }
    const put = input.items[carried]!.Put;
    if (!put) {
      const kind = Object.keys(input.items[carried]!).find((k) => input.items[carried]![k as keyof TransactWriteItem]) ?? 'empty';
      throw new InvalidCommitError(
        `markerItem (${carried}) names an action of type ${kind}; only a Put can carry the marker (it must be able to create the item): make it a Put or omit markerItem`,
      );
    }
    if (put.ConditionExpression || put.ExpressionAttributeNames || put.ExpressionAttributeValues) {
      throw new InvalidCommitError(
        `items[${carried}] has its own condition or expression attributes; the core sets the marker condition on the item that carries the marker (absent or expired): drop them`,
      );
    }
    const partitionKey = this.#keyAttributes[0]!;
    if (!put.Item?.[partitionKey]) {
      throw new InvalidCommitError(`items[${carried}] has no "${partitionKey}" attribute: the item that carries the marker must hold its key`);
    }
    const taken = [...reserved, ...Object.keys(input.marker ?? {})].filter((name) => put.Item?.[name] !== undefined);
    if (taken.length > 0) {
      throw new InvalidCommitError(
        `items[${carried}] already has ${taken.map((n) => `"${n}"`).join(', ')}, which the marker writes: drop ${taken.length > 1 ? 'them' : 'it'} from the item (or from marker)`,
      );
    }
  }

  #itemIdentity(item: TransactWriteItem): string | undefined {
    if (item.Put) {
      const key: Record<string, AttributeValue> = {};
      for (const name of this.#keyAttributes) {
        const value = item.Put.Item?.[name];
        if (value !== undefined) key[name] = value;
      }
      return Object.keys(key).length > 0 ? identity(item.Put.TableName, key) : undefined;
    }
    const action = item.Update ?? item.Delete ?? item.ConditionCheck;
    return action?.Key ? identity(action.TableName, action.Key) : undefined;
  }
}

function identity(tableName: string | undefined, key: Record<string, AttributeValue>): string {
  const sorted = Object.keys(key)
    .sort()
    .map((name) => [name, key[name]]);
  return `${tableName ?? ''}|${JSON.stringify(sorted)}`;
}
