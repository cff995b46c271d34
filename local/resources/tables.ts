import {
  CreateTableCommand,
  DescribeTableCommand,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { ProvisioningError } from '../errors.js';
import type { TemplateResolver } from '../template/resolver.js';

/** A table created locally from an AWS::DynamoDB::Table or AWS::DynamoDB::GlobalTable (CDK TableV2). */
export interface LocalTable {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** DynamoDB Local's stream ARN when the template enables a stream. */
  readonly streamArn?: string;
  readonly streamViewType?: string;
  readonly ttlAttribute?: string;
}

const TABLE_TYPES = new Set(['AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable']);

/**
 * Creates every DynamoDB table of a stack in DynamoDB Local with its keys, GSIs, LSIs, stream and TTL, then
 * records the real StreamArn on the resolver so `Fn::GetAtt Table.StreamArn` resolves to it.
 *
 * @throws ProvisioningError naming the table when DynamoDB Local rejects it.
 */
export async function createTables(resolver: TemplateResolver, dynamodb: DynamoDBClient): Promise<Map<string, LocalTable>> {
  const entries = Object.entries(resolver.template.Resources ?? {}).filter(
    ([logicalId, resource]) => TABLE_TYPES.has(resource.Type) && resolver.isEnabled(logicalId),
  );
  const tables = await Promise.all(
    entries.map(async ([logicalId, resource]) => {
      const properties = (resolver.resolve(resource.Properties ?? {}, `Resources.${logicalId}.Properties`) ?? {}) as Record<string, any>;
      const identity = resolver.identity(logicalId);
      const name = identity.ref;
      const input = createTableInput(name, properties);
      try {
        await dynamodb.send(new CreateTableCommand(input));
        const ttl = properties.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean | string } | undefined;
        if (ttl?.AttributeName && (ttl.Enabled === true || ttl.Enabled === 'true')) {
          await dynamodb.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true } }));
        }
        const described = await dynamodb.send(new DescribeTableCommand({ TableName: name }));
        const streamArn = described.Table?.LatestStreamArn;
        resolver.setIdentity(logicalId, {
          ref: name,
          attributes: { ...identity.attributes, ...(streamArn ? { StreamArn: streamArn } : {}) },
        });
        const table: LocalTable = {
          logicalId,
          name,
          arn: identity.attributes.Arn!,
          streamArn,
          streamViewType: input.StreamSpecification?.StreamViewType,
          ttlAttribute: ttl?.AttributeName,
        };
        return table;
      } catch (error) {
        throw new ProvisioningError(logicalId, `DynamoDB Local rejected table ${name}: ${(error as Error).message}`, { cause: error });
      }
    }),
  );
  return new Map(tables.map((table) => [table.logicalId, table]));
}

function createTableInput(name: string, p: Record<string, any>): CreateTableCommandInput {
  const provisioned = p.BillingMode === 'PROVISIONED' || (p.BillingMode === undefined && p.ProvisionedThroughput !== undefined);
  const throughput = (t: any) =>
    t ? { ReadCapacityUnits: Number(t.ReadCapacityUnits), WriteCapacityUnits: Number(t.WriteCapacityUnits) } : { ReadCapacityUnits: 5, WriteCapacityUnits: 5 };
  const stream = p.StreamSpecification?.StreamViewType as string | undefined;
  return {
    TableName: name,
    AttributeDefinitions: p.AttributeDefinitions,
    KeySchema: p.KeySchema,
    BillingMode: provisioned ? 'PROVISIONED' : 'PAY_PER_REQUEST',
    ...(provisioned ? { ProvisionedThroughput: throughput(p.ProvisionedThroughput) } : {}),
    ...(p.GlobalSecondaryIndexes?.length
      ? {
          GlobalSecondaryIndexes: (p.GlobalSecondaryIndexes as any[]).map((index) => ({
            IndexName: index.IndexName,
            KeySchema: index.KeySchema,
            Projection: index.Projection,
            ...(provisioned ? { ProvisionedThroughput: throughput(index.ProvisionedThroughput) } : {}),
          })),
        }
      : {}),
    ...(p.LocalSecondaryIndexes?.length
      ? { LocalSecondaryIndexes: (p.LocalSecondaryIndexes as any[]).map(({ IndexName, KeySchema, Projection }) => ({ IndexName, KeySchema, Projection })) }
      : {}),
    ...(stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: stream as 'NEW_IMAGE' } } : {}),
  };
}
