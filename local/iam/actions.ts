import { RequestMappingError } from './errors.js';
import type { ArnContext, AuthorizationRequest, AuthorizedService, RequiredAuthorization } from './types.js';

/** The input of `requiredAuthorizations('execute-api', 'Invoke', input, arns)`: one REST API method call. */
export interface ExecuteApiInvokeInput {
  readonly apiId: string;
  readonly stage: string;
  /** HTTP method, any case. */
  readonly method: string;
  /** Request path, e.g. `/payments/123` (the stage is not part of it). */
  readonly path: string;
}

/**
 * Optional lookups beyond the contract's {@link ArnContext}: with them, names resolve to the ARNs AWS authorizes
 * (a secret's ARN carries a random suffix; KMS authorizes the key an alias points to).
 */
export interface ArnLookups {
  /** Secrets Manager: secret name or partial ARN → full secret ARN. @default - `…:secret:<name>-??????` */
  readonly secretArnForId?: (secretId: string) => string | undefined;
  /** KMS: alias name (`alias/x`) or alias ARN → key ARN. @default - the alias ARN itself */
  readonly keyArnForAlias?: (alias: string) => string | undefined;
  /** DynamoDB Streams: shard iterator → stream ARN. @default - the stream ARN embedded in the iterator */
  readonly streamArnForIterator?: (iterator: string) => string | undefined;
}

type Input = Readonly<Record<string, unknown>>;
type Context = ArnContext & ArnLookups;
type Mapper = (op: string, input: Input, arns: Context) => RequiredAuthorization[];

const record = (value: unknown): Input => {
  if (value instanceof URLSearchParams) return Object.fromEntries(value);
  if (value instanceof Map) return Object.fromEntries(value) as Input;
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Input) : {};
};
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

function required(op: string, input: Input, field: string): string {
  const value = input[field];
  if (typeof value === 'string' && value !== '') return value;
  throw new RequestMappingError(
    op,
    field,
    `${field} is required to authorize ${op} (got ${value === undefined ? 'nothing' : JSON.stringify(value)}); ` +
      `send the ${field} parameter`,
  );
}
const optional = (input: Input, field: string): string | undefined =>
  typeof input[field] === 'string' && input[field] !== '' ? (input[field] as string) : undefined;

/** `<service>:<Operation>` on `*`: what an operation nothing here knows needs, so it is judged, never waved through. */
const fallback = (service: string, op: string): RequiredAuthorization[] => [{ action: `${service}:${op}`, resource: '*' }];

