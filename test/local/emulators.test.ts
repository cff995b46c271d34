import { CreateTableCommand, DynamoDBClient, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, SQSClient, SendMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, inject, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.js';

describe('emulators started by the global setup', () => {
  it('serves DynamoDB Local with streams enabled on a new table', async () => {
    const ddb = new DynamoDBClient({ endpoint: inject('ddbEndpoint'), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const name = `smoke-${Date.now()}`;
    await ddb.send(new CreateTableCommand({
      TableName: name, BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
    }));
    const described = await ddb.send(new DescribeTableCommand({ TableName: name }));
    expect(described.Table?.LatestStreamArn).toMatch(/^arn:aws:dynamodb:/);
  });

  it('serves fauxqs with FIFO dedup', async () => {
    const sqs = new SQSClient({ endpoint: inject('sqsEndpoint'), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `smoke-${Date.now()}.fifo`, Attributes: { FifoQueue: 'true' } }));
    for (let i = 0; i < 2; i++) {
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x', MessageGroupId: 'g', MessageDeduplicationId: 'same' }));
    }
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    expect(received.Messages).toHaveLength(1);
  });
});
