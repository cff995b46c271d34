import {
  TransactWriteItemsCommand,
  type AttributeValue,
  type CancellationReason,
  type DynamoDBClient,
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

  constructor(options: AtomicIdempotencyOptions) {
    if (!options.tableName) throw new InvalidCommitError('tableName is required: pass the table that holds the markers');
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#markerKey = options.markerKey ?? dedupKey;
    this.#ttlAttribute = options.ttlAttribute ?? DEFAULT_TTL_ATTRIBUTE;
    this.#keyAttributes = options.keyAttributes ?? DEFAULT_KEY_ATTRIBUTES;
  }

  /**
   * Commits the caller's items once per `(scope, key)`.
   *
   * The marker Put is conditioned on `attribute_not_exists(pk) OR expiresAt < :now` — an expired marker that TTL has
   * not deleted yet counts as absent (F6) — and asks for the stored marker back on failure at no read cost (F5).
   * @returns `committed`, or `duplicate` with the marker an earlier delivery stored.
   * @throws InvalidCommitError when the input breaks a transaction rule (more than 99 items, duplicate items, bad TTL).
   * @throws BusinessConditionFailedError when a business item's condition failed (nothing was written).
   * @throws RetryableCommitError on a transaction conflict or throttling.
   * @throws AtomicIdempotencyError on any other failure, with the SDK error as `cause`.
   */
  async commitOnce(input: CommitOnceInput): Promise<CommitOnceResult> {
    this.#validate(input);
    const now = input.now ?? new Date();
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const key = this.#markerKey(input.scope, input.key);
    const keyNames = Object.keys(key);
    const markerItem: Record<string, AttributeValue> = {
      ...toAttributeMap(input.marker ?? {}),
      ...toAttributeMap({
        ...key,
        [MARKER_ATTRIBUTES.scope]: input.scope,
        [MARKER_ATTRIBUTES.key]: input.key,
        [MARKER_ATTRIBUTES.createdAt]: now.toISOString(),
        [this.#ttlAttribute]: nowSeconds + input.ttlSeconds,
      }),
    };
    const markerPut: TransactWriteItem = {
      Put: {
        TableName: this.#tableName,
        Item: markerItem,
        ConditionExpression: `attribute_not_exists(#pk) OR #ttl < :now`,
        ExpressionAttributeNames: { '#pk': keyNames[0]!, '#ttl': this.#ttlAttribute },
        ExpressionAttributeValues: { ':now': { N: String(nowSeconds) } },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
    const transactItems = [markerPut, ...input.items];
    try {
      await this.#client.send(
        new TransactWriteItemsCommand({
          TransactItems: transactItems,
          ClientRequestToken: clientRequestToken(input.scope, input.key, transactItems),
        }),
      );
      return { status: 'committed' };
    } catch (error) {
      return this.#interpret(error);
    }
  }

  #interpret(error: unknown): CommitOnceResult {
    const name = (error as { name?: string } | null)?.name ?? '';
    if (name === 'TransactionCanceledException') {
      const reasons: CancellationReason[] = (error as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [];
      const codes = reasons.map((r) => r.Code ?? 'None');
      if (codes[0] === 'ConditionalCheckFailed') {
        return { status: 'duplicate', marker: fromAttributeMap(reasons[0]?.Item ?? {}) };
      }
      const failed = codes.findIndex((code, index) => index > 0 && code === 'ConditionalCheckFailed');
      if (failed > 0) {
        const item = reasons[failed]?.Item;
        throw new BusinessConditionFailedError(failed - 1, item ? fromAttributeMap(item) : undefined, { cause: error });
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
    if (input.items.length > MAX_BUSINESS_ITEMS) {
      throw new InvalidCommitError(
        `items has ${input.items.length} actions; a transaction holds at most ${MAX_BUSINESS_ITEMS} business items plus the marker (100 in all): split the work or drop items`,
      );
    }
    for (const name of Object.keys(input.marker ?? {})) {
      if (name === this.#ttlAttribute || (Object.values(MARKER_ATTRIBUTES) as string[]).includes(name)) {
        throw new InvalidCommitError(`marker attribute "${name}" is reserved by the core: rename it`);
      }
    }
    const seen = new Map<string, number>();
    const markerIdentity = identity(this.#tableName, toAttributeMap(this.#markerKey(input.scope, input.key)));
    seen.set(markerIdentity, -1);
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
