import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/shared/env.js';
import { ConstructValidationError } from '../errors.js';
import { LEDGER_KEYS } from '../../lambdas/shared/ledger-keys.js';

/** Props shared by the stateful tables. */
export interface StatefulTableProps {
  /**
   * Customer-managed KMS key.
   * @default - AWS-managed encryption (aws/dynamodb)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Removal policy (RETAIN for production).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Deletion protection (on in production).
   * @default - on when removalPolicy is RETAIN
   */
  readonly deletionProtection?: boolean;
}

function tableSecurity(props: StatefulTableProps) {
  const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
  return {
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy,
    deletionProtection: props.deletionProtection ?? removalPolicy === RemovalPolicy.RETAIN,
    ...(props.encryptionKey
      ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }
      : { encryption: dynamodb.TableEncryption.AWS_MANAGED }),
  };
}

/** Item actions that only read: a caller with nothing but these needs only the key's read actions. */
const READ_ACTIONS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'ConditionCheckItem']);

function grantOn(table: dynamodb.Table, grantee: iam.IGrantable, actions: string[]): void {
  table.grant(grantee, ...actions.map((a) => `dynamodb:${a}`));
  // Table.grant does not cover a customer-managed key. CDK's own read grants give kms:Decrypt + kms:DescribeKey and its
  // write grants add kms:Encrypt, kms:ReEncrypt* and kms:GenerateDataKey*; name the exact actions, no wildcards, and
  // give a reader only the read pair.
  const reads = ['kms:Decrypt', 'kms:DescribeKey'];
  const writes = actions.every((a) => READ_ACTIONS.has(a)) ? [] : ['kms:Encrypt', 'kms:GenerateDataKey'];
  table.encryptionKey?.grant(grantee, ...reads, ...writes);
}

/** Props of {@link IdempotencyTable}. */
export type IdempotencyTableProps = StatefulTableProps;

/**
 * The Powertools idempotency table: partition key `id`, TTL attribute `expiration`, on-demand, point-in-time
 * recovery, encryption at rest.
 * @see https://docs.powertools.aws.dev/lambda/typescript/latest/features/idempotency/
 */
export class IdempotencyTable extends Construct {
  /** The table. */
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: IdempotencyTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expiration',
      ...tableSecurity(props),
    });
  }

  /**
   * Lets a function use Powertools idempotency on this table (GetItem, PutItem, UpdateItem, DeleteItem) and sets
   * `IDEMPOTENCY_TABLE_NAME`.
   */
  grantIdempotency(fn: lambda.Function): void {
    grantOn(this.table, fn, ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem']);
    fn.addEnvironment(ENV.IDEMPOTENCY_TABLE_NAME, this.table.tableName);
  }
}

/** DynamoDB item actions a ledger-table grant may name (IAM action names without the `dynamodb:` prefix). */
export const LEDGER_ITEM_ACTIONS = [
  'BatchGetItem',
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'ConditionCheckItem',
  'Query',
] as const;
/** One of {@link LEDGER_ITEM_ACTIONS}. */
export type LedgerItemAction = (typeof LEDGER_ITEM_ACTIONS)[number];

/**
 * What the atomic ledger consumer sends to the ledger table: one BatchGetItem (account + outbox item) and one
 * TransactWriteItems of an Update (account) and a Put (outbox item) — authorized as UpdateItem and PutItem (C1). It
 * deletes nothing: an expired outbox item proves the payment was applied, so it is never deleted to re-apply.
 * `test/infra/security.test.ts` derives this set from the handler's code and fails when the two differ.
 */
export const LEDGER_CONSUMER_ACTIONS: readonly LedgerItemAction[] = ['BatchGetItem', 'PutItem', 'UpdateItem'];

/** Props of {@link LedgerTable}. */
export interface LedgerTableProps extends StatefulTableProps {
  /**
   * Stream view type: NEW_IMAGE for the outbox; NEW_AND_OLD_IMAGES when the relay compares images (watermark).
   * @default dynamodb.StreamViewType.NEW_IMAGE
   */
  readonly stream?: dynamodb.StreamViewType.NEW_IMAGE | dynamodb.StreamViewType.NEW_AND_OLD_IMAGES;
}

/**
 * The single-table ledger: accounts, dedup markers and outbox items (`pk`/`sk`, TTL `expiresAt`), with a stream for
 * the outbox relay, point-in-time recovery and encryption at rest.
 */
export class LedgerTable extends Construct {
  /** The table. */
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: LedgerTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: LEDGER_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: LEDGER_KEYS.sortKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: LEDGER_KEYS.ttlAttribute,
      stream: props.stream ?? dynamodb.StreamViewType.NEW_IMAGE,
      ...tableSecurity(props),
    });
  }

  /**
   * Lets a consumer read and write ledger items and sets `LEDGER_TABLE_NAME`. A TransactWriteItems is authorized per
   * item (Put → PutItem, Update → UpdateItem, Delete → DeleteItem, ConditionCheck → ConditionCheckItem), so name the
   * item actions the consumer's transactions carry.
   * @param fn the consumer
   * @param actions the item actions it sends
   * @default actions {@link LEDGER_CONSUMER_ACTIONS} (the atomic ledger consumer)
   * @throws ConstructValidationError when `actions` is empty or names an action outside {@link LEDGER_ITEM_ACTIONS}.
   */
  grantLedgerWrite(fn: lambda.Function, actions: readonly LedgerItemAction[] = LEDGER_CONSUMER_ACTIONS): void {
    const unknown = actions.filter((a) => !(LEDGER_ITEM_ACTIONS as readonly string[]).includes(a));
    if (actions.length === 0 || unknown.length > 0) {
      throw new ConstructValidationError(
        this.node.path,
        `grantLedgerWrite(${fn.node.path}) got actions [${actions.join(', ')}]: ` +
          (unknown.length ? `${unknown.join(', ')} is not a ledger item action` : 'the list is empty') +
          `; name one or more of ${LEDGER_ITEM_ACTIONS.join(', ')} without the "dynamodb:" prefix`,
      );
    }
    grantOn(this.table, fn, [...new Set(actions)]);
    fn.addEnvironment(ENV.LEDGER_TABLE_NAME, this.table.tableName);
  }

  /** Lets a function read single items (GetItem); sets `LEDGER_TABLE_NAME`. */
  grantLedgerRead(fn: lambda.Function): void {
    grantOn(this.table, fn, ['GetItem']);
    fn.addEnvironment(ENV.LEDGER_TABLE_NAME, this.table.tableName);
  }

  /**
   * Lets a consumer commit its effects here: its business items, dedup markers and outbox items in one
   * TransactWriteItems (the blueprint's name for {@link LedgerTable.grantLedgerWrite}, which stays as an alias).
   */
  grantEffectWrite(fn: lambda.Function, actions: readonly LedgerItemAction[] = LEDGER_CONSUMER_ACTIONS): void {
    this.grantLedgerWrite(fn, actions);
  }

  /** Lets a function read effect items (the blueprint's name for {@link LedgerTable.grantLedgerRead}). */
  grantEffectRead(fn: lambda.Function): void {
    this.grantLedgerRead(fn);
  }
}
