import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { inject, type TestContext } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/emulators.js';
import {
  startEventSourceMappings,
  type EventSourceMappings,
  type EventSourceMappingsOptions,
  type FunctionInvoker,
  type InvokeResult,
  type QueueInfo,
  type ResolvedMapping,
} from '../../../local/esm/index.js';

export const ACCOUNT_ID = '000000000000';

/** SDK clients pointed at the emulators of the test run. */
export function clients() {
  const config = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  return {
    sqs: new SQSClient({ ...config, endpoint: inject('sqsEndpoint') }),
    ddb: new DynamoDBClient({ ...config, endpoint: inject('ddbEndpoint') }),
    streams: new DynamoDBStreamsClient({ ...config, endpoint: inject('ddbEndpoint') }),
  };
}

export const uniqueName = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** A queue created in fauxqs, with what the ESM layer needs. */
export interface TestQueue extends QueueInfo {
  readonly arn: string;
}

export async function createQueue(sqs: SQSClient, name: string, attributes: Record<string, string> = {}): Promise<TestQueue> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
  return { url: QueueUrl as string, arn: Attributes.QueueArn as string, attributes: Attributes };
}

/** Number of messages visible + in flight + delayed. */
export async function queueDepth(sqs: SQSClient, url: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  return Object.values(Attributes).reduce((sum, v) => sum + Number(v), 0);
}

/** Drains whatever is visible on a queue now (for DLQs and destinations). */
export async function receiveAll(sqs: SQSClient, url: string, waitSeconds = 1): Promise<Message[]> {
  const out: Message[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: out.length === 0 ? waitSeconds : 0 }),
    );
    if (Messages.length === 0) return out;
    out.push(...Messages);
  }
}

export async function createStreamTable(
  ddb: DynamoDBClient,
  name: string,
  viewType: 'NEW_IMAGE' | 'NEW_AND_OLD_IMAGES' | 'KEYS_ONLY' | 'OLD_IMAGE' = 'NEW_AND_OLD_IMAGES',
  extra: Partial<CreateTableCommandInput> = {},
): Promise<string> {
  const { TableDescription } = await ddb.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      StreamSpecification: { StreamEnabled: true, StreamViewType: viewType },
      ...extra,
    }),
  );
  return TableDescription?.LatestStreamArn as string;
}

/** One recorded invocation of a {@link JsFunction}. */
export interface Call {
  readonly records: any[];
  readonly startedAt: number;
  endedAt?: number;
  result?: InvokeResult;
}

/** A purpose-built function: a plain FunctionInvoker around a JS handler, recording every call. */
export interface JsFunction extends FunctionInvoker {
  readonly calls: Call[];
  /** Highest number of invocations seen running at once. */
  readonly maxConcurrent: number;
}

/**
 * Builds a test function. The handler receives the event; a throw is an `Unhandled` error result; running past
 * `timeoutSeconds` gives a timed-out result while the handler keeps running (as a Lambda zombie would).
 */
export function jsFunction(
  name: string,
  handler: (event: { Records: any[] }, call: number) => unknown,
  timeoutSeconds = 3,
): JsFunction {
  const calls: Call[] = [];
  let running = 0;
  let maxConcurrent = 0;
  return {
    functionName: name,
    arn: `arn:aws:lambda:${LOCAL_REGION}:${ACCOUNT_ID}:function:${name}`,
    timeoutSeconds,
    calls,
    get maxConcurrent() {
      return maxConcurrent;
    },
    async invoke(event: unknown): Promise<InvokeResult> {
      const typed = JSON.parse(JSON.stringify(event)) as { Records: any[] };
      const call: Call = { records: typed.Records, startedAt: Date.now() };
      const index = calls.push(call) - 1;
      running++;
      maxConcurrent = Math.max(maxConcurrent, running);
      const requestId = randomUUID();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutSeconds * 1000)));
      let result: InvokeResult;
      try {
        const outcome = await Promise.race([Promise.resolve().then(() => handler(typed, index)), timeout]);
        result = outcome === 'timeout'
          ? { ok: false, timedOut: true, durationMs: Date.now() - call.startedAt, requestId,
              error: { errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${timeoutSeconds} seconds` } }
          : { ok: true, payload: outcome === undefined ? undefined : JSON.parse(JSON.stringify(outcome)), timedOut: false,
              durationMs: Date.now() - call.startedAt, requestId };
      } catch (error) {
        result = { ok: false, timedOut: false, durationMs: Date.now() - call.startedAt, requestId,
          error: { errorType: (error as Error).name, errorMessage: (error as Error).message } };
      } finally {
        clearTimeout(timer);
        running--;
      }
      call.endedAt = Date.now();
      call.result = result;
      return result;
    },
  };
}

/** Starts mappings against the test emulators; queues are looked up among those given. */
export function startMappings(
  mappings: ResolvedMapping[],
  functions: JsFunction[],
  queues: TestQueue[],
  extra: Partial<EventSourceMappingsOptions> = {},
): EventSourceMappings & { lines: string[] } {
  const { sqs, streams } = clients();
  const lines: string[] = [];
  const handle = startEventSourceMappings({
    mappings,
    invokers: new Map(functions.map((f) => [f.arn, f])),
    sqs,
    streams,
    queueByArn: (arn) => queues.find((q) => q.arn === arn),
    log: (line) => lines.push(line),
    region: LOCAL_REGION,
    accountId: ACCOUNT_ID,
    streamPollIntervalMs: 50,
    ...extra,
  });
  return Object.assign(handle, { lines });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` until it is true. @throws Error naming `what` after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Waits until the mappings report idle twice in a row, 300 ms apart (idle() reflects the last poll). */
export async function waitForIdle(handle: EventSourceMappings, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let streak = 0;
  while (streak < 2) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the mappings to be idle');
    streak = handle.idle() ? streak + 1 : 0;
    await sleep(300);
  }
}

/** Shorthand for an SQS mapping. */
export function sqsMapping(fn: JsFunction, queue: TestQueue, props: Partial<ResolvedMapping> = {}): ResolvedMapping {
  return { logicalId: uniqueName('Mapping'), functionRef: fn.arn, eventSourceArn: queue.arn, ...props };
}

/** Shorthand for a DynamoDB Streams mapping. */
export function streamMapping(fn: JsFunction, streamArn: string, props: Partial<ResolvedMapping> = {}): ResolvedMapping {
  return { logicalId: uniqueName('Mapping'), functionRef: fn.arn, eventSourceArn: streamArn, startingPosition: 'TRIM_HORIZON', ...props };
}

/** Starts mappings for one test and stops them when it finishes (tests run concurrently). */
export function startForTest(context: TestContext, ...args: Parameters<typeof startMappings>): ReturnType<typeof startMappings> {
  const handle = startMappings(...args);
  context.onTestFinished(() => handle.stop());
  return handle;
}
