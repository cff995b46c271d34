import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/emulators.js';

/** A DynamoDB Local client for the chaos tests. */
export function localDynamoDb(endpoint: string, maxAttempts?: number): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts });
}

/** Creates a ledger table (pk/sk, stream NEW_IMAGE) and a Powertools idempotency table (id) with unique names. */
export async function createChaosTables(ddb: DynamoDBClient, prefix: string) {
  const suffix = `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const ledger = `${prefix}-ledger-${suffix}`;
  const idempotency = `${prefix}-idem-${suffix}`;
  await ddb.send(
    new CreateTableCommand({
      TableName: ledger,
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
    }),
  );
  await ddb.send(
    new CreateTableCommand({
      TableName: idempotency,
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return { ledger, idempotency };
}
