/**
 * Child process of the benchmark: a Lambda-like SQS FIFO poller around ONE ledger handler, so each strategy runs in a
 * fresh process (its own module state and its own peak RSS), the way an execution environment would.
 *
 * It long-polls the payments queue (through the recording proxy), builds SQS events with the record shape of the
 * Lambda event source mapping (S15), invokes the handler with a Lambda-like context, and deletes what the partial
 * batch response does not report (S6). A payment marked `benchRedeliver` is not deleted after its first successful
 * delivery but made visible again, as after a crash between the commit and the batch response: the SQS redelivery
 * that keeps the same messageId and SequenceNumber.
 *
 * Protocol (IPC): parent → `{type:'run', phase, expectUnique, expectRedeliveries, timeoutMs}` / `{type:'exit'}`;
 * worker → `{type:'ready', initMs, rssBeforeHandlerBytes}` / `{type:'phase', result}` / `{type:'fatal', message}`.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';

/** What the parent tells the worker at start (JSON in argv[2]). */
export interface WorkerConfig {
  /** The esbuild bundle of the handler, exporting `handler` (the code that deploys). */
  readonly handler: { readonly kind: 'bundle'; readonly path: string };
  readonly queueUrl: string;
  readonly queueArn: string;
  /** Concurrent pollers (= concurrent invocations, as execution environments would be). */
  readonly pollers: number;
  readonly functionName: string;
  readonly timeoutMs: number;
  readonly memoryMb: number;
}

/** What one phase measured. */
export interface PhaseResult {
  readonly phase: string;
  readonly complete: boolean;
  readonly uniqueDone: number;
  readonly redeliveriesDone: number;
  readonly invocations: number;
  readonly invocationErrors: number;
  readonly failedRecords: number;
  readonly durationsMs: number[];
  /** Per payment: SentTimestamp → end of the invocation that first committed it. */
  readonly latenciesMs: number[];
  readonly startedAt: number;
  readonly finishedAt: number;
  /** CPU time (user + system) the consumer process spent during the phase. */
  readonly cpuMs: number;
  /** Peak RSS of the worker process so far (handler + poller). */
  readonly peakRssBytes: number;
}

type Handler = (event: SQSEvent, context: Context) => Promise<{ batchItemFailures?: Array<{ itemIdentifier: string }> } | void>;

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
// Explicit endpoint: with only AWS_ENDPOINT_URL_SQS the SDK would follow the queue URL's host (fauxqs's own name).
const sqs = new SQSClient({ endpoint: process.env.AWS_ENDPOINT_URL_SQS });
let handler: Handler;

interface PhaseState {
  phase: string;
  expectUnique: number;
  expectRedeliveries: number;
  done: Set<string>;
  redelivered: Set<string>;
  invocations: number;
  invocationErrors: number;
  failedRecords: number;
  durationsMs: number[];
  latenciesMs: number[];
  startedAt: number;
  cpuAtStart: NodeJS.CpuUsage;
  resolve: () => void;
}
let current: PhaseState | undefined;
let stopping = false;

async function main(): Promise<void> {
  const rssBeforeHandlerBytes = process.memoryUsage().rss;
  const started = performance.now();
  handler = await loadHandler();
  const initMs = performance.now() - started;
  process.on('message', (raw: unknown) => {
    const msg = raw as { type: string; phase?: string; expectUnique?: number; expectRedeliveries?: number; timeoutMs?: number };
    if (msg.type === 'exit') {
      stopping = true;
      setTimeout(() => process.exit(0), 50);
      return;
    }
    if (msg.type === 'run') void runPhase(msg.phase!, msg.expectUnique!, msg.expectRedeliveries!, msg.timeoutMs!);
  });
  send({ type: 'ready', initMs, rssBeforeHandlerBytes });
  for (let i = 0; i < config.pollers; i++) void poll();
}

async function loadHandler(): Promise<Handler> {
  const mod = (await import(pathToFileURL(config.handler.path).href)) as { handler?: Handler };
  if (typeof mod.handler !== 'function') throw new Error(`${config.handler.path} exports no handler`);
  return mod.handler;
}

