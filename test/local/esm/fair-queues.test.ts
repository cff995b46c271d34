/**
 * Conformance suite, SQS fair queues (standard queues whose messages carry a MessageGroupId naming their tenant), on
 * fauxqs as `startEmulators` sets it up (`local/esm/fauxqs-fair-queues.ts`; fauxqs alone drops the group id).
 *
 * AWS: a tenant holding more than 10 % of the queue's in-flight messages and at least 30 of its own is a noisy
 * neighbour; while it is, consumers receive quiet tenants' messages first whenever there are any; a message without a
 * MessageGroupId is a tenant of its own.
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues-detailed.html
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues.html
 */
import { ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { NOISY_TENANT_RULE } from '../../../local/esm/fauxqs-fair-queues.js';
import { clients, createQueue, jsFunction, sqsMapping, startForTest, uniqueName, waitFor } from './support.js';

const { sqs } = clients();

/** A standard queue whose received messages stay in flight for the whole test. */
const standardQueue = (name: string) => createQueue(sqs, uniqueName(name), { VisibilityTimeout: '300' });

/** Sends `count` messages with bodies `<prefix>-<i>`, in batches of 10, each with `group` as MessageGroupId if given. */
async function sendBacklog(url: string, prefix: string, count: number, group?: string): Promise<void> {
  for (let start = 0; start < count; start += 10) {
    const entries = Array.from({ length: Math.min(10, count - start) }, (_, i) => ({
      Id: String(i),
      MessageBody: `${prefix}-${start + i}`,
      ...(group ? { MessageGroupId: group } : {}),
    }));
    const { Failed = [] } = await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
    expect(Failed).toEqual([]);
  }
}

async function receive(url: string, max = 10): Promise<Message[]> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: max, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['MessageGroupId'] }),
  );
  return Messages;
}

/** Takes `count` messages off the queue (they stay in flight: nothing deletes them). */
async function takeInFlight(url: string, count: number): Promise<Message[]> {
  const taken: Message[] = [];
  while (taken.length < count) taken.push(...(await receive(url, Math.min(10, count - taken.length))));
  return taken;
}

/**
 * A noisy tenant's backlog of 300, `inFlight` of them received and not deleted, then one message of a quiet tenant:
 * the bodies of the next receive.
 */
async function quietAfterBacklog(name: string, options: { inFlight: number; groups: boolean }): Promise<string[]> {
  const queue = await standardQueue(name);
  await sendBacklog(queue.url, 'noisy', 300, options.groups ? 'tenant-noisy' : undefined);
  const taken = await takeInFlight(queue.url, options.inFlight);
  expect(taken.every((m) => m.Body!.startsWith('noisy-'))).toBe(true);
  await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'quiet-0', ...(options.groups ? { MessageGroupId: 'tenant-quiet' } : {}) }));
  return (await receive(queue.url)).map((m) => m.Body!);
}

describe.concurrent('SQS fair queues (standard queue, MessageGroupId = tenant)', () => {
  it('keeps the MessageGroupId a standard queue was sent, and returns it on receive; a message without one has none', async () => {
    // Prepare
    const queue = await standardQueue('fair-attr');
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'single', MessageGroupId: 'acct-1' }));
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: [
          { Id: 'a', MessageBody: 'batch-a', MessageGroupId: 'acct-2', MessageAttributes: { kind: { DataType: 'String', StringValue: 'x' } } },
          { Id: 'b', MessageBody: 'batch-b', MessageGroupId: 'acct-3' },
          { Id: 'c', MessageBody: 'batch-c' },
        ],
      }),
    );
    // Act
    const received = await takeInFlight(queue.url, 4);
    // Assess
    const groupOf = Object.fromEntries(received.map((m) => [m.Body, m.Attributes?.MessageGroupId]));
    expect(groupOf).toEqual({ single: 'acct-1', 'batch-a': 'acct-2', 'batch-b': 'acct-3', 'batch-c': undefined });
  });

  it("delivers a quiet tenant's message first while a noisy tenant holds the in-flight messages and a backlog of hundreds", async () => {
    // Act: 40 of the noisy tenant's 300 in flight (all of the queue's in-flight messages, ≥ 30)
    const bodies = await quietAfterBacklog('fair-quiet', { inFlight: 40, groups: true });
    // Assess
    expect(bodies[0]).toBe('quiet-0');
    expect(bodies.slice(1)).toEqual(Array.from({ length: 9 }, (_, i) => `noisy-${40 + i}`));
  });

  it('negative control: without MessageGroupId the quiet message waits behind the backlog', async () => {
    const bodies = await quietAfterBacklog('fair-none', { inFlight: 40, groups: false });
    expect(bodies).toEqual(Array.from({ length: 10 }, (_, i) => `noisy-${40 + i}`));
  });

  it(`negative control: a tenant with fewer than ${NOISY_TENANT_RULE.minimumInFlight} in flight is not noisy, so arrival order holds`, async () => {
    const bodies = await quietAfterBacklog('fair-under', { inFlight: NOISY_TENANT_RULE.minimumInFlight - 1, groups: true });
    expect(bodies).not.toContain('quiet-0');
  });

  it('serves noisy tenants fewest-in-flight first once no quiet message is waiting', async () => {
    // Prepare: tenant A has 60 in flight, tenant B 30 (both noisy: ≥ 30 and > 10 % of 90); A's backlog comes first
    const queue = await standardQueue('fair-two');
    await sendBacklog(queue.url, 'a', 60, 'tenant-a');
    await takeInFlight(queue.url, 60);
    await sendBacklog(queue.url, 'b', 30, 'tenant-b');
    await takeInFlight(queue.url, 30);
    await sendBacklog(queue.url, 'a-more', 10, 'tenant-a');
    await sendBacklog(queue.url, 'b-more', 10, 'tenant-b');
    // Act
    const bodies = (await receive(queue.url)).map((m) => m.Body);
    // Assess
    expect(bodies).toEqual(Array.from({ length: 10 }, (_, i) => `b-more-${i}`));
  });

  it('hands the tenant to the function in the record attributes (local event source mapping)', async (context) => {
    // Prepare
    const queue = await standardQueue('fair-esm');
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'to-lambda', MessageGroupId: 'acct-9' }));
    const fn = jsFunction('fair-esm', () => undefined);
    // Act
    startForTest(context, [sqsMapping(fn, queue)], [fn], [queue]);
    await waitFor('the record', () => fn.calls.length > 0);
    // Assess
    expect(fn.calls[0]!.records[0]!.attributes.MessageGroupId).toBe('acct-9');
  });
});
