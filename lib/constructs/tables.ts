import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/shared/env.js';
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

function grantOn(table: dynamodb.Table, grantee: iam.IGrantable, actions: string[]): void {
  table.grant(grantee, ...actions.map((a) => `dynamodb:${a}`));
  // Table.grant does not cover a customer-managed key; name the exact KMS actions instead of grantEncryptDecrypt's
  // wildcards.
  table.encryptionKey?.grant(grantee, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey');
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
   * Lets a consumer write the ledger in one TransactWriteItems (Put/Update/ConditionCheck) and read an item back;
   * sets `LEDGER_TABLE_NAME`.
   */
  grantLedgerWrite(fn: lambda.Function): void {
    grantOn(this.table, fn, ['GetItem', 'PutItem', 'UpdateItem', 'ConditionCheckItem']);
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
  grantEffectWrite(fn: lambda.Function): void {
    this.grantLedgerWrite(fn);
  }

  /** Lets a function read effect items (the blueprint's name for {@link LedgerTable.grantLedgerRead}). */
  grantEffectRead(fn: lambda.Function): void {
    this.grantLedgerRead(fn);
  }
}