async function runPhase(phase: string, expectUnique: number, expectRedeliveries: number, timeoutMs: number): Promise<void> {
  const done = new Promise<void>((resolve) => {
    current = {
      phase,
      expectUnique,
      expectRedeliveries,
      done: new Set(),
      redelivered: new Set(),
      invocations: 0,
      invocationErrors: 0,
      failedRecords: 0,
      durationsMs: [],
      latenciesMs: [],
      startedAt: Date.now(),
      cpuAtStart: process.cpuUsage(),
      resolve,
    };
  });
  const complete = await Promise.race([done.then(() => true), sleep(timeoutMs).then(() => false)]);
  const s = current!;
  current = undefined;
  const cpu = process.cpuUsage(s.cpuAtStart);
  const result: PhaseResult = {
    phase,
    complete,
    uniqueDone: s.done.size,
    redeliveriesDone: s.redelivered.size,
    invocations: s.invocations,
    invocationErrors: s.invocationErrors,
    failedRecords: s.failedRecords,
    durationsMs: s.durationsMs,
    latenciesMs: s.latenciesMs,
    startedAt: s.startedAt,
    finishedAt: Date.now(),
    cpuMs: (cpu.user + cpu.system) / 1000,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
  send({ type: 'phase', result });
}

async function poll(): Promise<void> {
  while (!stopping) {
    if (current === undefined) {
      await sleep(20);
      continue;
    }
    let messages: Message[] = [];
    try {
      const answer = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: config.queueUrl,
          MaxNumberOfMessages: 10,
          // Short polls: fauxqs's long poll does not wake when a FIFO group unblocks, which would add up to the wait
          // time per batch. Empty receives are not counted per payment (see BENCHMARKS.md).
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      );
      messages = answer.Messages ?? [];
    } catch (error) {
      if (!stopping) process.stderr.write(`receive failed: ${String(error)}\n`);
      await sleep(100);
      continue;
    }
    if (messages.length > 0) await invoke(messages);
    else await sleep(5);
  }
}

async function invoke(messages: Message[]): Promise<void> {
  const state = current;
  const event: SQSEvent = { Records: messages.map(toRecord) };
  const started = performance.now();
  const deadline = Date.now() + config.timeoutMs;
  let failed = new Set<string>();
  try {
    const response = await handler(event, lambdaContext(deadline));
    failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
  } catch (error) {
    process.stderr.write(`invocation failed: ${String(error)}\n`);
    failed = new Set(messages.map((m) => m.MessageId!));
    if (state) state.invocationErrors += 1;
  }
  const finished = Date.now();
  if (state) {
    state.invocations += 1;
    state.durationsMs.push(performance.now() - started);
    state.failedRecords += failed.size;
  }
  if (failed.size > 0) process.stderr.write(`batch of ${messages.length}: ${failed.size} reported failed, retried\n`);

  const toDelete: Message[] = [];
  const toReturn: Message[] = [];
  for (const m of messages) {
    const id = m.MessageId!;
    if (failed.has(id)) {
      toReturn.push(m);
      continue;
    }
    const receiveCount = Number(m.Attributes?.ApproximateReceiveCount ?? '1');
    const redeliver = m.MessageAttributes?.benchRedeliver?.StringValue === '1';
    if (state && !state.done.has(id)) {
      state.done.add(id);
      state.latenciesMs.push(finished - Number(m.Attributes?.SentTimestamp ?? finished));
    } else if (state && redeliver) {
      state.redelivered.add(id);
    }
    if (redeliver && receiveCount === 1) toReturn.push(m);
    else toDelete.push(m);
  }
  const settled = await Promise.allSettled([
    toDelete.length > 0
      ? sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: config.queueUrl,
            Entries: toDelete.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        )
      : undefined,
    toReturn.length > 0
      ? sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: config.queueUrl,
            Entries: toReturn.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 })),
          }),
        )
      : undefined,
  ]);
  for (const r of settled) {
    if (r.status === 'rejected') process.stderr.write(`delete/visibility reset failed: ${String(r.reason)}\n`);
    // Batch APIs report per-entry failures in the answer, not as an error.
    const failedEntries = r.status === 'fulfilled' ? (r.value as { Failed?: Array<{ Code?: string; Message?: string }> } | undefined)?.Failed : undefined;
    if (failedEntries && failedEntries.length > 0) {
      process.stderr.write(`delete/visibility reset: ${failedEntries.length} entries failed: ${failedEntries.map((f) => `${f.Code} ${f.Message}`).join('; ')}\n`);
    }
  }
  if (state && state === current && state.done.size >= state.expectUnique && state.redelivered.size >= state.expectRedeliveries) {
    state.resolve();
  }
}

function toRecord(m: Message): SQSRecord {
  const attributes = m.Attributes ?? {};
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(m.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      stringValue: value.StringValue,
      stringListValues: [],
      binaryListValues: [],
      dataType: value.DataType ?? 'String',
    };
  }
  return {
    messageId: m.MessageId!,
    receiptHandle: m.ReceiptHandle!,
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'bench',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      SequenceNumber: attributes.SequenceNumber,
      MessageGroupId: attributes.MessageGroupId,
      MessageDeduplicationId: attributes.MessageDeduplicationId,
    },
    messageAttributes,
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: config.queueArn,
    awsRegion: process.env.AWS_REGION ?? 'us-east-1',
  };
}

function lambdaContext(deadline: number): Context {
  const requestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: config.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${config.functionName}`,
    memoryLimitInMB: String(config.memoryMb),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${config.functionName}`,
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function send(message: object): void {
  process.send?.(message);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

main().catch((error: unknown) => {
  send({ type: 'fatal', message: error instanceof Error ? `${error.message}\n${error.stack}` : String(error) });
  setTimeout(() => process.exit(1), 50);
});
