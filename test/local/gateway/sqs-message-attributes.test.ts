import { randomUUID } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  type MessageAttributeValue,
  type MessageSystemAttributeValue,
} from '@aws-sdk/client-sqs';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/emulators.js';
import { startLocalGateway, type LocalGateway } from '../../../local/gateway/local-gateway.js';
import { PrincipalRegistry, type LocalPrincipal } from '../../../local/iam/principals.js';
import { TemplatePolicies } from '../../../local/iam/template-policies.js';
import { rawPost } from '../../support/raw-post.js';

/*
 * The edge gateway holds every SendMessage / SendMessageBatch to SQS's message-attribute rules, which fauxqs does not
 * check (issue 11 #8: a relay mutant that empties DataType survived because fauxqs accepted it). A function principal
 * under IAM calls through the gateway with a signed SDK client, as a deployed consumer would call SQS.
 *
 * Rules and error texts:
 * - https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html
 *   (at most 10 attributes; name characters, 256 characters, no AWS./Amazon. prefix in any case, no leading, trailing
 *   or successive periods; DataType String, Number or Binary with an optional custom label; Number: 38 digits,
 *   10^-128 to 10^+126)
 * - https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_MessageAttributeValue.html
 *   (DataType required; name, type and value must not be empty)
 * - https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html and
 *   API_BatchResultErrorEntry.html: an entry SQS refuses is reported in `Failed` (Code, SenderFault) while the call
 *   succeeds — as real SQS answers for a bad attribute in a batch entry (boto/boto#3348, Code InvalidParameterValue,
 *   sender_fault true) and for a parameter not valid for the queue type (aws/aws-sdk-js#3187).
 */

const account = '000000000000';
const queueName = `attrs-${randomUUID()}`;
const queueArn = `arn:aws:sqs:us-east-1:${account}:${queueName}`;
let gateway: LocalGateway;
let consumer: LocalPrincipal;
let queueUrl: string;
const clients: SQSClient[] = [];

function sqs(credentials: { accessKeyId: string; secretAccessKey: string }): SQSClient {
  const client = new SQSClient({ endpoint: gateway.url, region: LOCAL_REGION, credentials, maxAttempts: 1 });
  clients.push(client);
  return client;
}
const asConsumer = () => sqs({ accessKeyId: consumer.accessKeyId, secretAccessKey: consumer.secretAccessKey! });

beforeAll(async () => {
  const principals = new PrincipalRegistry({ accountId: account, partition: 'aws', callerCredentials: LOCAL_CREDENTIALS });
  consumer = principals.addFunction({
    functionName: 'consumer',
    functionArn: `arn:aws:lambda:us-east-1:${account}:function:consumer`,
    roleArn: `arn:aws:iam::${account}:role/ConsumerRole`,
    policies: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['sqs:SendMessage', 'sqs:ReceiveMessage'], Resource: queueArn }] }],
  });
  gateway = await startLocalGateway({
    port: 0,
    enforce: true,
    principals,
    policies: new TemplatePolicies(),
    dynamodbEndpoint: inject('ddbEndpoint'),
    sqsEndpoint: inject('sqsEndpoint'),
    region: 'us-east-1',
    accountId: account,
    partition: 'aws',
  });
  queueUrl = (await sqs(LOCAL_CREDENTIALS).send(new CreateQueueCommand({ QueueName: queueName }))).QueueUrl!;
});

afterAll(async () => {
  await sqs(LOCAL_CREDENTIALS).send(new DeleteQueueCommand({ QueueUrl: queueUrl })).catch(() => {});
  clients.forEach((client) => client.destroy());
  await gateway?.close();
});

/** Every message on the queue now (bodies), consumed. */
async function drain(): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const { Messages = [] } = await asConsumer().send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60, MessageAttributeNames: ['All'] }));
    if (Messages.length === 0) return bodies;
    bodies.push(...Messages.map((m) => m.Body!));
  }
}

const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`a${i}`, { DataType: 'String', StringValue: 'x' }]));

