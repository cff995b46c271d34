/**
 * Conformance suite, SQS standard queues (rules S1–S8, S11, S13, S15 of docs/lambda-esm-semantics.md).
 * FIFO rules (S3 FIFO, S9, S10) are in fifo.test.ts, filters (S14) in filters.test.ts, deploy-time rejections
 * (S1–S3, S11, S12 ranges) in validate.test.ts.
 *
 * Not covered here, with the reason:
 * - S4 "payload reaches 6 MB" is covered with 900 KB messages (7 of them exceed 6 MB); a single message over 6 MB
 *   cannot exist (SQS caps messages at 1 MiB).
 * - S11 "default scaling starts at 5 and grows": the start at 5 is checked; growth beyond 5 (AWS adds pollers over
 *   minutes) is not emulated: a mapping without MaximumConcurrency runs at most 5 invocations locally.
 * - S13 "recommended maxReceiveCount ≥ 5" is advice for templates, not runtime behaviour.
 */
import { createHash } from 'node:crypto';
import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import {
  clients,
  createQueue,
  queueDepth,
  receiveAll,
  sleep,
  sqsMapping,
  startForTest,
  jsFunction,
  uniqueName,
  waitFor,
  waitForIdle,
} from './support.js';

const { sqs } = clients();

const start = startForTest;

async function sendBodies(client: SQSClient, url: string, bodies: string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: bodies.slice(i, i + 10).map((body, j) => ({ Id: String(j), MessageBody: body })),
      }),
    );
  }
}

const bodiesOf = (records: any[]) => records.map((r) => r.body as string);

