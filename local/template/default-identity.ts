import { generatedId, generatedPhysicalName } from './physical-names.js';
import type { ResourceIdentity } from './types.js';

/** Where a resource lives, for building its ARNs and URLs. */
export interface IdentityContext {
  readonly stackName: string;
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
  /** Base of local queue URLs, e.g. `http://127.0.0.1:4566`. */
  readonly sqsEndpoint: string;
}

/**
 * `Ref` and `Fn::GetAtt` values of a resource before (or without) it being created locally: the physical name from
 * the template or a CloudFormation-like generated one, and ARNs built from it.
 *
 * @param name - the name property from the template, already resolved (QueueName, TableName, …), if any.
 * @returns undefined for types with no known identity (the caller raises a clear error).
 */
export function defaultIdentity(
  ctx: IdentityContext,
  logicalId: string,
  type: string,
  properties: Record<string, unknown>,
  name: string | undefined,
): ResourceIdentity {
  const { region, accountId, partition, stackName } = ctx;
  const arn = (service: string, resource: string, withRegion = true, withAccount = true) =>
    `arn:${partition}:${service}:${withRegion ? region : ''}:${withAccount ? accountId : ''}:${resource}`;
  const physical = (fifo = false) => name ?? generatedPhysicalName(stackName, logicalId, type, fifo);
  switch (type) {
    case 'AWS::SQS::Queue': {
      const fifo = properties.FifoQueue === true || properties.FifoQueue === 'true';
      const queueName = physical(fifo);
      const url = `${ctx.sqsEndpoint}/${accountId}/${queueName}`;
      return { ref: url, attributes: { Arn: arn('sqs', queueName), QueueName: queueName, QueueUrl: url } };
    }
    case 'AWS::DynamoDB::Table':
    case 'AWS::DynamoDB::GlobalTable': {
      const tableName = physical();
      // StreamArn is replaced by DynamoDB Local's real one once the table exists.
      return { ref: tableName, attributes: { Arn: arn('dynamodb', `table/${tableName}`) } };
    }
    case 'AWS::Lambda::Function': {
      const functionName = physical();
      return { ref: functionName, attributes: { Arn: arn('lambda', `function:${functionName}`) } };
    }
    case 'AWS::Lambda::Alias':
    case 'AWS::Lambda::Version': {
      const id = arn('lambda', `function:${generatedPhysicalName(stackName, logicalId, type)}`);
      return { ref: id, attributes: { Arn: id, Version: '1' } };
    }
    case 'AWS::IAM::Role': {
      const roleName = physical();
      return { ref: roleName, attributes: { Arn: arn('iam', `role/${roleName}`, false), RoleId: generatedId(stackName, logicalId, 21).toUpperCase() } };
    }
    case 'AWS::IAM::ManagedPolicy': {
      const policyArn = arn('iam', `policy/${physical()}`, false);
      return { ref: policyArn, attributes: { PolicyArn: policyArn } };
    }
    case 'AWS::SNS::Topic': {
      const topicName = physical();
      const topicArn = arn('sns', topicName);
      return { ref: topicArn, attributes: { TopicArn: topicArn, TopicName: topicName } };
    }
    case 'AWS::KMS::Key': {
      const keyId = generatedId(stackName, logicalId, 32);
      return { ref: keyId, attributes: { Arn: arn('kms', `key/${keyId}`), KeyId: keyId } };
    }
    case 'AWS::Logs::LogGroup': {
      const groupName = physical();
      return { ref: groupName, attributes: { Arn: arn('logs', `log-group:${groupName}:*`) } };
    }
    case 'AWS::CloudWatch::Alarm': {
      const alarmName = physical();
      return { ref: alarmName, attributes: { Arn: arn('cloudwatch', `alarm:${alarmName}`) } };
    }
    case 'AWS::ApiGateway::RestApi': {
      const apiId = generatedId(stackName, logicalId);
      return { ref: apiId, attributes: { RootResourceId: generatedId(stackName, `${logicalId}/root`) } };
    }
    case 'AWS::ApiGateway::Stage':
      return { ref: String(properties.StageName ?? generatedId(stackName, logicalId)), attributes: {} };
    case 'AWS::Lambda::EventSourceMapping': {
      const h = generatedId(stackName, logicalId, 32);
      const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
      return { ref: uuid, attributes: { Id: uuid } };
    }
    default:
      // Resources without a modelled identity (Policy, Permission, Deployment, …): an id-like Ref and no attributes.
      return { ref: generatedPhysicalName(stackName, logicalId, type), attributes: {} };
  }
}

/** The template property that holds a resource's physical name, by type. */
export const NAME_PROPERTY: Record<string, string> = {
  'AWS::SQS::Queue': 'QueueName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::DynamoDB::GlobalTable': 'TableName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::IAM::ManagedPolicy': 'ManagedPolicyName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::CloudWatch::Alarm': 'AlarmName',
};
