import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { withFaults } from './faults.js';

/**
 * AWS SDK clients shared by the handlers: created once per execution environment (module scope, lazily so that tests
 * can set the environment first), with the SDK's default configuration — so the standard `AWS_ENDPOINT_URL_SQS` /
 * `AWS_ENDPOINT_URL_DYNAMODB` variables redirect them to local emulators — and replaceable for tests.
 */
let dynamodb: DynamoDBClient | undefined;
let sqs: SQSClient | undefined;

/** The shared DynamoDB client. */
export function getDynamoDbClient(): DynamoDBClient {
  // withFaults returns the client untouched unless a local fault plan asks for transient DynamoDB errors.
  dynamodb ??= withFaults(new DynamoDBClient({}));
  return dynamodb;
}

/** The shared SQS client. */
export function getSqsClient(): SQSClient {
  // Send to the configured endpoint (AWS_ENDPOINT_URL_SQS locally), not to the queue URL's host: local emulators
  // hand out URLs such as http://sqs.us-east-1.localhost:port/… whose host does not resolve. On AWS the regional
  // endpoint serves every queue URL of the region, so this changes nothing there.
  sqs ??= new SQSClient({ useQueueUrlAsEndpoint: false });
  return sqs;
}

/** Replaces the shared clients (tests, or a wrapper such as a fault-injection middleware). */
export function setClients(next: { readonly dynamodb?: DynamoDBClient; readonly sqs?: SQSClient }): void {
  if (next.dynamodb) dynamodb = next.dynamodb;
  if (next.sqs) sqs = next.sqs;
}