describe('SendMessage: message attributes SQS refuses fail with its error, nothing is enqueued', () => {
  it.each<[string, Record<string, MessageAttributeValue>, RegExp]>([
    ['an empty DataType', { eventType: { DataType: '', StringValue: 'PaymentApplied' } }, /'eventType' must contain non-empty message attribute type/],
    ['an unknown DataType', { eventType: { DataType: 'Text', StringValue: 'x' } }, /type of message \(user\) attribute 'eventType' is invalid \('Text'\)/],
    ['a DataType with an empty label', { n: { DataType: 'Number.', StringValue: '1' } }, /type of message \(user\) attribute 'n' is invalid/],
    ['a DataType longer than 256 characters', { n: { DataType: `Number.${'L'.repeat(250)}`, StringValue: '1' } }, /DataType of 257 characters; the limit is 256/],
    ['a name with a space', { 'event type': { DataType: 'String', StringValue: 'x' } }, /attribute name 'event type' can only contain/],
    ['a name starting with AWS. (any case)', { 'aWs.trace': { DataType: 'String', StringValue: 'x' } }, /reserved for internal use/],
    ['a name starting with Amazon.', { 'AMAZON.x': { DataType: 'String', StringValue: 'x' } }, /reserved for internal use/],
    ['a name ending with a period', { 'kind.': { DataType: 'String', StringValue: 'x' } }, /cannot start or end with '\.'/],
    ['a name with successive periods', { 'a..b': { DataType: 'String', StringValue: 'x' } }, /'a\.\.b' must not have successive '\.' characters/],
    ['a name of 257 characters', { ['n'.repeat(257)]: { DataType: 'String', StringValue: 'x' } }, /is 257 characters long; the limit is 256/],
    ['11 attributes', eleven, /^Number of message attributes \[11\] exceeds the allowed maximum \[10\]\.$/],
    ['an empty String value', { eventType: { DataType: 'String', StringValue: '' } }, /^Message \(user\) attribute 'eventType' must contain a non-empty value of type 'String'\.$/],
    ['a String value with a control character', { note: { DataType: 'String', StringValue: 'a\u0008b' } }, /'note' value contains invalid characters/],
    ['a non-numeric Number', { amount: { DataType: 'Number', StringValue: 'abc' } }, /^Can't cast the value of message \(user\) attribute 'amount' to a number\.$/],
    ['a Number above 10^+126', { amount: { DataType: 'Number', StringValue: '2e126' } }, /between 10\^-128 and 10\^\+126/],
    ['a Number below 10^-128', { amount: { DataType: 'Number', StringValue: '0.5e-128' } }, /between 10\^-128 and 10\^\+126/],
    ['a Number of 39 significant digits', { amount: { DataType: 'Number', StringValue: '1'.repeat(39) } }, /up to 38 significant digits/],
    ['a Binary attribute without a value', { blob: { DataType: 'Binary', StringValue: 'x' } }, /'blob' must contain a non-empty value of type 'Binary'/],
  ])('rejects %s with InvalidParameterValue', async (_case, attributes, message) => {
    const error = await asConsumer()
      .send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'refused', MessageAttributes: attributes }))
      .catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'InvalidParameterValue', message: expect.stringMatching(message) });
    expect((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(400);
    expect(await drain()).toEqual([]);
  });

  it('rejects list values with UnsupportedOperation (not implemented by SQS)', async () => {
    const error = await asConsumer()
      .send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'refused', MessageAttributes: { tags: { DataType: 'String', StringValue: 'a', StringListValues: ['a'] } } }))
      .catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'UnsupportedOperation', message: expect.stringMatching(/list values .* are not supported/) });
  });

  it.each<[string, Record<string, MessageSystemAttributeValue>, RegExp]>([
    ['a system attribute other than AWSTraceHeader', { AWSXRayTrace: { DataType: 'String', StringValue: 'Root=1-5759e988-bd862e3fe1be46a994272793' } }, /only supported message system attribute is AWSTraceHeader/],
    ['an AWSTraceHeader that is not a String', { AWSTraceHeader: { DataType: 'Number', StringValue: '1' } }, /must be of type 'String', not 'Number'/],
    ['an empty AWSTraceHeader', { AWSTraceHeader: { DataType: 'String', StringValue: '' } }, /must contain a non-empty value/],
  ])('rejects %s (API_MessageSystemAttributeValue, SendMessage MessageSystemAttributes)', async (_case, systemAttributes, message) => {
    const error = await asConsumer()
      .send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'refused', MessageSystemAttributes: systemAttributes }))
      .catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'InvalidParameterValue', message: expect.stringMatching(message) });
    expect(await drain()).toEqual([]);
  });

  it('accepts an AWSTraceHeader system attribute', async () => {
    const trace = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    await asConsumer().send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'traced', MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: trace } } }));
    expect(await drain()).toEqual(['traced']);
  });

  it('accepts what SQS accepts: 10 attributes, custom labels, the bounds of a Number, Latin letters in a name, Binary', async () => {
    const attributes: Record<string, MessageAttributeValue> = {
      eventType: { DataType: 'String', StringValue: 'PaymentApplied' },
      'amount.cents': { DataType: 'Number.cents', StringValue: '-12.50' },
      max: { DataType: 'Number', StringValue: '1e126' },
      min: { DataType: 'Number', StringValue: '1E-128' },
      digits: { DataType: 'Number', StringValue: '1'.repeat(38) },
      zero: { DataType: 'Number', StringValue: '0.000' },
      'attr.1øßä': { DataType: 'String', StringValue: 'Valida' },
      ['n'.repeat(256)]: { DataType: 'String', StringValue: 'x' },
      'AWSx.not-reserved': { DataType: 'String.json', StringValue: '{"a":1}' },
      blob: { DataType: 'Binary.gz', BinaryValue: new Uint8Array([1, 2, 3]) },
    };
    await asConsumer().send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'accepted', MessageAttributes: attributes }));
    const { Messages = [] } = await asConsumer().send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MessageAttributeNames: ['All'], VisibilityTimeout: 60 }));
    expect(Messages).toHaveLength(1);
    expect(Messages[0]!.MessageAttributes).toMatchObject({ eventType: { DataType: 'String', StringValue: 'PaymentApplied' }, 'amount.cents': { DataType: 'Number.cents', StringValue: '-12.50' } });
    expect(Object.keys(Messages[0]!.MessageAttributes ?? {})).toHaveLength(10);
  });
});

