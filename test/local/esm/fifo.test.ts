/**
 * Conformance suite, SQS FIFO queues (rules S9, S10, S11 FIFO scaling, S15 FIFO attributes).
 * FIFO deploy-time rules (S1 BatchSize ≤ 10, S3 no batching window) are in validate.test.ts.
 *
 * Batches are AWS-shaped: one receive returns several consecutive messages of a group, in order (fauxqs on its own
 * returns one per group; `local/esm/fauxqs-fifo-batches.ts`, applied by `startEmulators`, corrects it). That is where
 * the S10 handler guidance ("report the failed message and every later one of its group") matters, so the same-batch
 * cases are tested here.
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
      // S10 guidance: a1 fails, so a1 and every later message of g1 in the batch are reported.
      const a1 = event.Records.findIndex((r) => r.body === 'a1');
      if (a1 >= 0 && !failedOnce) {
        failedOnce = true;
        const g1 = event.Records.slice(a1).filter((r) => r.attributes.MessageGroupId === 'g1');
        return { batchItemFailures: g1.map((r) => ({ itemIdentifier: r.messageId })) };
      }
      return { batchItemFailures: [] };
    });
    // Act
    const running = start(context, [sqsMapping(fn, queue, { functionResponseTypes: ['ReportBatchItemFailures'] })], [fn], [queue]);
    await waitFor('the retried a1 and a2', () => deliveries(fn).filter((b) => b.startsWith('a')).length === 4);
    await waitForIdle(running);
    // Assess: g2 finished before a1 came back; a1 and a2 came back together, in order, after the visibility timeout.
    const order = deliveries(fn);
    expect(order.filter((b) => b.startsWith('a'))).toEqual(['a1', 'a2', 'a1', 'a2']);
    expect(order.filter((b) => b.startsWith('b'))).toEqual(['b1', 'b2']);
    expect(order.lastIndexOf('b2')).toBeLessThan(order.lastIndexOf('a1'));
    const callOf = (body: string, nth: number) => fn.calls.filter((c) => c.records.some((r) => r.body === body))[nth]!;
    const firstReceive = Number(callOf('a1', 0).records.find((r) => r.body === 'a1').attributes.ApproximateFirstReceiveTimestamp);
    expect(callOf('a1', 1).startedAt - firstReceive).toBeGreaterThanOrEqual(2000);
    expect(await queueDepth(sqs, queue.url)).toBe(0);
  });

  it('S9: one batch holds several consecutive messages of a group, in order, up to the batch size', async (context) => {
    // Prepare
    const queue = await fifoQueue('s9same');
    await send(sqs, queue.url, [['g', 'm1'], ['g', 'm2'], ['g', 'm3'], ['g', 'm4'], ['g', 'm5'], ['h', 'n1'], ['h', 'n2']]);
    const fn = jsFunction('s9same', () => undefined);
    // Act
    const running = start(context, [sqsMapping(fn, queue, { batchSize: 4 })], [fn], [queue]);
    await waitFor('7 records', () => deliveries(fn).length === 7);
    await waitForIdle(running);
    // Assess: the first batch is full and starts with g's first four messages; each group arrives in order.
    expect(fn.calls[0]!.records.map((r) => r.body)).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(deliveries(fn).filter((b) => b.startsWith('m'))).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(deliveries(fn).filter((b) => b.startsWith('n'))).toEqual(['n1', 'n2']);
    for (const call of fn.calls) expect(call.records.length).toBeLessThanOrEqual(4);
  });

  it('S9: no message of a group is delivered while any earlier one of it is in flight', async (context) => {
    // Prepare: the first batch holds a1–a3; a2 and a3 are reported failed, a4 waits behind them.
    const queue = await fifoQueue('s9inflight', '2');
    await send(sqs, queue.url, [['g', 'a1'], ['g', 'a2'], ['g', 'a3'], ['g', 'a4']]);
    const fn = jsFunction('s9inflight', (event, call) => {
      if (call > 0) return { batchItemFailures: [] };
      const failed = event.Records.filter((r) => r.body === 'a2' || r.body === 'a3');
      return { batchItemFailures: failed.map((r) => ({ itemIdentifier: r.messageId })) };
    });
    // Act
    const running = start(context, [sqsMapping(fn, queue, { batchSize: 3, functionResponseTypes: ['ReportBatchItemFailures'] })], [fn], [queue]);
    await waitFor('two calls', () => fn.calls.length >= 2);
    await waitForIdle(running);
    // Assess: a4 came only with the retried a2 and a3, after their visibility timeout, behind them.
    expect(fn.calls.map((c) => c.records.map((r) => r.body))).toEqual([['a1', 'a2', 'a3'], ['a2', 'a3', 'a4']]);
    const firstReceive = Number(fn.calls[0]!.records[1].attributes.ApproximateFirstReceiveTimestamp);
    expect(fn.calls[1]!.startedAt - firstReceive).toBeGreaterThanOrEqual(2000);
    expect(await queueDepth(sqs, queue.url)).toBe(0);
  });

  it('S10: a failure reported for the first message of a group brings it and the later ones back together, in order', async (context) => {
    // Prepare
    const queue = await fifoQueue('s10same', '1');
    await send(sqs, queue.url, [['g', 'p1'], ['g', 'p2'], ['g', 'p3'], ['h', 'q1']]);
    const fn = jsFunction('s10same', (event, call) => {
      if (call > 0) return { batchItemFailures: [] };
      // Stop at the first failure (p1) and report it and every later message of its group (S10).
      const group = event.Records.filter((r) => r.attributes.MessageGroupId === 'g');
      return { batchItemFailures: group.map((r) => ({ itemIdentifier: r.messageId })) };
    });
    // Act
    const running = start(context, [sqsMapping(fn, queue, { functionResponseTypes: ['ReportBatchItemFailures'] })], [fn], [queue]);
    await waitFor('the retry', () => fn.calls.length >= 2);
    await waitForIdle(running);
    // Assess
    expect(fn.calls[0]!.records.map((r) => r.body)).toEqual(['p1', 'p2', 'p3', 'q1']);
    expect(fn.calls.slice(1).map((c) => c.records.map((r) => r.body))).toEqual([['p1', 'p2', 'p3']]);
    expect(fn.calls[1]!.records.map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['2', '2', '2']);
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
