import path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { HandlerFunction } from '../../lib/constructs/handler-function.js';
import { ENV } from '../../lambdas/shared/env.js';
import { deriveHandlerCalls, type HandlerCalls, type SdkCall } from './handler-calls.js';
import { iamActionsOf } from './iam-actions.js';
import { KMS_ACTIONS as SQS_KMS_ACTIONS } from '../../local/gateway/sqs-service.js';

/**
 * The least-privilege check: what each function's role must be granted, derived from the template and the
 * handler's code, against what the template grants.
 *
 * Expected permissions of a function, each with the reason it is needed:
 * - every SDK command its code constructs ({@link deriveHandlerCalls}), as the IAM actions AWS authorizes for it
 *   (C1), on the resources its environment names (a `Ref` to a resource of the template, or `Ref`s inside a value,
 *   as in a route table built with Fn::Join):
 *   - a DynamoDB command of Powertools idempotency's persistence layer on the table in `IDEMPOTENCY_TABLE_NAME` (the
 *     handler passes that name to it), every other DynamoDB command on every other table named in its environment;
 *   - an SQS command that acts on a received message by its receipt handle (ChangeMessageVisibility, DeleteMessage
 *     and their batches) on the queue the message came from: a queue its mappings receive from, or one its own code
 *     receives from (ReceiveMessage: every queue named in its environment); the queue's URL must be in the
 *     environment, or the code could not name it;
 *   - any other SQS command (a send) on every queue named in its environment that its mappings do not receive from
 *     (a consumer does not send to its own source; the source's URL is there for the receipt-handle commands), or on
 *     all of them when that leaves none;
 *   - a Secrets Manager command on every secret named in its environment (an ARN, `Ref` of the secret);
 * - what its event source mappings need (C5): SQS → ReceiveMessage, DeleteMessage, GetQueueAttributes on the queue;
 *   a DynamoDB stream → DescribeStream, GetRecords, GetShardIterator on the stream and ListStreams on `*`; an
 *   on-failure destination → SendMessage on it;
 * - a customer-managed key of each of those resources (C4): what the local gateway asks of an SQS operation
 *   (`KMS_ACTIONS` of local/gateway/sqs-service.ts: a sender kms:GenerateDataKey + kms:Decrypt, a receiver
 *   kms:Decrypt, nothing for a receipt-handle command); a DynamoDB table or stream reader kms:Decrypt +
 *   kms:DescribeKey and a writer also kms:Encrypt + kms:GenerateDataKey (CDK's own read and write key grants,
 *   without their wildcards); a reader of a secret kms:Decrypt (Secrets Manager decrypts with it on the caller's
 *   behalf, as local/gateway/secrets-manager-service.ts checks);
 * - its own log group: logs:CreateLogStream and logs:PutLogEvents (the runtime writes its logs).
 */

/** DynamoDB actions that only read a table. */
const TABLE_READ_ACTIONS = new Set(['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:ConditionCheckItem']);
/** A reader of a CMK-encrypted table or stream: what CDK's read grants give (aws-dynamodb perms KEY_READ_ACTIONS). */
const KEY_READ = ['kms:Decrypt', 'kms:DescribeKey'];
/** A writer also: CDK's KEY_WRITE_ACTIONS without their wildcards (kms:ReEncrypt* is for key rotation by DynamoDB). */
const KEY_WRITE = ['kms:Encrypt', 'kms:GenerateDataKey'];
/** SQS operations that act on a received message by its receipt handle: on the queue it was received from. */
const RECEIPT_HANDLE_OPERATIONS = new Set(['ChangeMessageVisibility', 'ChangeMessageVisibilityBatch', 'DeleteMessage', 'DeleteMessageBatch']);
/** Secrets Manager operations that decrypt the secret's value with its key on the caller's behalf. */
const SECRET_READ_OPERATIONS = new Set(['GetSecretValue', 'BatchGetSecretValue']);

/** A resource as the template names it: `LogicalId.Attribute` for Fn::GetAtt, `*`, or the JSON of anything else. */
export type ResourceKey = string;
/** `action resource`, e.g. `dynamodb:PutItem LedgerTable1234.Arn`. */
export type Permission = string;

type Resources = Record<string, { Type: string; Properties?: any }>;

