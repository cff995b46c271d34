/**
 * Conformance suite, SQS FIFO queues (rules S9, S10, S11 FIFO scaling, S15 FIFO attributes).
 * FIFO deploy-time rules (S1 BatchSize ≤ 10, S3 no batching window) are in validate.test.ts.
 *
 * Known difference, not a rule gap: fauxqs hands out at most one message per message group per ReceiveMessage
 * (SQS may return several of one group in order). Local batches therefore mix groups but never hold two messages
 * of one group, which is stricter ordering than AWS, never looser. The S10 handler guidance ("report the failed
 * message and every later one of its group") thus has no later same-group message to test locally; what the
 * mapping does with the response (delete whatever is not reported) is tested.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import {
  clients,
  createQueue,
  queueDepth,
  sqsMapping,
  startForTest,
  jsFunction,
  uniqueName,
  waitFor,
  waitForIdle,
} from './support.js';

const { sqs } = clients();

const start = startForTest;

async function send(client: SQSClient, url: string, messages: [group: string, body: string][]): Promise<void> {
  for (const [group, body] of messages) {
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body, MessageGroupId: group, MessageDeduplicationId: body }));
  }
}

const fifoQueue = (name: string, visibility = '2') =>
  createQueue(sqs, `${uniqueName(name)}.fifo`, { FifoQueue: 'true', VisibilityTimeout: visibility });

/** Bodies in delivery order, one entry per delivery (retries appear again). */
const deliveries = (fn: { calls: { records: any[] }[] }) => fn.calls.flatMap((c) => c.records.map((r) => r.body as string));

