import { randomUUID } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueUrlCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/emulators.js';
import { startLocalGateway, type LocalGateway } from '../../../local/gateway/local-gateway.js';
import type { GatewayCall } from '../../../local/gateway/types.js';
import { PrincipalRegistry, type LocalPrincipal } from '../../../local/iam/principals.js';
import { TemplatePolicies } from '../../../local/iam/template-policies.js';
import { rawPost } from '../../support/raw-post.js';

// A gateway in front of the shared emulators, with one function principal whose role may only PutItem on one table
// and SendMessage to one queue; the local caller is admin.
const account = '000000000000';
const tableName = `gw-${randomUUID()}`;
const queueName = `gw-${randomUUID()}`;
const tableArn = `arn:aws:dynamodb:us-east-1:${account}:table/${tableName}`;
const queueArn = `arn:aws:sqs:us-east-1:${account}:${queueName}`;
const roleArn = `arn:aws:iam::${account}:role/WriterRole`;
let gateway: LocalGateway;
let writer: LocalPrincipal;
let queueUrl: string;
const calls: GatewayCall[] = [];
const clients: { destroy(): void }[] = [];

const asWriter = () => ({ accessKeyId: writer.accessKeyId, secretAccessKey: writer.secretAccessKey! });
function ddb(credentials: { accessKeyId: string; secretAccessKey: string } = LOCAL_CREDENTIALS): DynamoDBClient {
  const client = new DynamoDBClient({ endpoint: gateway.url, region: LOCAL_REGION, credentials, maxAttempts: 1 });
  clients.push(client);
  return client;
}
function sqs(credentials: { accessKeyId: string; secretAccessKey: string } = LOCAL_CREDENTIALS): SQSClient {
  const client = new SQSClient({ endpoint: gateway.url, region: LOCAL_REGION, credentials, maxAttempts: 1 });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  const principals = new PrincipalRegistry({ accountId: account, partition: 'aws', callerCredentials: LOCAL_CREDENTIALS });
  const policies = new TemplatePolicies();
  writer = principals.addFunction({
    functionName: 'writer',
    functionArn: `arn:aws:lambda:us-east-1:${account}:function:writer`,
    roleArn,
    policies: [
      {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: tableArn },
          { Effect: 'Allow', Action: ['sqs:SendMessage', 'sqs:GetQueueUrl'], Resource: queueArn },
        ],
      },
    ],
  });
  gateway = await startLocalGateway({
    port: 0,
    enforce: true,
    principals,
    policies,
    dynamodbEndpoint: inject('ddbEndpoint'),
    sqsEndpoint: inject('sqsEndpoint'),
    region: 'us-east-1',
    accountId: account,
    partition: 'aws',
  });
  gateway.gateway.onCall((call) => calls.push(call));
  await ddb().send(
    new CreateTableCommand({ TableName: tableName, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }),
  );
  queueUrl = (await sqs().send(new CreateQueueCommand({ QueueName: queueName }))).QueueUrl!;
});

afterAll(async () => {
  await ddb().send(new DeleteTableCommand({ TableName: tableName })).catch(() => {});
  await sqs().send(new DeleteQueueCommand({ QueueUrl: queueUrl })).catch(() => {});
  clients.forEach((client) => client.destroy());
  await gateway?.close();
});

describe('authentication (SigV4 verified with the key the runtime issued)', () => {
  it('answers queue URLs on the gateway origin, so every client uses one endpoint', () => {
    expect(queueUrl).toBe(`${gateway.url}/${account}/${queueName}`);
  });

  it('rejects an unsigned DynamoDB request with MissingAuthenticationTokenException', async () => {
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'x-amz-target': 'DynamoDB_20120810.ListTables', 'content-type': 'application/x-amz-json-1.0' },
      body: '{}',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ __type: 'com.amazon.coral.service#MissingAuthenticationTokenException', message: 'Request is missing Authentication Token' });
  });

  it('rejects a wrong secret with InvalidSignatureException (DynamoDB) and SignatureDoesNotMatch (SQS)', async () => {
    const wrong = { accessKeyId: writer.accessKeyId, secretAccessKey: 'not-the-secret' };
    const ddbError = await ddb(wrong).send(new PutItemCommand({ TableName: tableName, Item: { pk: { S: 'x' } } })).catch((e: Error) => e);
    expect(ddbError).toMatchObject({ name: 'InvalidSignatureException', message: expect.stringMatching(/^The request signature we calculated does not match/) });
    const sqsError = await sqs(wrong).send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x' })).catch((e: Error & { $metadata?: { httpStatusCode?: number } }) => e);
    expect(sqsError).toMatchObject({ name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } });
  });

  it('rejects an access key the runtime never issued with UnrecognizedClientException', async () => {
    const error = await ddb({ accessKeyId: 'LKIA0000000000000000', secretAccessKey: 'x' })
      .send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: 'x' } } }))
      .catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' });
  });

  it('treats any other key as the local caller, unchecked (LocalStack-style `test` credentials work)', async () => {
    const result = await ddb({ accessKeyId: 'test', secretAccessKey: 'test' }).send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: 'x' } } }));
    expect(result.$metadata.httpStatusCode).toBe(200);
  });
});

