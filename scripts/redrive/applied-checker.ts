import { createHash } from 'node:crypto';
import { GetItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dedupKey, LEDGER_KEYS, outboxKey } from '../../lambdas/shared/ledger-keys.js';
import { eventIdFor, paymentIdFor, PaymentEventSchema, PaymentMessageSchema } from '../../lambdas/shared/payments-model.js';
import { extractKey } from './key-extractors.js';

/**
 * Scope under which the payments ledger consumer writes its dedup markers (`DEDUP#ledger#<idempotencyKey>`).
 * Same value as `LEDGER_SCOPE` in lambdas/ledger/strategies/atomic.ts (a test keeps them equal; importing it here
 * would load the ledger's handler dependencies into a CLI).
 */
export const LEDGER_DEDUP_SCOPE = 'ledger';

/** Powertools key prefix of the notifier's records (`NOTIFIER_KEY_PREFIX` in lambdas/notifier/notifier.ts), keyed by eventId. */
export const NOTIFIER_KEY_PREFIX = 'notifier';

/**
 * Dedup profile of the payments FIFO queue (ledger consumer): the payment's outbox item (which the atomic strategy
 * writes in the committing transaction, and which carries its dedup marker), or a separate `DEDUP#ledger#<key>` marker.
 */
export const PAYMENTS_PROFILE: DedupProfile = { scope: LEDGER_DEDUP_SCOPE, stores: ['ledger-outbox', 'marker'] };

/** Dedup profile of the events queue (notifier: Powertools record per eventId). */
export const EVENTS_PROFILE: DedupProfile = { scope: NOTIFIER_KEY_PREFIX, stores: ['powertools'], keyField: 'eventId' };

/** Where a consumer records that a key's effect happened. */
export type DedupStore =
  /** A `DEDUP#<scope>#<key>` marker in the ledger table, written by the atomic core. */
  | 'marker'
  /** A Powertools idempotency record `<scope>#<md5 base64 of the JSON key>` (keyPrefix = scope). */
  | 'powertools'
  /**
   * The payments ledger's outbox item `OUTBOX#<eventIdFor(paymentIdFor(key))>`: written only by the transaction that
   * applied (or rejected) the payment, and the carrier of its dedup marker.
   */
  | 'ledger-outbox';

/** How to find a message's dedup record: its scope, where to look, and which body field is the key. */
export interface DedupProfile {
  readonly scope: string;
  readonly stores: readonly DedupStore[];
  /** Body field holding the idempotency key. @default 'idempotencyKey' */
  readonly keyField?: string;
}

/** What the checker found for one message. */
export type AppliedVerdict =
  | { readonly status: 'applied'; readonly key: string; readonly evidence: string }
  | { readonly status: 'not-applied'; readonly key: string; readonly evidence: string }
  | { readonly status: 'unknown'; readonly key?: string; readonly reason: string };

/** Port: tells whether a dead-lettered message's effect already happened. */
export interface AppliedChecker {
  check(body: string): Promise<AppliedVerdict>;
}

/** Options of {@link IdempotencyAwareChecker}. */
export interface IdempotencyAwareCheckerOptions {
  readonly dynamodb: DynamoDBClient;
  /** Table of the `DEDUP#` markers. @default - markers are not checked */
  readonly ledgerTable?: string;
  /** Powertools idempotency table. @default - Powertools records are not checked */
  readonly idempotencyTable?: string;
  /** Profile for this DLQ. @default - payments messages get the ledger profile, payment events the notifier's, anything else is `unknown` */
  readonly profile?: DedupProfile;
  /** Clock. @default () => new Date() */
  readonly now?: () => Date;
}

/** The Powertools record id for `key` under `keyPrefix` (Powertools' default md5 / base64 hashing of the JSON key). */
export function powertoolsRecordId(keyPrefix: string, key: string): string {
  return `${keyPrefix}#${createHash('md5').update(JSON.stringify(key)).digest('base64')}`;
}

/**
 * Looks up, per message, the dedup record its consumer keeps: the ledger's outbox item or the atomic core's marker
 * (present = applied, even past its `expiresAt`: TTL deletes late, F6, and only the committing transaction writes it)
 * or a Powertools record (COMPLETED, expired or not). Strongly consistent reads.
 */
export class IdempotencyAwareChecker implements AppliedChecker {
  readonly #options: IdempotencyAwareCheckerOptions;

  constructor(options: IdempotencyAwareCheckerOptions) {
    this.#options = options;
  }