describe('SendMessageBatch: an entry SQS refuses is listed under Failed, the others are sent', () => {
  it('fails the bad entries with their code and SenderFault, sends the good one', async () => {
    const result = await asConsumer().send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          { Id: 'empty-type', MessageBody: 'refused-1', MessageAttributes: { eventType: { DataType: '', StringValue: 'PaymentApplied' } } },
          { Id: 'good', MessageBody: 'sent', MessageAttributes: { eventType: { DataType: 'String', StringValue: 'PaymentApplied' } } },
          { Id: 'eleven', MessageBody: 'refused-2', MessageAttributes: eleven },
          { Id: 'dedup', MessageBody: 'refused-3', MessageDeduplicationId: 'd' },
        ],
      }),
    );
    expect(result.Successful?.map((entry) => entry.Id)).toEqual(['good']);
    expect(result.Failed).toEqual(
      expect.arrayContaining([
        { Id: 'empty-type', SenderFault: true, Code: 'InvalidParameterValue', Message: expect.stringMatching(/'eventType' must contain non-empty message attribute type/) },
        { Id: 'eleven', SenderFault: true, Code: 'InvalidParameterValue', Message: 'Number of message attributes [11] exceeds the allowed maximum [10].' },
        { Id: 'dedup', SenderFault: true, Code: 'InvalidParameterValue', Message: 'The request include parameter that is not valid for this queue type' },
      ]),
    );
    expect(result.Failed).toHaveLength(3);
    expect(await drain()).toEqual(['sent']);
  });

  it('answers HTTP 200 with every entry under Failed when none is valid, and sends nothing', async () => {
    const result = await asConsumer().send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          { Id: 'a', MessageBody: 'refused-a', MessageAttributes: { amount: { DataType: 'Number', StringValue: 'abc' } } },
          { Id: 'b', MessageBody: 'refused-b', MessageAttributes: { 'AWS.x': { DataType: 'String', StringValue: 'x' } } },
        ],
      }),
    );
    expect(result.$metadata.httpStatusCode).toBe(200);
    expect(result.Successful ?? []).toEqual([]);
    expect(result.Failed?.map((entry) => [entry.Id, entry.Code, entry.SenderFault])).toEqual([
      ['a', 'InvalidParameterValue', true],
      ['b', 'InvalidParameterValue', true],
    ]);
    expect(await drain()).toEqual([]);
  });

  it('still fails a malformed batch as a whole (duplicate ids) even when an entry also has a bad attribute', async () => {
    const error = await asConsumer()
      .send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: [
            { Id: 'same', MessageBody: 'one', MessageAttributes: { n: { DataType: '', StringValue: 'x' } } },
            { Id: 'same', MessageBody: 'two' },
          ],
        }),
      )
      .catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'BatchEntryIdsNotDistinct' });
    expect(await drain()).toEqual([]);
  });

  it('answers the query protocol (AWS CLI v1) with the failed entries in XML', async () => {
    const body = new URLSearchParams({
      Action: 'SendMessageBatch',
      Version: '2012-11-05',
      QueueUrl: queueUrl,
      'SendMessageBatchRequestEntry.1.Id': 'bad',
      'SendMessageBatchRequestEntry.1.MessageBody': 'refused',
      'SendMessageBatchRequestEntry.1.MessageAttribute.1.Name': 'kind',
      'SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType': 'Text',
      'SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue': 'x',
      'SendMessageBatchRequestEntry.2.Id': 'ok',
      'SendMessageBatchRequestEntry.2.MessageBody': 'sent-by-cli',
    }).toString();
    const url = new URL(gateway.url);
    const signer = new SignatureV4({ service: 'sqs', region: LOCAL_REGION, credentials: { accessKeyId: consumer.accessKeyId, secretAccessKey: consumer.secretAccessKey! }, sha256: Sha256 });
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    const answer = await rawPost(`${gateway.url}/`, signed.headers, body);
    expect(answer.status).toBe(200);
    expect(answer.text).toMatch(/<SendMessageBatchResultEntry><Id>ok<\/Id>/);
    expect(answer.text).toMatch(/<BatchResultErrorEntry><Id>bad<\/Id><SenderFault>true<\/SenderFault><Code>InvalidParameterValue<\/Code><Message>The type of message \(user\) attribute 'kind' is invalid/);
    expect(await drain()).toEqual(['sent-by-cli']);
  });
});