/** The key of one resource entry of a policy statement. */
export function resourceKey(resource: unknown): ResourceKey | undefined {
  if (typeof resource === 'string') return resource;
  const r = resource as Record<string, any>;
  if (r?.['Fn::GetAtt']) return `${r['Fn::GetAtt'][0]}.${r['Fn::GetAtt'][1]}`;
  if (r?.Ref === 'AWS::NoValue') return undefined;
  if (r?.Ref) return `${r.Ref}.Ref`;
  // An ARN built from a resource's name (`arn:…:log-group:` + Ref): the resource's ARN plus what follows the Ref.
  const parts = r?.['Fn::Join']?.[0] === '' ? (r['Fn::Join'][1] as unknown[]) : undefined;
  const refs = parts?.flatMap((p, i) => {
    const ref = (p as { Ref?: string })?.Ref;
    return ref && !ref.startsWith('AWS::') ? [i] : [];
  });
  if (parts && refs?.length === 1 && parts.slice(refs[0] + 1).every((p) => typeof p === 'string')) {
    return `${(parts[refs[0]] as { Ref: string }).Ref}.Arn${parts.slice(refs[0] + 1).join('')}`;
  }
  return JSON.stringify(resource);
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Allowed permissions per role logical id, from AWS::IAM::Policy resources and inline role policies. */
export function grantedPermissions(resources: Resources): Map<string, Set<Permission>> {
  const granted = new Map<string, Set<Permission>>();
  const add = (role: string, statement: any) => {
    if (statement.Effect !== 'Allow') return;
    const set = granted.get(role) ?? new Set<Permission>();
    for (const action of asArray<string>(statement.Action)) {
      for (const resource of asArray(statement.Resource)) {
        const key = resourceKey(resource);
        if (key) set.add(`${action} ${key}`);
      }
    }
    granted.set(role, set);
  };
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type === 'AWS::IAM::Policy') {
      for (const role of asArray<any>(resource.Properties.Roles)) {
        for (const statement of asArray(resource.Properties.PolicyDocument.Statement)) add(role.Ref, statement);
      }
    }
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of asArray<any>(resource.Properties.Policies)) {
        for (const statement of asArray(policy.PolicyDocument.Statement)) add(id, statement);
      }
    }
  }
  return granted;
}

/** One function of a stack: its role, entry, environment and mappings as the template holds them. */
export interface FunctionUnderTest {
  readonly path: string;
  readonly roleId: string;
  readonly functionId: string;
  readonly entry: string;
  readonly environment: Record<string, unknown>;
}

/** A HandlerFunction, also one loaded from another copy of the project (a scaffolded consumer's test project). */
function isHandlerFunction(c: unknown): c is HandlerFunction {
  if (c instanceof HandlerFunction) return true;
  const h = c as Partial<HandlerFunction>;
  return c?.constructor?.name === 'HandlerFunction' && typeof h.entry === 'string' && h.role !== undefined && h.function !== undefined;
}

/** Every {@link HandlerFunction} of a stack. */
export function functionsOf(stack: Stack, resources: Resources): FunctionUnderTest[] {
  return stack.node
    .findAll()
    .filter(isHandlerFunction)
    .map((h) => {
      const functionId = stack.getLogicalId(h.function.node.defaultChild as any);
      return {
        path: h.node.path,
        roleId: stack.getLogicalId(h.role.node.defaultChild as any),
        functionId,
        entry: h.entry,
        environment: resources[functionId].Properties.Environment?.Variables ?? {},
      };
    });
}

/**
 * The ledger handler loads one strategy module, named by `LEDGER_STRATEGY`, with a literal dynamic import per
 * strategy: only the configured one is part of the deployment.
 */
function strategySelector(environment: Record<string, unknown>) {
  const strategy = typeof environment[ENV.LEDGER_STRATEGY] === 'string' ? (environment[ENV.LEDGER_STRATEGY] as string) : 'atomic';
  return (specifier: string, importer: string) =>
    !importer.includes(`${path.sep}strategies${path.sep}`) || path.basename(specifier, '.js') === strategy;
}

const callsCache = new Map<string, Promise<HandlerCalls>>();