  async check(body: string): Promise<AppliedVerdict> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return { status: 'unknown', reason: 'body is not JSON (a poison message?)' };
    }
    const profile = this.#options.profile ?? this.#inferProfile(parsed);
    if (!profile) {
      return {
        status: 'unknown',
        reason: 'neither a payments message nor a payment event, and no --scope given: cannot tell which dedup record to read',
      };
    }
    // The consumer's registered extractor finds its key (issue 12); an explicit keyField still wins.
    const { key, source } = extractKey(profile.scope, parsed, profile.keyField);
    if (key === undefined) {
      return { status: 'unknown', reason: `body has no key for ${source} to look the dedup record up by` };
    }
    const nowSeconds = Math.floor((this.#options.now?.() ?? new Date()).getTime() / 1000);
    const notes: string[] = [];
    let checked = 0;
    for (const store of profile.stores) {
      const table = store === 'powertools' ? this.#options.idempotencyTable : this.#options.ledgerTable;
      if (!table) continue;
      checked++;
      const verdict =
        store === 'marker'
          ? await this.#checkLedgerItem(table, dedupKey(profile.scope, key), 'marker', key, nowSeconds)
          : store === 'ledger-outbox'
            ? await this.#checkLedgerItem(table, outboxKey(eventIdFor(paymentIdFor(key))), 'outbox item', key, nowSeconds)
            : await this.#checkPowertools(table, profile.scope, key, nowSeconds);
      if (verdict.status === 'applied') return verdict;
      notes.push(verdict.evidence);
    }
    if (checked === 0) {
      return { status: 'unknown', key, reason: `no table to check (${profile.stores.join('/')}): pass --ledger-table / --idempotency-table` };
    }
    return { status: 'not-applied', key, evidence: notes.join('; ') };
  }

  #inferProfile(body: unknown): DedupProfile | undefined {
    if (PaymentMessageSchema.safeParse(body).success) return PAYMENTS_PROFILE;
    if (PaymentEventSchema.safeParse(body).success) return EVENTS_PROFILE;
    return undefined;
  }

  async #checkLedgerItem(table: string, itemKey: { pk: string; sk: string }, what: string, key: string, nowSeconds: number) {
    const { Item } = await this.#options.dynamodb.send(
      new GetItemCommand({
        TableName: table,
        Key: { pk: { S: itemKey.pk }, sk: { S: itemKey.sk } },
        ConsistentRead: true,
      }),
    );
    if (!Item) return { status: 'not-applied' as const, key, evidence: `no ${what} ${itemKey.pk}` };
    const expiresAt = numberOf(Item[LEDGER_KEYS.ttlAttribute]);
    const created = Item['createdAt']?.S;
    // Only the committing transaction writes it, so its presence proves the effect, expired or not (TTL deletes late,
    // F6); the ledger itself never re-applies a key while it is present.
    const life =
      expiresAt === undefined
        ? ''
        : expiresAt <= nowSeconds
          ? `, expired at ${isoOf(expiresAt)} but still present (TTL has not deleted it): it proves the effect happened`
          : `, live until ${isoOf(expiresAt)}`;
    return { status: 'applied' as const, key, evidence: `${what} ${itemKey.pk}${created ? ` written ${created}` : ''}${life}` };
  }

  async #checkPowertools(table: string, scope: string, key: string, nowSeconds: number) {
    const id = powertoolsRecordId(scope, key);
    const { Item } = await this.#options.dynamodb.send(
      new GetItemCommand({ TableName: table, Key: { id: { S: id } }, ConsistentRead: true }),
    );
    if (!Item) return { status: 'not-applied' as const, key, evidence: `no Powertools record ${id}` };
    const status = Item['status']?.S;
    const expiration = numberOf(Item['expiration']);
    const expired = expiration !== undefined && expiration <= nowSeconds;
    if (status !== 'COMPLETED') {
      return {
        status: 'not-applied' as const,
        key,
        evidence: `Powertools record ${id} is ${status ?? 'without status'}${expired ? `, expired at ${isoOf(expiration)}` : ''}`,
      };
    }
    // COMPLETED proves the effect happened, even once expired and not yet deleted by TTL (F6).
    const life = expiration === undefined ? '' : expired ? `, expired at ${isoOf(expiration)} but still present` : `, live until ${isoOf(expiration)}`;
    return { status: 'applied' as const, key, evidence: `Powertools record ${id} COMPLETED${life}` };
  }
}

function numberOf(value: AttributeValue | undefined): number | undefined {
  return value?.N !== undefined ? Number(value.N) : undefined;
}

const isoOf = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString();