/** Deduplicates authorizations with the same action and resource (a batch touching one table twice). */
function unique(authorizations: RequiredAuthorization[]): RequiredAuthorization[] {
  const seen = new Set<string>();
  return authorizations.filter((a) => {
    const key = `${a.action}\u0000${a.resource}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// ---- DynamoDB -------------------------------------------------------------------------------------------------

const tableArn = (nameOrArn: string, arns: Context): string =>
  nameOrArn.startsWith('arn:') ? nameOrArn : `arn:${arns.partition}:dynamodb:${arns.region}:${arns.accountId}:table/${nameOrArn}`;
const indexArn = (table: string, index: string | undefined, arns: Context): string =>
  index ? `${tableArn(table, arns)}/index/${index}` : tableArn(table, arns);
const globalTableArn = (name: string, arns: Context): string =>
  `arn:${arns.partition}:dynamodb::${arns.accountId}:global-table/${name}`;

/** Operations authorized as the same action on the table named by TableName. */
const DYNAMODB_TABLE_OPS = new Set([
  'GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'CreateTable', 'DeleteTable', 'DescribeTable', 'UpdateTable',
  'CreateBackup', 'DescribeContinuousBackups', 'UpdateContinuousBackups', 'DescribeKinesisStreamingDestination',
  'DisableKinesisStreamingDestination', 'EnableKinesisStreamingDestination', 'UpdateKinesisStreamingDestination',
  'DescribeTableReplicaAutoScaling', 'UpdateTableReplicaAutoScaling', 'DescribeTimeToLive', 'UpdateTimeToLive',
]);
/** Operations authorized as the same action on the table or, with IndexName, on the index. */
const DYNAMODB_INDEX_OPS = new Set(['Query', 'Scan', 'SearchVectors', 'DescribeContributorInsights', 'UpdateContributorInsights']);
/** Operations authorized on the ARN in ResourceArn (a table or a stream). */
const DYNAMODB_RESOURCE_ARN_OPS = new Set([
  'GetResourcePolicy', 'PutResourcePolicy', 'DeleteResourcePolicy', 'ListTagsOfResource', 'TagResource', 'UntagResource',
]);
/** Operations that take no resource: authorized on `*`. */
const DYNAMODB_STAR_OPS = new Set([
  'DescribeEndpoints', 'DescribeLimits', 'ListBackups', 'ListContributorInsights', 'ListGlobalTables', 'ListTables',
]);

/** Request context keys DynamoDB sets from the request (only the ones readable from the input alone). */
function dynamodbContext(input: Input, enclosing?: string): AuthorizationRequest['context'] | undefined {
  const context: Record<string, string> = {};
  for (const [field, key] of [
    ['ReturnValues', 'dynamodb:ReturnValues'],
    ['ReturnConsumedCapacity', 'dynamodb:ReturnConsumedCapacity'],
    ['Select', 'dynamodb:Select'],
  ] as const) {
    const value = optional(input, field);
    if (value) context[key] = value;
  }
  if (enclosing) context['dynamodb:EnclosingOperation'] = enclosing;
  return Object.keys(context).length > 0 ? context : undefined;
}

const withContext = (action: string, resource: string, context?: AuthorizationRequest['context']): RequiredAuthorization =>
  context ? { action, resource, context } : { action, resource };

const PARTIQL = /^\s*(SELECT|INSERT|UPDATE|DELETE|EXISTS)\b/i;
/** A table (optionally `"table"."index"`) name as PartiQL writes it: double-quoted, or a bare identifier. */
const NAME = String.raw`("(?:[^"]|"")+"|[A-Za-z0-9_.\-]+)`;
const PARTIQL_TARGET: Record<string, RegExp> = {
  SELECT: new RegExp(String.raw`\bFROM\s+${NAME}(?:\s*\.\s*${NAME})?`, 'i'),
  INSERT: new RegExp(String.raw`\bINTO\s+${NAME}`, 'i'),
  UPDATE: new RegExp(String.raw`^\s*UPDATE\s+${NAME}`, 'i'),
  DELETE: new RegExp(String.raw`\bFROM\s+${NAME}`, 'i'),
};
const unquote = (name: string): string => (name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name);

/**
 * PartiQL: SELECT → dynamodb:PartiQLSelect on the table or index, INSERT → PartiQLInsert, UPDATE → PartiQLUpdate,
 * DELETE → PartiQLDelete, on the table the statement names.
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-iam.html
 */
function partiql(op: string, statement: string, arns: Context): RequiredAuthorization {
  const verb = PARTIQL.exec(statement)?.[1]?.toUpperCase();
  const kind = verb === 'EXISTS' ? 'SELECT' : verb;
  const match = kind ? PARTIQL_TARGET[kind]!.exec(statement) : null;
  if (!kind || !match) {
    throw new RequestMappingError(
      op,
      'Statement',
      `cannot read the table from the PartiQL statement ${JSON.stringify(statement.slice(0, 200))}; ` +
        'write SELECT … FROM "Table", INSERT INTO "Table" …, UPDATE "Table" … or DELETE FROM "Table" …',
    );
  }
  const table = unquote(match[1]!);
  const index = match[2] ? unquote(match[2]) : undefined;
  const action = `dynamodb:PartiQL${kind[0]}${kind.slice(1).toLowerCase()}`;
  return { action, resource: indexArn(table, kind === 'SELECT' ? index : undefined, arns) };
}

/** The stream ARN inside a shard iterator (AWS and DynamoDB Local both embed it). */
const ITERATOR_STREAM = /arn:[a-z-]+:dynamodb:[^:|]*:\d*:table\/[^/|]+\/stream\/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+/;

const dynamodb: Mapper = (op, input, arns) => {
  const table = (field = 'TableName'): string => tableArn(required(op, input, field), arns);
  if (DYNAMODB_TABLE_OPS.has(op)) return [withContext(`dynamodb:${op}`, table(), dynamodbContext(input))];
  if (DYNAMODB_INDEX_OPS.has(op)) {
    return [withContext(`dynamodb:${op}`, indexArn(required(op, input, 'TableName'), optional(input, 'IndexName'), arns), dynamodbContext(input))];
  }
  if (DYNAMODB_RESOURCE_ARN_OPS.has(op)) return [{ action: `dynamodb:${op}`, resource: required(op, input, 'ResourceArn') }];
  if (DYNAMODB_STAR_OPS.has(op)) return [{ action: `dynamodb:${op}`, resource: '*' }];
  switch (op) {
    case 'BatchGetItem':
    case 'BatchWriteItem': {
      const tables = Object.keys(record(input.RequestItems));
      if (tables.length === 0) required(op, {}, 'RequestItems');
      return unique(tables.map((t) => withContext(`dynamodb:${op}`, tableArn(t, arns), dynamodbContext(input))));
    }
    case 'TransactGetItems': {
      const items = list(input.TransactItems);
      if (items.length === 0) required(op, {}, 'TransactItems');
      return unique(
        items.map((item, i) => {
          const get = record(record(item).Get);
          return withContext('dynamodb:GetItem', tableArn(required(`${op} TransactItems[${i}].Get`, get, 'TableName'), arns), dynamodbContext(get, op));
        }),
      );
    }
    case 'TransactWriteItems': {
      const items = list(input.TransactItems);
      if (items.length === 0) required(op, {}, 'TransactItems');
      const actions = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem' } as const;
      return unique(
        items.map((item, i) => {
          const entry = record(item);
          const kind = (Object.keys(actions) as (keyof typeof actions)[]).find((k) => entry[k] !== undefined);
          if (!kind) {
            throw new RequestMappingError(op, `TransactItems[${i}]`, `TransactItems[${i}] has none of Put, Update, Delete, ConditionCheck`);
          }
          const body = record(entry[kind]);
          return withContext(`dynamodb:${actions[kind]}`, tableArn(required(`${op} TransactItems[${i}].${kind}`, body, 'TableName'), arns), dynamodbContext(body, op));
        }),
      );
    }
    case 'ExecuteStatement':
      return [partiql(op, required(op, input, 'Statement'), arns)];
    case 'BatchExecuteStatement':
    case 'ExecuteTransaction': {
      const field = op === 'BatchExecuteStatement' ? 'Statements' : 'TransactStatements';
      const statements = list(input[field]);
      if (statements.length === 0) required(op, {}, field);
      return unique(statements.map((s, i) => partiql(op, required(`${op} ${field}[${i}]`, record(s), 'Statement'), arns)));
    }
    case 'ListExports':
    case 'ListImports': {
      // The catalogue gives both the table resource type: filtered by TableArn they are judged on that table.
      const arn = optional(input, 'TableArn');
      return [{ action: `dynamodb:${op}`, resource: arn ? tableArn(arn, arns) : '*' }];
    }
    case 'ExportTableToPointInTime':
      return [{ action: `dynamodb:${op}`, resource: table('TableArn') }];
    case 'ImportTable':
      return [{ action: `dynamodb:${op}`, resource: tableArn(required(op, record(input.TableCreationParameters), 'TableName'), arns) }];
    case 'DescribeBackup':
    case 'DeleteBackup':
      return [{ action: `dynamodb:${op}`, resource: required(op, input, 'BackupArn') }];
    case 'DescribeExport':
      return [{ action: `dynamodb:${op}`, resource: required(op, input, 'ExportArn') }];
    case 'DescribeImport':
      return [{ action: `dynamodb:${op}`, resource: required(op, input, 'ImportArn') }];
    case 'RestoreTableFromBackup':
      return [
        { action: `dynamodb:${op}`, resource: required(op, input, 'BackupArn') },
        { action: `dynamodb:${op}`, resource: table('TargetTableName') },
      ];
    case 'RestoreTableToPointInTime': {
      const source = optional(input, 'SourceTableArn') ?? required(op, input, 'SourceTableName');
      return [{ action: `dynamodb:${op}`, resource: tableArn(source, arns) }];
    }
    case 'DescribeGlobalTable':
    case 'DescribeGlobalTableSettings':
      return [{ action: `dynamodb:${op}`, resource: globalTableArn(required(op, input, 'GlobalTableName'), arns) }];
    case 'CreateGlobalTable':
    case 'UpdateGlobalTable':
    case 'UpdateGlobalTableSettings': {
      const name = required(op, input, 'GlobalTableName');
      return [
        { action: `dynamodb:${op}`, resource: globalTableArn(name, arns) },
        { action: `dynamodb:${op}`, resource: tableArn(name, arns) },
      ];
    }
    default:
      return fallback('dynamodb', op);
  }
};

/** DynamoDB Streams (signed as `dynamodb`, IAM prefix `dynamodb`): the stream ARN; ListStreams on `*`. */
const dynamodbStreams: Mapper = (op, input, arns) => {
  switch (op) {
    case 'DescribeStream':
    case 'GetShardIterator':
      return [{ action: `dynamodb:${op}`, resource: required(op, input, 'StreamArn') }];
    case 'GetRecords': {
      const iterator = required(op, input, 'ShardIterator');
      const stream = arns.streamArnForIterator?.(iterator) ?? ITERATOR_STREAM.exec(iterator)?.[0];
      // An iterator nothing can read is judged on `*`, which only a grant on every stream passes (fails closed).
      return [{ action: 'dynamodb:GetRecords', resource: stream ?? '*' }];
    }
    case 'ListStreams':
      return [{ action: 'dynamodb:ListStreams', resource: '*' }];
    default:
      return fallback('dynamodb', op);
  }
};

// ---- SQS ------------------------------------------------------------------------------------------------------

const queueArnFromName = (name: string, arns: Context, account = arns.accountId): string =>
  `arn:${arns.partition}:sqs:${arns.region}:${account}:${name}`;

/** Queue URL → ARN: the gateway's lookup, else the URL's `/<account>/<name>` path. */
function queueArn(op: string, url: string, arns: Context): string {
  const known = arns.queueArnForUrl(url);
  if (known) return known;
  let path: string[] = [];
  try {
    path = new URL(url).pathname.split('/').filter(Boolean);
  } catch {
    path = [];
  }
  const [account, name] = path.length >= 2 ? path.slice(-2) : [];
  if (!account || !name || !/^\d{12}$/.test(account)) {
    throw new RequestMappingError(op, 'QueueUrl', `QueueUrl ${JSON.stringify(url)} is not a queue URL (http(s)://host/<account id>/<queue name>)`);
  }
  return queueArnFromName(name, arns, account);
}

const SQS_QUEUE_URL_OPS = new Set([
  'AddPermission', 'ChangeMessageVisibility', 'DeleteMessage', 'DeleteQueue', 'GetQueueAttributes',
  'ListDeadLetterSourceQueues', 'ListQueueTags', 'PurgeQueue', 'ReceiveMessage', 'RemovePermission', 'SendMessage',
  'SetQueueAttributes', 'TagQueue', 'UntagQueue',
]);
/** Batch operations are authorized as their single-message action (C1). */
const SQS_BATCH: Readonly<Record<string, string>> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

function moveTaskSource(handle: string): string | undefined {
  try {
    const decoded = JSON.parse(Buffer.from(handle, 'base64').toString('utf8')) as Record<string, unknown>;
    const arn = decoded.sourceArn ?? decoded.SourceArn;
    return typeof arn === 'string' ? arn : undefined;
  } catch {
    return undefined;
  }
}

/** SQS, JSON protocol (`AmazonSQS.SendMessage`) or query protocol (`Action=SendMessage`): the same field names. */
const sqs: Mapper = (op, input, arns) => {
  const single = SQS_BATCH[op];
  if (single) return [{ action: `sqs:${single}`, resource: queueArn(op, required(op, input, 'QueueUrl'), arns) }];
  if (SQS_QUEUE_URL_OPS.has(op)) return [{ action: `sqs:${op}`, resource: queueArn(op, required(op, input, 'QueueUrl'), arns) }];
  switch (op) {
    case 'CreateQueue':
      return [{ action: 'sqs:CreateQueue', resource: queueArnFromName(required(op, input, 'QueueName'), arns) }];
    case 'GetQueueUrl':
      return [
        {
          action: 'sqs:GetQueueUrl',
          resource: queueArnFromName(required(op, input, 'QueueName'), arns, optional(input, 'QueueOwnerAWSAccountId')),
        },
      ];
    case 'ListQueues':
      return [{ action: 'sqs:ListQueues', resource: '*' }];
    case 'StartMessageMoveTask':
    case 'ListMessageMoveTasks':
      return [{ action: `sqs:${op}`, resource: required(op, input, 'SourceArn') }];
    case 'CancelMessageMoveTask':
      return [{ action: `sqs:${op}`, resource: moveTaskSource(required(op, input, 'TaskHandle')) ?? '*' }];
    default:
      return fallback('sqs', op);
  }
};

// ---- Secrets Manager, KMS, API Gateway ------------------------------------------------------------------------

function secretArn(id: string, arns: Context): string {
  const known = arns.secretArnForId?.(id);
  if (known) return known;
  if (id.startsWith('arn:')) return id;
  // A secret's ARN ends in `-` and six random characters; a name alone matches CDK's `<name>-??????` grants.
  return `arn:${arns.partition}:secretsmanager:${arns.region}:${arns.accountId}:secret:${id}-??????`;
}

const SECRET_ID_OPS = new Set([
  'GetSecretValue', 'DescribeSecret', 'PutSecretValue', 'UpdateSecret', 'DeleteSecret', 'RestoreSecret',
  'RotateSecret', 'CancelRotateSecret', 'TagResource', 'UntagResource', 'GetResourcePolicy', 'PutResourcePolicy',
  'DeleteResourcePolicy', 'ListSecretVersionIds', 'UpdateSecretVersionStage', 'ReplicateSecretToRegions',
  'RemoveRegionsFromReplication', 'StopReplicationToReplica',
]);

const secretsmanager: Mapper = (op, input, arns) => {
  if (SECRET_ID_OPS.has(op)) return [{ action: `secretsmanager:${op}`, resource: secretArn(required(op, input, 'SecretId'), arns) }];
  switch (op) {
    case 'CreateSecret':
      return [{ action: 'secretsmanager:CreateSecret', resource: secretArn(required(op, input, 'Name'), arns) }];
    case 'ValidateResourcePolicy': {
      const id = optional(input, 'SecretId');
      return [{ action: `secretsmanager:${op}`, resource: id ? secretArn(id, arns) : '*' }];
    }
    case 'BatchGetSecretValue':
      // AWS: BatchGetSecretValue on `*`, and GetSecretValue on each secret it returns.
      return unique([
        { action: 'secretsmanager:BatchGetSecretValue', resource: '*' },
        ...list(input.SecretIdList).map((id) => ({
          action: 'secretsmanager:GetSecretValue',
          resource: secretArn(typeof id === 'string' ? id : String(id), arns),
        })),
      ]);
    case 'ListSecrets':
    case 'GetRandomPassword':
      return [{ action: `secretsmanager:${op}`, resource: '*' }];
    default:
      return fallback('secretsmanager', op);
  }
};

function keyArn(keyId: string, arns: Context): string {
  const base = `arn:${arns.partition}:kms:${arns.region}:${arns.accountId}`;
  const alias = keyId.startsWith('alias/') ? `${base}:${keyId}` : keyId.includes(':alias/') ? keyId : undefined;
  if (alias) return arns.keyArnForAlias?.(keyId) ?? arns.keyArnForAlias?.(alias) ?? alias;
  return keyId.startsWith('arn:') ? keyId : `${base}:key/${keyId}`;
}

const KMS_STAR_OPS = new Set(['CreateKey', 'ListKeys', 'ListAliases', 'GenerateRandom', 'ListRetirableGrants', 'CreateCustomKeyStore', 'DescribeCustomKeyStores']);

/** KMS: the key named by KeyId (id, key ARN, alias name or alias ARN); ReEncrypt needs From and To. */
const kms: Mapper = (op, input, arns) => {
  if (op === 'ReEncrypt') {
    const source = optional(input, 'SourceKeyId');
    return [
      { action: 'kms:ReEncryptFrom', resource: source ? keyArn(source, arns) : '*' },
      { action: 'kms:ReEncryptTo', resource: keyArn(required(op, input, 'DestinationKeyId'), arns) },
    ];
  }
  if (KMS_STAR_OPS.has(op)) return [{ action: `kms:${op}`, resource: '*' }];
  if (op === 'CreateAlias' || op === 'UpdateAlias' || op === 'DeleteAlias') {
    const alias = required(op, input, 'AliasName');
    const aliasArn = alias.startsWith('arn:') ? alias : `arn:${arns.partition}:kms:${arns.region}:${arns.accountId}:${alias}`;
    const target = optional(input, 'TargetKeyId');
    return [{ action: `kms:${op}`, resource: aliasArn }, ...(target ? [{ action: `kms:${op}`, resource: keyArn(target, arns) }] : [])];
  }
  const keyId = optional(input, 'KeyId');
  // Decrypt of a symmetric ciphertext may omit KeyId (the key is in the blob): judged on `*`, failing closed.
  return [{ action: `kms:${op}`, resource: keyId ? keyArn(keyId, arns) : '*' }];
};

/**
 * API Gateway: execute-api:Invoke on `arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path>` (C6).
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-invoke-api.html
 */
const executeApi: Mapper = (op, input, arns) => {
  if (op !== 'Invoke') return fallback('execute-api', op);
  const apiId = required(op, input, 'apiId');
  const stage = required(op, input, 'stage');
  const method = required(op, input, 'method').toUpperCase();
  const path = required(op, input, 'path').replace(/^\/+/, '');
  return [{ action: 'execute-api:Invoke', resource: `arn:${arns.partition}:execute-api:${arns.region}:${arns.accountId}:${apiId}/${stage}/${method}/${path}` }];
};

const MAPPERS: Readonly<Record<AuthorizedService, Mapper>> = {
  dynamodb,
  'dynamodb-streams': dynamodbStreams,
  sqs,
  kms,
  secretsmanager,
  'execute-api': executeApi,
};

/**
 * The IAM authorizations one API call needs (C1): IAM action names as AWS authorizes them, one per resource —
 * BatchGetItem per table, TransactWriteItems per item action, Query on an index ARN, stream ARNs, SQS batch calls
 * as their single-message action, GetQueueUrl on the queue's ARN, ListQueues on `*`. An operation nothing here
 * knows is authorized as `<service>:<Operation>` on `*`, so it is judged and fails closed unless granted.
 *
 * @param operation - the operation name, bare (`PutItem`) or as its X-Amz-Target (`DynamoDB_20120810.PutItem`).
 * @param input - the parsed JSON body, or the query protocol's form fields (object or URLSearchParams).
 * @throws RequestMappingError when the input lacks what the authorization needs (e.g. SendMessage without QueueUrl).
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html
 */
export function requiredAuthorizations(
  service: AuthorizedService,
  operation: string,
  input: unknown,
  arns: ArnContext & ArnLookups,
): RequiredAuthorization[] {
  const op = operation.slice(operation.lastIndexOf('.') + 1);
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(op)) {
    throw new RequestMappingError(operation, 'operation', `${JSON.stringify(operation)} is not an operation name`);
  }
  const mapper = (MAPPERS as Record<string, Mapper | undefined>)[service];
  if (!mapper) return fallback(service, op);
  return mapper(op, record(input), arns);
}
