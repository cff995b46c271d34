import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ProvisioningError } from '../errors.js';
import type { TemplateResolver } from '../template/resolver.js';
import { dependencyOrder, referencedLogicalIds } from './references.js';

/** A queue created locally from an AWS::SQS::Queue. */
export interface LocalQueue {
  readonly logicalId: string;
  readonly name: string;
  /** Local URL (`http://127.0.0.1:<port>/000000000000/<name>`, reachable without DNS tricks). */
  readonly url: string;
  readonly arn: string;
  /** Attributes as GetQueueAttributes returns them after creation (plus RedrivePolicy as given). */
  readonly attributes: Readonly<Record<string, string>>;
}

/** Template properties passed to CreateQueue as attributes of the same name. */
const ATTRIBUTES = [
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
] as const;

/**
 * Creates every AWS::SQS::Queue of a stack in fauxqs, dead-letter queues before the queues that redrive to them,
 * with FIFO, content-based deduplication, visibility timeout, retention, delay and redrive policy.
 *
 * @throws ProvisioningError naming the queue when fauxqs rejects it.
 */
export async function createQueues(resolver: TemplateResolver, sqs: SQSClient): Promise<Map<string, LocalQueue>> {
  const resources = new Map(
    Object.entries(resolver.template.Resources ?? {}).filter(
      ([logicalId, resource]) => resource.Type === 'AWS::SQS::Queue' && resolver.isEnabled(logicalId),
    ),
  );
  const queues = new Map<string, LocalQueue>();
  for (const logicalId of dependencyOrder(resources, (resource) => referencedLogicalIds(resource.Properties))) {
    const path = `Resources.${logicalId}.Properties`;
    const properties = (resolver.resolve(resources.get(logicalId)!.Properties ?? {}, path) ?? {}) as Record<string, unknown>;
    const identity = resolver.identity(logicalId);
    const name = identity.attributes.QueueName!;
    const attributes: Record<string, string> = {};
    for (const key of ATTRIBUTES) if (properties[key] !== undefined) attributes[key] = String(properties[key]);
    if (isTrue(properties.FifoQueue)) {
      attributes.FifoQueue = 'true';
      if (properties.ContentBasedDeduplication !== undefined) attributes.ContentBasedDeduplication = String(isTrue(properties.ContentBasedDeduplication));
    }
    if (properties.RedrivePolicy !== undefined) {
      attributes.RedrivePolicy = typeof properties.RedrivePolicy === 'string' ? properties.RedrivePolicy : JSON.stringify(properties.RedrivePolicy);
    }
    let created: Record<string, string>;
    try {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
      const described = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
      created = described.Attributes ?? {};
    } catch (error) {
      throw new ProvisioningError(logicalId, `fauxqs rejected queue ${name}: ${(error as Error).message}`, { cause: error });
    }
    // Attributes fauxqs does not model (DeduplicationScope, FifoThroughputLimit) are kept for the pollers and tests.
    for (const key of ['DeduplicationScope', 'FifoThroughputLimit'] as const) {
      if (properties[key] !== undefined) created[key] = String(properties[key]);
    }
    queues.set(logicalId, { logicalId, name, url: identity.ref, arn: identity.attributes.Arn!, attributes: { ...attributes, ...created } });
  }
  return queues;
}

function isTrue(value: unknown): boolean {
  return value === true || value === 'true';
}
