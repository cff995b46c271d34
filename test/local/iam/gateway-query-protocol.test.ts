import { describe, expect, it } from 'vitest';
import { jsonErrorToQueryXml, jsonToQueryXml, queryToJson } from '../../../local/gateway/sqs-query-protocol.js';

// The SQS query protocol (AWS CLI v1) ↔ the JSON protocol fauxqs serves.
describe('queryToJson', () => {
  it('turns flattened batch entries with message attributes into the JSON input', () => {
    const params = new URLSearchParams({
      Action: 'SendMessageBatch',
      QueueUrl: 'http://127.0.0.1:4566/000000000000/q',
      'SendMessageBatchRequestEntry.1.Id': 'a',
      'SendMessageBatchRequestEntry.1.MessageBody': 'one',
      'SendMessageBatchRequestEntry.1.DelaySeconds': '5',
      'SendMessageBatchRequestEntry.1.MessageAttribute.1.Name': 'kind',
      'SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType': 'String',
      'SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue': 'x',
      'SendMessageBatchRequestEntry.2.Id': 'b',
      'SendMessageBatchRequestEntry.2.MessageBody': 'two',
      Version: '2012-11-05',
    });
    expect(queryToJson('SendMessageBatch', params)).toEqual({
      QueueUrl: 'http://127.0.0.1:4566/000000000000/q',
      Entries: [
        { Id: 'a', MessageBody: 'one', DelaySeconds: 5, MessageAttributes: { kind: { DataType: 'String', StringValue: 'x' } } },
        { Id: 'b', MessageBody: 'two' },
      ],
    });
  });

  it('turns AttributeName.N into a list and Attribute.N.Name/Value and Tag.N into maps', () => {
    const params = new URLSearchParams({
      Action: 'CreateQueue',
      QueueName: 'q.fifo',
      'Attribute.1.Name': 'FifoQueue',
      'Attribute.1.Value': 'true',
      'Tag.1.Key': 'team',
      'Tag.1.Value': 'payments',
      'AttributeName.1': 'All',
    });
    expect(queryToJson('CreateQueue', params)).toEqual({ QueueName: 'q.fifo', Attributes: { FifoQueue: 'true' }, tags: { team: 'payments' }, AttributeNames: ['All'] });
  });
});

describe('jsonToQueryXml / jsonErrorToQueryXml', () => {
  it('renders ReceiveMessage with its attributes and message attributes as the query protocol does', () => {
    const xml = jsonToQueryXml(
      'ReceiveMessage',
      { Messages: [{ MessageId: 'm1', ReceiptHandle: 'r&1', Body: '<b>', Attributes: { SentTimestamp: '1' }, MessageAttributes: { kind: { StringValue: 'x', DataType: 'String' } } }] },
      'req-1',
    );
    expect(xml).toContain(
      '<ReceiveMessageResult><Message><MessageId>m1</MessageId><ReceiptHandle>r&amp;1</ReceiptHandle><Body>&lt;b&gt;</Body><Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute><MessageAttribute><Name>kind</Name><Value><StringValue>x</StringValue><DataType>String</DataType></Value></MessageAttribute></Message></ReceiveMessageResult>',
    );
    expect(xml).toContain('<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></ReceiveMessageResponse>');
  });

  it('renders batch results and queue URL lists with their member names', () => {
    expect(jsonToQueryXml('SendMessageBatch', { Successful: [{ Id: 'a', MessageId: 'm' }], Failed: [] }, 'r')).toContain(
      '<SendMessageBatchResult><SendMessageBatchResultEntry><Id>a</Id><MessageId>m</MessageId></SendMessageBatchResultEntry></SendMessageBatchResult>',
    );
    expect(jsonToQueryXml('ListQueues', { QueueUrls: ['u1', 'u2'] }, 'r')).toContain('<ListQueuesResult><QueueUrl>u1</QueueUrl><QueueUrl>u2</QueueUrl></ListQueuesResult>');
    expect(jsonToQueryXml('DeleteMessage', {}, 'r')).toBe(
      '<?xml version="1.0"?><DeleteMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteMessageResponse>',
    );
  });

  it('renders an error with the query code from x-amzn-query-error, else the JSON __type', () => {
    expect(jsonErrorToQueryXml({ __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'no queue' }, 'AWS.SimpleQueueService.NonExistentQueue;Sender', 'r')).toContain(
      '<Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>no queue</Message><Detail/></Error>',
    );
    expect(jsonErrorToQueryXml({ __type: 'com.amazonaws.sqs#InvalidParameterValue', message: 'bad' }, undefined, 'r')).toContain('<Code>InvalidParameterValue</Code>');
  });
});
