import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListDeadLetterSourceQueuesCommand,
  ListQueuesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { QueueResolutionError } from './errors.js';
import { findOutput, findOutputKeyByValue, type StackOutputs } from './project-config.js';

/** A queue found from a URL, a name or a stack output key. */
export interface ResolvedQueue {
  readonly url: string;
  /** The stack output that names this queue, when there is one (drives the source and scope conventions). */
  readonly outputKey?: string;
  readonly stack?: string;
}

const isUrl = (ref: string) => /^https?:\/\//.test(ref);

function named(url: string, outputs: StackOutputs): ResolvedQueue {
  const hit = findOutputKeyByValue(outputs, url);
  return hit ? { url, outputKey: hit.key, stack: hit.stack } : { url };
}

/**
 * Resolves a queue given as URL, stack output key (`PaymentsDlqUrl`) or queue name.
 * @throws QueueResolutionError when nothing matches.
 */
export async function resolveQueue(
  sqs: SQSClient,
  ref: string,
  outputs: StackOutputs,
  stack?: string,
): Promise<ResolvedQueue> {
  if (isUrl(ref)) return named(ref, outputs);
  const fromOutput = findOutput(outputs, ref, stack);
  if (fromOutput !== undefined) return named(fromOutput, outputs);
  try {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: ref }));
    if (!QueueUrl) throw new Error('GetQueueUrl returned no URL');
    return named(QueueUrl, outputs);
  } catch (error) {
    throw new QueueResolutionError(
      `Queue "${ref}" is neither a URL, an output key of the outputs file, nor an existing queue name (${(error as Error).message})`,
      ref,
      { cause: error },
    );
  }
}

/** The ARN of a queue (GetQueueAttributes QueueArn). */
export async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  const arn = Attributes?.QueueArn;
  if (!arn) throw new QueueResolutionError(`Queue ${url} has no QueueArn attribute`, url);
  return arn;
}

/**
 * Finds the source queue of a DLQ: `--to`, else the outputs convention (`XDlqUrl` → `XQueueUrl`), else the queue
 * whose RedrivePolicy targets the DLQ (ListDeadLetterSourceQueues, or a ListQueues scan where that API is missing).
 * @throws QueueResolutionError when there is no source or more than one.
 */
export async function resolveSourceQueue(
  sqs: SQSClient,
  dlq: ResolvedQueue,
  outputs: StackOutputs,
  to?: string,
  stack?: string,
): Promise<ResolvedQueue> {
  if (to !== undefined) return resolveQueue(sqs, to, outputs, stack);
  const conventional = dlq.outputKey?.replace(/DlqUrl$/, 'QueueUrl');
  if (conventional && conventional !== dlq.outputKey) {
    const url = findOutput(outputs, conventional, dlq.stack);
    if (url !== undefined) return { url, outputKey: conventional, stack: dlq.stack };
  }
  const arn = await queueArn(sqs, dlq.url);
  let sources: string[];
  try {
    const listed = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq.url }));
    sources = listed.queueUrls ?? [];
  } catch {
    // Emulators without ListDeadLetterSourceQueues (fauxqs): read every queue's RedrivePolicy instead.
    sources = await scanForSources(sqs, arn);
  }
  if (sources.length !== 1) {
    throw new QueueResolutionError(
      sources.length === 0
        ? `No queue has ${dlq.url} as its dead-letter queue: pass the source with --to <queue>`
        : `Several queues use ${dlq.url} as dead-letter queue (${sources.join(', ')}): pass the one to redrive to with --to`,
      dlq.url,
    );
  }
  return named(sources[0]!, outputs);
}

async function scanForSources(sqs: SQSClient, dlqArn: string): Promise<string[]> {
  const found: string[] = [];
  let NextToken: string | undefined;
  do {
    const page = await sqs.send(new ListQueuesCommand({ NextToken, MaxResults: 1000 }));
    for (const url of page.QueueUrls ?? []) {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }),
      );
      const policy = Attributes?.RedrivePolicy;
      if (policy && (JSON.parse(policy) as { deadLetterTargetArn?: string }).deadLetterTargetArn === dlqArn) {
        found.push(url);
      }
    }
    NextToken = page.NextToken;
  } while (NextToken);
  return found;
}

/** True for a FIFO queue URL (its name ends in `.fifo`). */
export const isFifoUrl = (url: string) => url.endsWith('.fifo');