describe('authorization (C1, C2) with AWS denial shapes', () => {
  it('forwards an allowed call and reports it to onCall with principal, action, resource and decision', async () => {
    calls.length = 0;
    await ddb(asWriter()).send(new PutItemCommand({ TableName: tableName, Item: { pk: { S: 'w' } } }));
    expect(calls.at(-1)).toMatchObject({
      principal: roleArn,
      principalKind: 'function',
      service: 'dynamodb',
      operation: 'PutItem',
      actions: ['dynamodb:PutItem'],
      resources: [tableArn],
      decision: 'Allow',
      status: 200,
    });
    expect(calls.at(-1)!.durationMs).toBeGreaterThan(0);
  });

  it('fails a call the role is not granted with DynamoDB AccessDeniedException in AWS wording', async () => {
    const error = await ddb(asWriter())
      .send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: 'w' } } }))
      .catch((e: Error & { $metadata?: { httpStatusCode?: number } }) => e);
    expect(error).toMatchObject({
      name: 'AccessDeniedException',
      message: `User: arn:aws:sts::${account}:assumed-role/WriterRole/writer is not authorized to perform: dynamodb:GetItem on resource: ${tableArn} because no identity-based policy allows the dynamodb:GetItem action`,
      $metadata: { httpStatusCode: 400 },
    });
    expect(calls.at(-1)).toMatchObject({ decision: 'Deny', operation: 'GetItem', status: 400 });
  });

  it('fails an SQS call outside the grant with AccessDenied (403, lower-case action as SQS prints it)', async () => {
    const other = (await sqs().send(new CreateQueueCommand({ QueueName: `${queueName}-other` }))).QueueUrl!;
    try {
      const error = await sqs(asWriter())
        .send(new SendMessageCommand({ QueueUrl: other, MessageBody: 'x' }))
        .catch((e: Error & { $metadata?: { httpStatusCode?: number } }) => e);
      expect(error).toMatchObject({
        name: 'AccessDenied',
        message: `User: arn:aws:sts::${account}:assumed-role/WriterRole/writer is not authorized to perform: sqs:sendmessage on resource: ${queueArn}-other because no identity-based policy allows the sqs:sendmessage action`,
        $metadata: { httpStatusCode: 403 },
      });
    } finally {
      await sqs().send(new DeleteQueueCommand({ QueueUrl: other }));
    }
  });

  it('serves the SQS query protocol (AWS CLI v1) and answers its denial in XML', async () => {
    const sign = async (credentials: { accessKeyId: string; secretAccessKey: string }, body: string) => {
      const url = new URL(gateway.url);
      const signer = new SignatureV4({ service: 'sqs', region: LOCAL_REGION, credentials, sha256: Sha256 });
      const signed = await signer.sign({
        method: 'POST',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: '/',
        headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      return rawPost(`${gateway.url}/`, signed.headers, body);
    };
    const allowed = await sign(asWriter(), `Action=GetQueueUrl&QueueName=${queueName}&Version=2012-11-05`);
    expect(allowed).toMatchObject({ status: 200, text: expect.stringContaining(`<QueueUrl>${gateway.url}/${account}/${queueName}</QueueUrl>`) });
    const denied = await sign(asWriter(), `Action=GetQueueAttributes&QueueUrl=${encodeURIComponent(queueUrl)}&AttributeName.1=All&Version=2012-11-05`);
    expect(denied.status).toBe(403);
    expect(denied.text).toMatch(/<Code>AccessDenied<\/Code><Message>User: .* is not authorized to perform: sqs:getqueueattributes on resource/);
  });

  it('lets the admin local caller do anything and a function only what its role allows (GetQueueUrl by name)', async () => {
    const { QueueUrl } = await sqs(asWriter()).send(new GetQueueUrlCommand({ QueueName: queueName }));
    expect(QueueUrl).toBe(queueUrl);
  });
});

describe('what AWS refuses and fauxqs accepts', () => {
  it('rejects MessageDeduplicationId on a standard queue with InvalidParameterValue', async () => {
    const error = await sqs().send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x', MessageDeduplicationId: 'd' })).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'InvalidParameterValue', message: expect.stringMatching(/not valid for this queue type/) });
  });

  it('rejects a SendMessageBatch over 1 MiB in total with BatchRequestTooLong', async () => {
    const body = 'x'.repeat(300_000);
    const entries = [1, 2, 3, 4].map((i) => ({ Id: `m${i}`, MessageBody: body }));
    const error = await sqs().send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries })).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'BatchRequestTooLong', message: 'Batch requests cannot be longer than 1048576 bytes. You have sent 1200000 bytes.' });
  });
});
