/**
 * Child process of the long run (scripts/chaos/long-run.ts): one Lambda-like execution environment pool around the
 * REAL ledger handler bundle, with the fault plan in its environment (as the local runtime sets it).
 *
 * Each poller receives up to 10 messages from the payments FIFO queue (S1), builds the SQS event the mapping would
 * (S15), invokes the handler with a context whose deadline is the function timeout, and deletes what the partial
 * batch response does not report (S6). Like Lambda, it does nothing with reported or crashed messages: they come back
 * when their visibility timeout ends (S5), and the queue's redrive policy dead-letters them after maxReceiveCount
 * (S13). The handler's stdout (EMF metrics, injected-fault notes) goes to the parent, which counts them.
 *
 * Protocol (IPC): parent → `{type:'stop'}`; worker → `{type:'ready'}` / `{type:'stats', stats}` every second /
 * `{type:'fatal', message}`.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';

/** What the parent tells the worker (JSON in argv[2]). */
export interface LongRunWorkerConfig {
  /** The esbuild bundle of the ledger handler (what deploys). */
  readonly bundlePath: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  /** Concurrent pollers (= concurrent invocations) in this process. */
  readonly pollers: number;
  readonly timeoutMs: number;
}

/** Counters the worker reports. */
export interface LongRunWorkerStats {
  readonly invocations: number;
  /** Invocations that threw (an injected crash): the whole batch comes back after its visibility timeout. */
  readonly invocationErrors: number;
  readonly recordsReceived: number;
  readonly recordsDeleted: number;
  readonly recordsReported: number;
  readonly batchSizes: Record<number, number>;
}

type Handler = (event: SQSEvent, context: Context) => Promise<{ batchItemFailures?: Array<{ itemIdentifier: string }> } | void>;

const config = JSON.parse(process.argv[2] ?? '{}') as LongRunWorkerConfig;
const sqs = new SQSClient({ endpoint: process.env.AWS_ENDPOINT_URL_SQS });
const stats = { invocations: 0, invocationErrors: 0, recordsReceived: 0, recordsDeleted: 0, recordsReported: 0, batchSizes: {} as Record<number, number> };
let stopping = false;
let refusedDeletesShown = 0;

async function main(): Promise<void> {
  const mod = (await import(pathToFileURL(config.bundlePath).href)) as { handler?: Handler };
  if (typeof mod.handler !== 'function') throw new Error(`${config.bundlePath} exports no handler`);
  const handler = mod.handler;
  process.on('message', (raw: unknown) => {
    if ((raw as { type?: string }).type === 'stop') stopping = true;
  });
  // The parent holds fauxqs: without it there is nothing to poll.
  process.on('disconnect', () => process.exit(0));
  const timer = setInterval(() => process.send?.({ type: 'stats', stats }), 1000);
  process.send?.({ type: 'ready' });
  await Promise.all(Array.from({ length: config.pollers }, () => poll(handler)));
  clearInterval(timer);
  process.send?.({ type: 'stats', stats }, () => process.exit(0));
}

async function poll(handler: Handler): Promise<void> {
  while (!stopping) {
    let messages: Message[];
    try {
      // Short polls: fauxqs's long poll does not wake when a FIFO group unblocks (see scripts/bench/ledger-worker.ts).
      ({ Messages: messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: config.queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      ));
    } catch (error) {
      process.stderr.write(`receive failed: ${String(error)}\n`);
      await sleep(200);
      continue;
    }
    if (messages.length === 0) {
      await sleep(50);
      continue;
    }
    stats.recordsReceived += messages.length;
    stats.batchSizes[messages.length] = (stats.batchSizes[messages.length] ?? 0) + 1;
    await invoke(handler, messages);
  }
}

async function invoke(handler: Handler, messages: Message[]): Promise<void> {
  const deadline = Date.now() + config.timeoutMs;
  stats.invocations++;
  let failed: Set<string>;
  try {
    const response = await handler({ Records: messages.map(toRecord) }, lambdaContext(deadline));
    failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
  } catch {
    // A crash: nothing is deleted, the batch comes back after the visibility timeout (S5).
    stats.invocationErrors++;
    return;
  }
  stats.recordsReported += failed.size;
  const done = messages.filter((m) => !failed.has(m.MessageId!));
  if (done.length === 0) return;
  try {
    const answer = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: config.queueUrl,
        Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
    stats.recordsDeleted += done.length - (answer.Failed?.length ?? 0);
    if (answer.Failed?.length && refusedDeletesShown++ < 5) {
      // The parent shows the handler's first errors; a refused delete is the poller's, said the same way.
      process.stdout.write(`${JSON.stringify({ level: 'ERROR', message: 'DeleteMessageBatch refused entries', failed: answer.Failed.slice(0, 3) })}\n`);
    }
  } catch (error) {
    // As the mapping: a failed delete means a redelivery, which the ledger absorbs.
    process.stderr.write(`delete failed: ${String(error)}\n`);
  }
}

function toRecord(m: Message): SQSRecord {
  const a = m.Attributes ?? {};
  return {
    messageId: m.MessageId!,
    receiptHandle: m.ReceiptHandle!,
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? 'long-run',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      SequenceNumber: a.SequenceNumber,
      MessageGroupId: a.MessageGroupId,
      MessageDeduplicationId: a.MessageDeduplicationId,
    },
    messageAttributes: {},
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: config.queueArn,
    awsRegion: process.env.AWS_REGION ?? 'us-east-1',
  };
}

function lambdaContext(deadline: number): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'long-run-ledger',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:long-run-ledger',
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/long-run-ledger',
    logStreamName: 'long-run',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

main().catch((error: unknown) => {
  process.send?.({ type: 'fatal', message: error instanceof Error ? `${error.message}\n${error.stack}` : String(error) });
  setTimeout(() => process.exit(1), 50);
});