describe.concurrent('SQS event source mapping (standard queue)', () => {
  it('S1: BatchSize defaults to 10 messages per invocation', async (context) => {
    // Prepare
    const queue = await createQueue(sqs, uniqueName('s1'), { VisibilityTimeout: '5' });
    await sendBodies(sqs, queue.url, Array.from({ length: 15 }, (_, i) => `m${i}`));
    const fn = jsFunction('s1', () => undefined);
    // Act
    start(context, [sqsMapping(fn, queue)], [fn], [queue]);
    await waitFor('15 records', () => fn.calls.reduce((n, c) => n + c.records.length, 0) === 15);
    // Assess
    expect(fn.calls.map((c) => c.records.length).sort((a, b) => b - a)).toEqual([10, 5]);
  });

  it('S2: BatchSize above 10 with a batching window gathers one batch from several receives', async (context) => {
    // Prepare
    const queue = await createQueue(sqs, uniqueName('s2'), { VisibilityTimeout: '10' });
    await sendBodies(sqs, queue.url, Array.from({ length: 25 }, (_, i) => `m${i}`));
    const fn = jsFunction('s2', () => undefined);
    // Act
    const running = start(context, [sqsMapping(fn, queue, { batchSize: 25, maximumBatchingWindowSeconds: 1 })], [fn], [queue]);
    await waitFor('one call', () => fn.calls.length === 1);
    await waitForIdle(running);
    // Assess
    expect(fn.calls).toHaveLength(1);
    expect(new Set(bodiesOf(fn.calls[0]!.records)).size).toBe(25);
  });

  it('S4: a batch is invoked when the window expires, before BatchSize is reached', async (context) => {
    // Prepare
    const queue = await createQueue(sqs, uniqueName('s4w'), { VisibilityTimeout: '10' });
    await sendBodies(sqs, queue.url, ['a', 'b', 'c']);
    const fn = jsFunction('s4w', () => undefined);
    const startedAt = Date.now();
    // Act
    start(context, [sqsMapping(fn, queue, { batchSize: 100, maximumBatchingWindowSeconds: 1 })], [fn], [queue]);
    await waitFor('one call', () => fn.calls.length === 1);
    // Assess: the three messages came in one batch, and only once the 1 s window had run out.
    expect(bodiesOf(fn.calls[0]!.records).sort()).toEqual(['a', 'b', 'c']);
    expect(fn.calls[0]!.startedAt - startedAt).toBeGreaterThanOrEqual(900);
  });

  it('S4: a batch is invoked when the payload would pass 6 MB, the rest goes in the next batch', async (context) => {
    // Prepare: 7 messages of 900 KB = 6.3 MB > 6 MB; 6 of them fit.
    const queue = await createQueue(sqs, uniqueName('s4p'), { VisibilityTimeout: '20' });
    for (let i = 0; i < 7; i++) {
      await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: `${i}`.padEnd(900_000, 'x') }));
    }
    const fn = jsFunction('s4p', () => undefined);
    // Act
    start(context, [sqsMapping(fn, queue, { batchSize: 10, maximumBatchingWindowSeconds: 1 })], [fn], [queue]);
    await waitFor('7 records', () => fn.calls.reduce((n, c) => n + c.records.length, 0) === 7, 20_000);
    // Assess
    expect(fn.calls.map((c) => c.records.length)).toEqual([6, 1]);
  });

  it('S5: a successful batch is deleted from the queue', async (context) => {
    // Prepare
    const queue = await createQueue(sqs, uniqueName('s5ok'), { VisibilityTimeout: '30' });
    await sendBodies(sqs, queue.url, ['a', 'b']);
    const fn = jsFunction('s5ok', () => ({ ignored: true }));
    // Act
    const running = start(context, [sqsMapping(fn, queue)], [fn], [queue]);
    await waitForIdle(running);
    // Assess: an empty queue (nothing visible or in flight) means the messages were deleted, not just hidden.
    expect(fn.calls.flatMap((c) => bodiesOf(c.records)).sort()).toEqual(['a', 'b']);
    expect(await queueDepth(sqs, queue.url)).toBe(0);
  });

  it('S5: when the function throws, the whole batch reappears only after the visibility timeout', async (context) => {
    // Prepare
    const queue = await createQueue(sqs, uniqueName('s5err'), { VisibilityTimeout: '2' });
    await sendBodies(sqs, queue.url, ['a', 'b']);
    const fn = jsFunction('s5err', (_event, call) => {
      if (call === 0) throw new Error('boom');
    });
    // Act
    const running = start(context, [sqsMapping(fn, queue)], [fn], [queue]);
    await waitFor('a retry', () => fn.calls.length === 2 && fn.calls[1]!.result !== undefined);
    await waitForIdle(running);
    // Assess
    const [first, second] = fn.calls;
    expect(first!.result?.ok).toBe(false);
    expect(bodiesOf(second!.records).sort()).toEqual(['a', 'b']);
    expect(second!.records.map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['2', '2']);
    // The mapping does not shorten the visibility timeout after a fast failure: the retry comes ≥ 2 s after the receive.
    expect(second!.startedAt - Number(first!.records[0].attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(2000);
    expect(await queueDepth(sqs, queue.url)).toBe(0);
  });

  it('S5: when the function times out, the batch reappears after the visibility timeout and is retried', async (context) => {
    // Prepare
    const queue = await createQueue(sqs, uniqueName('s5to'), { VisibilityTimeout: '2' });
    await sendBodies(sqs, queue.url, ['slow']);
    const fn = jsFunction('s5to', async (_event, call) => {
      if (call === 0) await sleep(1500);
    }, 1);
    // Act
    const running = start(context, [sqsMapping(fn, queue)], [fn], [queue]);
    await waitFor('a retry', () => fn.calls.length === 2 && fn.calls[1]!.result !== undefined);
    await waitForIdle(running);
    // Assess
    expect(fn.calls[0]!.result?.timedOut).toBe(true);
    expect(fn.calls[1]!.result?.ok).toBe(true);
    expect(fn.calls[1]!.startedAt - Number(fn.calls[0]!.records[0].attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(2000);
    expect(await queueDepth(sqs, queue.url)).toBe(0);
  });

  it('S5: one log line per invocation names the function, source, batch size, duration and outcome', async (context) => {
    // Prepare
    const queue = await createQueue(sqs, uniqueName('s5log'), { VisibilityTimeout: '20' });
    const quietQueue = await createQueue(sqs, uniqueName('s5quiet'), { VisibilityTimeout: '20' });
    await sendBodies(sqs, queue.url, ['a', 'b']);
    await sendBodies(sqs, quietQueue.url, ['a']);
    const fn = jsFunction('s5log', () => undefined);
    const quietFn = jsFunction('s5quiet', () => undefined);
    // Act
    const running = start(context, [sqsMapping(fn, queue)], [fn], [queue]);
    const quiet = start(context, [sqsMapping(quietFn, quietQueue)], [quietFn], [quietQueue], { logInvocations: false });
    await waitForIdle(running);
    await waitForIdle(quiet);
    // Assess
    expect(running.lines).toEqual([expect.stringMatching(new RegExp(`^s5log ← ${queue.arn.split(':').pop()} batch=2 \\d+ms ok$`))]);
    expect(quietFn.calls).toHaveLength(1);
    expect(quiet.lines).toEqual([]);
  });

  it('S6: with ReportBatchItemFailures only the listed messages return to the queue', async (context) => {
    // Prepare
    const queue = await createQueue(sqs, uniqueName('s6'), { VisibilityTimeout: '1' });
    await sendBodies(sqs, queue.url, ['a', 'b', 'c']);
    const fn = jsFunction('s6', (event, call) => {
      if (call > 0) return { batchItemFailures: [] };
      const b = event.Records.find((r) => r.body === 'b');
      return { batchItemFailures: [{ itemIdentifier: b.messageId }] };
    });
    // Act
    const running = start(context, [sqsMapping(fn, queue, { functionResponseTypes: ['ReportBatchItemFailures'] })], [fn], [queue]);
    await waitFor('a retry', () => fn.calls.length === 2);
    await waitForIdle(running);
    // Assess
    expect(bodiesOf(fn.calls[0]!.records).sort()).toEqual(['a', 'b', 'c']);
    // Every later delivery (one, unless a slow machine delays the delete past the visibility timeout) is b alone.
    for (const call of fn.calls.slice(1)) expect(bodiesOf(call.records)).toEqual(['b']);
    expect(await queueDepth(sqs, queue.url)).toBe(0);
  });

  it('S6: with ReportBatchItemFailures a throw still fails the whole batch', async (context) => {
    // Prepare
    const queue = await createQueue(sqs, uniqueName('s6t'), { VisibilityTimeout: '1' });
    await sendBodies(sqs, queue.url, ['a', 'b']);
    const fn = jsFunction('s6t', (_event, call) => {
      if (call === 0) throw new Error('boom');
      return { batchItemFailures: [] };
    });
    // Act
    const running = start(context, [sqsMapping(fn, queue, { functionResponseTypes: ['ReportBatchItemFailures'] })], [fn], [queue]);
    await waitFor('a retry', () => fn.calls.length === 2);
    await waitForIdle(running);
    // Assess
    expect(bodiesOf(fn.calls[1]!.records).sort()).toEqual(['a', 'b']);
  });

  const successResponses: [string, unknown][] = [
    ['an empty list', { batchItemFailures: [] }],
    ['a null list', { batchItemFailures: null }],
    ['an empty response', {}],
    ['a null response', null],
  ];
  for (const [label, response] of successResponses) {
    it(`S7: ${label} is a full success`, async (context) => {
      // Prepare
      const queue = await createQueue(sqs, uniqueName('s7ok'), { VisibilityTimeout: '30' });
      await sendBodies(sqs, queue.url, ['a', 'b']);
      const fn = jsFunction('s7ok', () => response);
      // Act
      const running = start(context, [sqsMapping(fn, queue, { functionResponseTypes: ['ReportBatchItemFailures'] })], [fn], [queue]);
      await waitForIdle(running);
      // Assess: deleted (the queue holds nothing, not even in flight) after one delivery.
      expect(fn.calls.flatMap((c) => bodiesOf(c.records)).sort()).toEqual(['a', 'b']);
      expect(await queueDepth(sqs, queue.url)).toBe(0);
    });
  }

  const wholeBatchFailures: [string, (ids: string[]) => unknown][] = [
    ['a response that is not a JSON object fails the whole batch', () => 'not json'],
    ['an empty-string itemIdentifier fails the whole batch', () => ({ batchItemFailures: [{ itemIdentifier: '' }] })],
    ['a null itemIdentifier fails the whole batch', () => ({ batchItemFailures: [{ itemIdentifier: null }] })],
    ['a wrong key name fails the whole batch', (ids) => ({ batchItemFailures: [{ itemId: ids[0] }] })],
    ['an unknown itemIdentifier fails the whole batch', () => ({ batchItemFailures: [{ itemIdentifier: 'not-a-message-id' }] })],
  ];
  for (const [label, response] of wholeBatchFailures) {
    it(`S7: ${label}`, async (context) => {
      // Prepare
      const queue = await createQueue(sqs, uniqueName('s7bad'), { VisibilityTimeout: '1' });
      await sendBodies(sqs, queue.url, ['a', 'b']);
      const fn = jsFunction('s7bad', (event, call) =>
        call === 0 ? response(event.Records.map((r) => r.messageId)) : { batchItemFailures: [] },
      );
      // Act
      const running = start(context, [sqsMapping(fn, queue, { functionResponseTypes: ['ReportBatchItemFailures'] })], [fn], [queue]);
      await waitFor('a retry', () => fn.calls.length === 2);
      await waitForIdle(running);
      // Assess
      expect(bodiesOf(fn.calls[0]!.records).sort()).toEqual(['a', 'b']);
      expect(bodiesOf(fn.calls[1]!.records).sort()).toEqual(['a', 'b']);
      expect(running.stats()[0]!.failures).toBe(1);
    });
  }

  it('S8: without ReportBatchItemFailures a returned failure list is ignored and the batch deleted', async (context) => {
    // Prepare
    const queue = await createQueue(sqs, uniqueName('s8'), { VisibilityTimeout: '30' });
    await sendBodies(sqs, queue.url, ['a', 'b']);
    const fn = jsFunction('s8', (event) => ({ batchItemFailures: [{ itemIdentifier: event.Records[0].messageId }] }));
    // Act
    const running = start(context, [sqsMapping(fn, queue)], [fn], [queue]);
    await waitForIdle(running);
    // Assess
    expect(fn.calls).toHaveLength(1);
    expect(await queueDepth(sqs, queue.url)).toBe(0);
  });

  it('S11: MaximumConcurrency caps concurrent invocations of the mapping', async (context) => {
    // Prepare
    const queue = await createQueue(sqs, uniqueName('s11'), { VisibilityTimeout: '10' });
    await sendBodies(sqs, queue.url, Array.from({ length: 8 }, (_, i) => `m${i}`));
    const fn = jsFunction('s11', () => sleep(400));
    // Act
    const running = start(context, [sqsMapping(fn, queue, { batchSize: 1, maximumConcurrency: 2 })], [fn], [queue]);
    await waitFor('8 calls', () => fn.calls.length === 8);
    await waitForIdle(running);
    // Assess
    expect(fn.maxConcurrent).toBe(2);
  });

  it('S11: without MaximumConcurrency a standard queue starts at 5 concurrent batches', async (context) => {
    // Prepare
    const queue = await createQueue(sqs, uniqueName('s11d'), { VisibilityTimeout: '10' });
    await sendBodies(sqs, queue.url, Array.from({ length: 10 }, (_, i) => `m${i}`));
    const fn = jsFunction('s11d', () => sleep(1500));
    // Act
    const running = start(context, [sqsMapping(fn, queue, { batchSize: 1 })], [fn], [queue]);
    await waitFor('10 calls', () => fn.calls.length === 10);
    await waitForIdle(running);
    // Assess
    expect(fn.maxConcurrent).toBe(5);
  });

  it('S12: a visibility timeout below 6 × the function timeout is accepted with a warning line', async (context) => {
    // Prepare
    const queue = await createQueue(sqs, uniqueName('s12'), { VisibilityTimeout: '10' });
    const fn = jsFunction('s12', () => undefined, 2);
    // Act
    const running = start(context, [sqsMapping(fn, queue, { logicalId: 'ShortVisibility' })], [fn], [queue]);
    // Assess
    expect(running.lines).toEqual([
      'ShortVisibility (S12): queue visibility timeout 10 s is below the recommended 6 × function timeout (2 s) + batching window = 12 s',
    ]);
  });

  it('S13: after maxReceiveCount receives the queue moves the message to its DLQ', async (context) => {
    // Prepare
    const dlq = await createQueue(sqs, uniqueName('s13-dlq'));
    const queue = await createQueue(sqs, uniqueName('s13'), {
      VisibilityTimeout: '1',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 2 }),
    });
    await sendBodies(sqs, queue.url, ['poison']);
    const fn = jsFunction('s13', () => {
      throw new Error('always');
    });
    // Act
    const running = start(context, [sqsMapping(fn, queue)], [fn], [queue]);
    await waitFor('the DLQ to hold the message', async () => (await queueDepth(sqs, dlq.url)) === 1, 20_000);
    await waitForIdle(running);
    // Assess
    expect(fn.calls.map((c) => c.records[0].attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
    const [dead] = await receiveAll(sqs, dlq.url);
    expect(dead?.Body).toBe('poison');
    expect(await queueDepth(sqs, queue.url)).toBe(0);
  });

  it('S15: the event record has the AWS shape with string attributes', async (context) => {
    // Prepare
    const queue = await createQueue(sqs, uniqueName('s15'), { VisibilityTimeout: '5' });
    const body = JSON.stringify({ hello: 'world' });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.url,
        MessageBody: body,
        MessageAttributes: {
          trace: { DataType: 'String', StringValue: 't-1' },
          count: { DataType: 'Number', StringValue: '42' },
          blob: { DataType: 'Binary', BinaryValue: Buffer.from('hi') },
        },
      }),
    );
    const fn = jsFunction('s15', () => undefined);
    // Act
    start(context, [sqsMapping(fn, queue)], [fn], [queue]);
    await waitFor('one call', () => fn.calls.length === 1);
    // Assess
    const [record] = fn.calls[0]!.records;
    expect(Object.keys(record)).toEqual([
      'messageId', 'receiptHandle', 'body', 'attributes', 'messageAttributes', 'md5OfBody', 'md5OfMessageAttributes',
      'eventSource', 'eventSourceARN', 'awsRegion',
    ]);
    expect(record).toMatchObject({
      body,
      md5OfBody: createHash('md5').update(body).digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: queue.arn,
      awsRegion: 'us-east-1',
      messageAttributes: {
        trace: { stringValue: 't-1', stringListValues: [], binaryListValues: [], dataType: 'String' },
        count: { stringValue: '42', stringListValues: [], binaryListValues: [], dataType: 'Number' },
        blob: { binaryValue: Buffer.from('hi').toString('base64'), stringListValues: [], binaryListValues: [], dataType: 'Binary' },
      },
    });
    expect(record.md5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
    expect(Object.keys(record.attributes).sort()).toEqual(
      ['ApproximateFirstReceiveTimestamp', 'ApproximateReceiveCount', 'SenderId', 'SentTimestamp'],
    );
    for (const value of Object.values(record.attributes)) expect(typeof value).toBe('string');
    expect(record.attributes.ApproximateReceiveCount).toBe('1');
  });
});