/** The calls of one function's code (bundled once per entry and strategy). */
export function callsOf(fn: FunctionUnderTest): Promise<HandlerCalls> {
  const strategy = String(fn.environment[ENV.LEDGER_STRATEGY] ?? '');
  const key = `${fn.entry}#${strategy}`;
  let calls = callsCache.get(key);
  if (!calls) {
    calls = deriveHandlerCalls(fn.entry, { keepDynamicImport: strategySelector(fn.environment) });
    callsCache.set(key, calls);
  }
  return calls;
}

/** The logical id an environment value refers to (`{ Ref: X }`), when it is one. */
function refOf(value: unknown): string | undefined {
  const ref = (value as { Ref?: unknown })?.Ref;
  return typeof ref === 'string' ? ref : undefined;
}

/**
 * Every resource an environment value refers to: a `Ref` itself, or each `Ref` inside it (a route table built with
 * Fn::Join, `[{"queueUrl":"<Ref>"}, …]`, names several queues in one variable). Pseudo parameters are not resources.
 */
function refsIn(value: unknown): string[] {
  const ref = refOf(value);
  if (ref !== undefined) return ref.startsWith('AWS::') ? [] : [ref];
  if (Array.isArray(value)) return [...new Set(value.flatMap(refsIn))];
  if (value !== null && typeof value === 'object') return [...new Set(Object.values(value).flatMap(refsIn))];
  return [];
}

/** The customer-managed key of a table, queue or secret, when it has one. */
function keyOf(resources: Resources, id: string): string | undefined {
  const r = resources[id];
  const key =
    r?.Type === 'AWS::DynamoDB::Table'
      ? r.Properties?.SSESpecification?.KMSMasterKeyId
      : r?.Type === 'AWS::SecretsManager::Secret'
        ? r.Properties?.KmsKeyId
        : r?.Properties?.KmsMasterKeyId;
  return key ? resourceKey(key) : undefined;
}

/** How a policy names a resource an environment variable refers to: a secret by its `Ref` (its ARN), else its ARN. */
function targetKey(target: { id: string; type: string }): ResourceKey {
  return target.type === 'AWS::SecretsManager::Secret' ? `${target.id}.Ref` : `${target.id}.Arn`;
}