describe.concurrent('SQS event source mapping (FIFO queue)', () => {
  it('S9: one batch may mix message groups', async (context) => {
    // Prepare
    const queue = await fifoQueue('s9mix');
    await send(sqs, queue.url, [['g1', 'a1'], ['g2', 'b1'], ['g3', 'c1']]);
    const fn = jsFunction('s9mix', () => undefined);
    // Act
    start(context, [sqsMapping(fn, queue)], [fn], [queue]);
    await waitFor('3 records', () => deliveries(fn).length === 3);
    // Assess
    expect(fn.calls).toHaveLength(1);
    expect(new Set(fn.calls[0]!.records.map((r) => r.attributes.MessageGroupId))).toEqual(new Set(['g1', 'g2', 'g3']));
  });

  it('S9: messages of one group are delivered in order, never two of the group at once', async (context) => {
    // Prepare
    const queue = await fifoQueue('s9order');
    const bodies = ['m1', 'm2', 'm3', 'm4', 'm5'];
    await send(sqs, queue.url, bodies.map((b) => ['g', b]));
    const fn = jsFunction('s9order', () => new Promise((resolve) => setTimeout(resolve, 50)));
    // Act
    const running = start(context, [sqsMapping(fn, queue)], [fn], [queue]);
    await waitFor('5 records', () => deliveries(fn).length === 5);
    await waitForIdle(running);
    // Assess
    expect(deliveries(fn)).toEqual(bodies);
    expect(fn.maxConcurrent).toBe(1);
  });

  it('S9: a failed message blocks its group until its visibility timeout ends, other groups go on', async (context) => {
    // Prepare
    const queue = await fifoQueue('s9block', '2');
    await send(sqs, queue.url, [['g1', 'a1'], ['g1', 'a2'], ['g2', 'b1'], ['g2', 'b2']]);
    let failedOnce = false;
    const fn = jsFunction('s9block', (event) => {
      const a1 = event.Records.find((r) => r.body === 'a1');
      if (a1 && !failedOnce) {
        failedOnce = true;
        return { batchItemFailures: [{ itemIdentifier: a1.messageId }] };
      }
      return { batchItemFailures: [] };
    });
    // Act
    const running = start(context, [sqsMapping(fn, queue, { functionResponseTypes: ['ReportBatchItemFailures'] })], [fn], [queue]);
    await waitFor('5 deliveries', () => deliveries(fn).length === 5);
    await waitForIdle(running);
    // Assess: g2 finished before a1 came back; a2 only after the retried a1; the retry waited for the visibility timeout.
    const order = deliveries(fn);
    expect(order.filter((b) => b.startsWith('a'))).toEqual(['a1', 'a1', 'a2']);
    expect(order.filter((b) => b.startsWith('b'))).toEqual(['b1', 'b2']);
    expect(order.lastIndexOf('b2')).toBeLessThan(order.lastIndexOf('a1'));
    const callOf = (body: string, nth: number) => fn.calls.filter((c) => c.records.some((r) => r.body === body))[nth]!;
    const firstReceive = Number(callOf('a1', 0).records.find((r) => r.body === 'a1').attributes.ApproximateFirstReceiveTimestamp);
    expect(callOf('a1', 1).startedAt - firstReceive).toBeGreaterThanOrEqual(2000);
    expect(await queueDepth(sqs, queue.url)).toBe(0);
  });

  it('S10: with partial failures on FIFO the mapping deletes every message that is not reported', async (context) => {
    // Prepare
    const queue = await fifoQueue('s10', '1');
    await send(sqs, queue.url, [['g1', 'a1'], ['g2', 'b1'], ['g3', 'c1']]);
    const fn = jsFunction('s10', (event, call) => {
      if (call > 0) return undefined;
      const b1 = event.Records.find((r) => r.body === 'b1');
      return { batchItemFailures: [{ itemIdentifier: b1.messageId }] };
    });
    // Act
    const running = start(context, [sqsMapping(fn, queue, { functionResponseTypes: ['ReportBatchItemFailures'] })], [fn], [queue]);
    await waitFor('the retry', () => fn.calls.length === 2);
    await waitForIdle(running);
    // Assess
    expect(fn.calls[0]!.records.map((r) => r.body).sort()).toEqual(['a1', 'b1', 'c1']);
    for (const call of fn.calls.slice(1)) expect(call.records.map((r) => r.body)).toEqual(['b1']);
    expect(await queueDepth(sqs, queue.url)).toBe(0);
  });

  it('S11: FIFO concurrency grows with the number of active message groups', async (context) => {
    // Prepare
    const one = await fifoQueue('s11one', '10');
    const many = await fifoQueue('s11many', '10');
    await send(sqs, one.url, [1, 2, 3, 4].map((i) => ['g', `one-${i}`]));
    await send(sqs, many.url, [1, 2, 3, 4].map((i) => [`g${i}`, `many-${i}`]));
    const slow = () => new Promise((resolve) => setTimeout(resolve, 1000));
    const fnOne = jsFunction('s11one', slow);
    const fnMany = jsFunction('s11many', slow);
    // Act
    const running = start(
      context,
      [sqsMapping(fnOne, one, { batchSize: 1 }), sqsMapping(fnMany, many, { batchSize: 1 })],
      [fnOne, fnMany],
      [one, many],
    );
    await waitFor('8 calls', () => fnOne.calls.length + fnMany.calls.length === 8);
    await waitForIdle(running);
    // Assess
    expect(fnOne.maxConcurrent).toBe(1);
    expect(fnMany.maxConcurrent).toBe(4);
  });

  it('S15: FIFO records carry SequenceNumber, MessageGroupId and MessageDeduplicationId as strings', async (context) => {
    // Prepare
    const queue = await fifoQueue('s15fifo');
    await send(sqs, queue.url, [['group-1', 'only']]);
    const fn = jsFunction('s15fifo', () => undefined);
    // Act
    start(context, [sqsMapping(fn, queue)], [fn], [queue]);
    await waitFor('one call', () => fn.calls.length === 1);
    // Assess
    const { attributes } = fn.calls[0]!.records[0];
    expect(attributes).toMatchObject({ MessageGroupId: 'group-1', MessageDeduplicationId: 'only', ApproximateReceiveCount: '1' });
    expect(attributes.SequenceNumber).toMatch(/^\d+$/);
    for (const value of Object.values(attributes)) expect(typeof value).toBe('string');
  });
});