/** Expected permissions of one function, each with the reasons it is needed. */
export async function expectedPermissions(fn: FunctionUnderTest, resources: Resources): Promise<Map<Permission, string[]>> {
  const expected = new Map<Permission, string[]>();
  const need = (action: string, resource: ResourceKey, reason: string) => {
    const permission = `${action} ${resource}`;
    expected.set(permission, [...(expected.get(permission) ?? []), reason]);
  };
  const envRefs = Object.entries(fn.environment).flatMap(([name, value]) =>
    refsIn(value).flatMap((id) => (resources[id] ? [{ name, id, type: resources[id].Type }] : [])),
  );
  const tables = envRefs.filter((e) => e.type === 'AWS::DynamoDB::Table');
  const queues = envRefs.filter((e) => e.type === 'AWS::SQS::Queue');
  const secrets = envRefs.filter((e) => e.type === 'AWS::SecretsManager::Secret');
  const mappings = Object.entries(resources).filter(
    ([, r]) => r.Type === 'AWS::Lambda::EventSourceMapping' && refOf(r.Properties.FunctionName) === fn.functionId,
  );
  const calls = await callsOf(fn);
  // Queues whose messages the function holds receipt handles of: its mappings' sources, and any its code receives from.
  const mappedQueueIds = new Set(
    mappings.flatMap(([, r]) => {
      const [sourceId, attribute] = r.Properties.EventSourceArn?.['Fn::GetAtt'] ?? [];
      return attribute === 'Arn' && resources[sourceId]?.Type === 'AWS::SQS::Queue' ? [sourceId as string] : [];
    }),
  );
  const receivesItself = calls.calls.some((c) => c.service === 'sqs' && c.operation === 'ReceiveMessage');
  const receivedFrom = queues.filter((q) => receivesItself || mappedQueueIds.has(q.id));
  const sendTargets = queues.filter((q) => !mappedQueueIds.has(q.id));

  const targetsOf = (call: SdkCall) => {
    if (call.service === 'dynamodb') {
      const powertools = call.module.includes('@aws-lambda-powertools/idempotency/');
      return tables.filter((t) => (t.name === ENV.IDEMPOTENCY_TABLE_NAME) === powertools);
    }
    if (call.service === 'sqs') {
      if (RECEIPT_HANDLE_OPERATIONS.has(call.operation)) return receivedFrom;
      if (call.operation === 'ReceiveMessage') return queues;
      return sendTargets.length > 0 ? sendTargets : queues;
    }
    if (call.service === 'secretsmanager') return secrets;
    return [];
  };
  for (const call of calls.calls) {
    const targets = targetsOf(call);
    if (targets.length === 0 && call.service === 'sqs' && RECEIPT_HANDLE_OPERATIONS.has(call.operation)) {
      throw new Error(
        `${fn.path}: ${call.module} sends sqs:${call.operation} on a received message, but the function's environment ` +
          `names no queue it receives from (${Object.keys(fn.environment).join(', ')}); inject its source queue's URL`,
      );
    }
    if (targets.length === 0) {
      throw new Error(
        `${fn.path}: ${call.module} sends ${call.service}:${call.operation} but the function's environment names no ` +
          `resource for it (${Object.keys(fn.environment).join(', ')}); grant it and inject the variable in one place`,
      );
    }
    for (const target of targets) {
      const reason = `${call.module} sends ${call.operation} to ${target.name}`;
      for (const action of iamActionsOf(call.service, call.operation, calls.transactWriteKinds)) {
        need(action, targetKey(target), reason);
      }
      const key = keyOf(resources, target.id);
      if (!key) continue;
      if (call.service === 'sqs') {
        for (const action of SQS_KMS_ACTIONS[call.operation.replace(/Batch$/, '')] ?? []) {
          need(action, key, `${reason} (CMK-encrypted queue, C4)`);
        }
      } else if (call.service === 'secretsmanager') {
        if (SECRET_READ_OPERATIONS.has(call.operation)) need('kms:Decrypt', key, `${reason} (CMK-encrypted secret, C4)`);
      } else {
        const writes = iamActionsOf(call.service, call.operation, calls.transactWriteKinds).some((a) => !TABLE_READ_ACTIONS.has(a));
        for (const action of writes ? [...KEY_READ, ...KEY_WRITE] : KEY_READ) need(action, key, `${reason} (CMK-encrypted table)`);
      }
    }
  }

  // Event source mappings (C5) and their keys (C4).
  for (const [id, resource] of mappings) {
    const source = resource.Properties.EventSourceArn;
    const [sourceId, attribute] = source['Fn::GetAtt'];
    const reason = `event source mapping ${id}`;
    if (attribute === 'StreamArn') {
      for (const action of ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator']) {
        need(action, `${sourceId}.StreamArn`, reason);
      }
      need('dynamodb:ListStreams', '*', reason);
    } else {
      for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']) need(action, `${sourceId}.Arn`, reason);
    }
    const key = keyOf(resources, sourceId);
    for (const action of key ? (attribute === 'StreamArn' ? KEY_READ : ['kms:Decrypt']) : []) {
      need(action, key!, `${reason} reads a CMK-encrypted source (C4)`);
    }
    const destination = resource.Properties.DestinationConfig?.OnFailure?.Destination;
    if (destination) {
      const destinationId = destination['Fn::GetAtt'][0];
      need('sqs:SendMessage', `${destinationId}.Arn`, `${reason} on-failure destination`);
      const destinationKey = keyOf(resources, destinationId);
      if (destinationKey) {
        need('kms:GenerateDataKey', destinationKey, `${reason} on-failure destination is CMK-encrypted (C4)`);
        need('kms:Decrypt', destinationKey, `${reason} on-failure destination is CMK-encrypted (C4)`);
      }
    }
  }

  const logGroup = resources[fn.functionId].Properties.LoggingConfig?.LogGroup;
  if (logGroup) {
    for (const action of ['logs:CreateLogStream', 'logs:PutLogEvents']) need(action, `${refOf(logGroup)}.Arn`, 'the runtime writes the function log');
  }
  return expected;
}

/** The difference between what a role needs and what it has. */
export interface GrantDifference {
  readonly missing: Permission[];
  readonly excess: Permission[];
}

/** Compares expected with granted permissions. */
export function compareGrants(expected: ReadonlyMap<Permission, unknown>, granted: ReadonlySet<Permission>): GrantDifference {
  return {
    missing: [...expected.keys()].filter((p) => !granted.has(p)).sort(),
    excess: [...granted].filter((p) => !expected.has(p)).sort(),
  };
}
