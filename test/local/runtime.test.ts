import { readFileSync, rmSync } from 'node:fs';
import { Sha256 } from '@aws-crypto/sha256-js';
import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.js';
import type { LocalFunction } from '../../local/lambda/local-function.js';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime.js';
import { canConnect } from '../support/ports.js';

// One synthesis and one runtime (own emulators on free ports) for the whole file: synth is the slow part.
let runtime: LocalRuntime;
let dynamodb: DynamoDBClient;
let sqs: SQSClient;
const outDir = `.local/test-runtime-${process.pid}`;

/** Looks a resource up by its construct id: CDK logical ids are the id plus an 8-hex-digit hash. */
const byPrefix = <T>(map: ReadonlyMap<string, T>, prefix: string): T => {
  const key = [...map.keys()].find((k) => new RegExp(`^${prefix}[0-9A-F]{8}$`).test(k));
  if (!key) throw new Error(`no ${prefix}* in ${[...map.keys()].join(', ')}`);
  return map.get(key)!;
};
const fn = (prefix: string): LocalFunction => byPrefix(runtime.functions, prefix);
const apiUrl = () => runtime.outputs.LocalFixture!.ApiUrl!;

beforeAll(async () => {
  runtime = await startLocalRuntime({
    app: 'npx tsx test/fixtures/apps/basic/app.ts',
    ports: { api: 0, dynamodb: 0, sqs: 0 },
    outDir,
    quiet: true,
    functionEnv: { EXTRA_FROM_RUNTIME: 'yes' },
  });
  const config = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  dynamodb = new DynamoDBClient({ ...config, endpoint: runtime.endpoints.dynamodb });
  sqs = new SQSClient({ ...config, endpoint: runtime.endpoints.sqs });
});

afterAll(async () => {
  dynamodb?.destroy();
  sqs?.destroy();
  await runtime?.stop();
  rmSync(outDir, { recursive: true, force: true });
});

describe('resources', () => {
  it('creates the table with its keys, GSI, NEW_IMAGE stream and TTL attribute', async () => {
    // Act
    const table = byPrefix(runtime.tables, 'Items');
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: table.name }));
    const ttl = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: table.name }));
    // Assess
    expect(table.name).toMatch(/^LocalFixture-Items[0-9A-F]{8}-[0-9A-F]{12}$/);
    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName)).toEqual(['byStatus']);
    expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_IMAGE' });
    expect(table.streamArn).toBe(Table?.LatestStreamArn);
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe('expiresAt');
  });

  it('creates the FIFO queue with content dedup, visibility, delay and a redrive policy naming the DLQ ARN (S13)', () => {
    const orders = byPrefix(runtime.queues, 'Orders');
    const dlq = byPrefix(runtime.queues, 'OrdersDlq');
    expect(orders.name).toMatch(/\.fifo$/);
    expect(orders.attributes).toMatchObject({ FifoQueue: 'true', ContentBasedDeduplication: 'true', VisibilityTimeout: '45', DelaySeconds: '1' });
    expect(JSON.parse(orders.attributes.RedrivePolicy!)).toEqual({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 3 });
    expect(dlq.attributes).toMatchObject({ FifoQueue: 'true', MessageRetentionPeriod: '1209600' });
  });

  it('keeps the QueueName the template sets', () => {
    expect(byPrefix(runtime.queues, 'Jobs').name).toBe('fixture-jobs');
  });
});

describe('functions', () => {
  it('resolves the template Environment (Ref, GetAtt, Join, Sub) and adds the runtime variables', async () => {
    // Act
    const result = await fn('Probe').invoke({});
    // Assess
    const env = (result.payload as { env: Record<string, string> }).env;
    const table = byPrefix(runtime.tables, 'Items');
    const orders = byPrefix(runtime.queues, 'Orders');
    expect(env).toMatchObject({
      TABLE_NAME: table.name,
      TABLE_ARN: `arn:aws:dynamodb:us-east-1:000000000000:table/${table.name}`,
      STREAM_ARN: table.streamArn,
      ORDERS_URL: orders.url,
      ORDERS_ARN: orders.arn,
      JOBS_NAME: 'fixture-jobs',
      JOINED: 'us-east-1:000000000000:x',
      SUBBED: `aws/${table.name}`,
      PLAIN: 'plain-value',
      AWS_ENDPOINT_URL_SQS: runtime.endpoints.sqs,
      AWS_ENDPOINT_URL_DYNAMODB: runtime.endpoints.dynamodb,
      AWS_ENDPOINT_URL_DYNAMODB_STREAMS: runtime.endpoints.dynamodb,
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_LAMBDA_FUNCTION_NAME: fn('Probe').functionName,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      EXACTLY_ONCE_LOCAL_RUNTIME: '1',
      EXTRA_FROM_RUNTIME: 'yes',
    });
    expect(env.AWS_ACCESS_KEY_ID).toBeTruthy();
  });

  it('gives the handler a Lambda context (awsRequestId, ARN, memory, log names, remaining time)', async () => {
    const probe = fn('Probe');
    const result = await probe.invoke({});
    const context = (result.payload as { context: Record<string, unknown> }).context;
    expect(context).toMatchObject({
      awsRequestId: result.requestId,
      functionName: probe.functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: probe.arn,
      memoryLimitInMB: '256',
      logGroupName: `/aws/lambda/${probe.functionName}`,
      callbackWaitsForEmptyEventLoop: true,
    });
    expect(context.logStreamName).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    expect(context.remaining).toBeGreaterThan(0);
    expect(context.remaining).toBeLessThanOrEqual(5000);
  });

  it('keeps module-scope state between warm invocations', async () => {
    const probe = fn('Probe');
    const first = (await probe.invoke({})).payload as { invocations: number; loadedAt: number };
    const second = (await probe.invoke({})).payload as { invocations: number; loadedAt: number };
    expect(second.invocations).toBe(first.invocations + 1);
    expect(second.loadedAt).toBe(first.loadedAt);
  });

  it('fails an invocation past its Timeout with "Task timed out" and starts the next one cold (F8)', async () => {
    // Prepare
    const sleepy = fn('Sleepy');
    const warm = (await sleepy.invoke({ sleepMs: 0 })).payload as { invocations: number };
    const coldStartsBefore = sleepy.stats.coldStarts;
    // Act
    const timedOut = await sleepy.invoke({ sleepMs: 1_500 });
    const next = await sleepy.invoke({ sleepMs: 0 });
    // Assess
    expect(warm.invocations).toBeGreaterThanOrEqual(1);
    expect(timedOut).toMatchObject({ ok: false, timedOut: true, error: { errorType: 'Sandbox.Timedout' } });
    expect(timedOut.error?.errorMessage).toMatch(new RegExp(`${timedOut.requestId} Task timed out after 1\\.00 seconds$`));
    expect(next).toMatchObject({ ok: true, payload: { invocations: 1 } });
    expect(sleepy.stats.coldStarts).toBe(coldStartsBefore + 1);
    expect(sleepy.stats.timeouts).toBeGreaterThanOrEqual(1);
  });

  it('reports a thrown error as {errorType, errorMessage} and keeps the instance warm', async () => {
    const sleepy = fn('Sleepy');
    const before = ((await sleepy.invoke({})).payload as { invocations: number }).invocations;
    const failed = await sleepy.invoke({ fail: true });
    const after = ((await sleepy.invoke({})).payload as { invocations: number }).invocations;
    expect(failed).toMatchObject({ ok: false, timedOut: false, error: { errorType: 'RangeError', errorMessage: 'asked to fail' } });
    expect(after).toBe(before + 2);
  });
});

describe('REST API (Lambda proxy)', () => {
  it('serves the stage path with the REST proxy event and maps status and headers back', async () => {
    // Act
    const response = await fetch(`${apiUrl()}items/42?status=201&tag=a&tag=b`, { headers: { 'X-Custom': 'v' } });
    const event = (await response.json()) as any;
    // Assess
    expect(response.status).toBe(201);
    expect(response.headers.get('x-echo')).toBe('yes');
    expect(event).toMatchObject({
      resource: '/items/{id}',
      path: '/items/42',
      httpMethod: 'GET',
      pathParameters: { id: '42' },
      queryStringParameters: { status: '201', tag: 'b' },
      multiValueQueryStringParameters: { tag: ['a', 'b'] },
      body: null,
      isBase64Encoded: false,
      requestContext: { stage: 'test', resourcePath: '/items/{id}', httpMethod: 'GET', path: '/test/items/42' },
    });
    expect(event.headers['X-Custom'] ?? event.headers['x-custom']).toBe('v');
    expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.requestContext.identity.sourceIp).toBeTruthy();
  });

  it('accepts a SigV4-signed POST on an IAM-authorized method (signature verified, admin local caller) with its body', async () => {
    // Prepare
    const url = new URL(`${apiUrl()}items/7`);
    const signer = new SignatureV4({ service: 'execute-api', region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, sha256: Sha256 });
    const body = JSON.stringify({ amount: 5 });
    const signed = await signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      headers: { host: url.host, 'content-type': 'application/json' },
      body,
    });
    // Act
    const response = await fetch(url, { method: 'POST', headers: signed.headers, body });
    const event = (await response.json()) as any;
    // Assess
    expect(response.status).toBe(200);
    expect(event.body).toBe(body);
    expect(event.requestContext.identity.accessKey).toBe(LOCAL_CREDENTIALS.accessKeyId);
  });

  it('matches a greedy {proxy+} resource with ANY and maps multi-value headers', async () => {
    const response = await fetch(`${apiUrl()}files/a/b.txt?multi=1`, { method: 'DELETE' });
    const event = (await response.json()) as any;
    expect(event).toMatchObject({ resource: '/files/{proxy+}', httpMethod: 'DELETE', pathParameters: { proxy: 'a/b.txt' } });
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
  });

  it('rejects an unknown route, method or stage with 403 Missing Authentication Token as AWS does', async () => {
    for (const [path, method] of [['items', 'GET'], ['items/1', 'DELETE'], ['nope', 'GET']] as const) {
      const response = await fetch(`${apiUrl()}${path}`, { method });
      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({ message: 'Missing Authentication Token' });
    }
    const wrongStage = await fetch(`${runtime.endpoints.api}/prod/items/1`);
    expect(wrongStage.status).toBe(403);
  });
});

describe('event source mapping wiring', () => {
  it('runs the SQS mapping from the template: every job lands in the table and waitForIdle waits for it', async () => {
    // Prepare
    const jobs = byPrefix(runtime.queues, 'Jobs');
    const table = byPrefix(runtime.tables, 'Items');
    const worker = fn('JobWorker');
    const before = worker.stats.count;
    // Act
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: jobs.url,
        Entries: ['j1', 'j2', 'j3'].map((id) => ({ Id: id, MessageBody: id })),
      }),
    );
    await runtime.waitForIdle({ timeoutMs: 30_000 });
    // Assess
    for (const id of ['j1', 'j2', 'j3']) {
      const { Item } = await dynamodb.send(new GetItemCommand({ TableName: table.name, Key: { pk: { S: `JOB#${id}` }, sk: { S: 'JOB' } } }));
      expect(Item?.status?.S).toBe('done');
    }
    expect(worker.stats.count).toBeGreaterThan(before);
    expect(runtime.stats()[worker.definition.logicalId]?.count).toBe(worker.stats.count);
  });
});

describe('output files and stop', () => {
  it('writes outputs.json like cdk deploy --outputs-file, with ApiUrl on the local API, and the env file', () => {
    const outputs = JSON.parse(readFileSync(runtime.files.outputs, 'utf8'));
    expect(outputs).toEqual(runtime.outputs);
    expect(outputs.LocalFixture.ApiUrl).toBe(`${runtime.endpoints.api}/test/`);
    expect(outputs.LocalFixture.OrdersUrl).toBe(byPrefix(runtime.queues, 'Orders').url);
    expect(outputs.LocalFixture.TableName).toBe(byPrefix(runtime.tables, 'Items').name);
    expect(outputs.LocalFixture.StreamArn).toBe(byPrefix(runtime.tables, 'Items').streamArn);
    const env = Object.fromEntries(readFileSync(runtime.files.env, 'utf8').trim().split('\n').map((line) => line.split(/=(.*)/s).slice(0, 2)));
    expect(env).toMatchObject({
      AWS_ENDPOINT_URL_SQS: runtime.endpoints.sqs,
      AWS_ENDPOINT_URL_DYNAMODB: runtime.endpoints.dynamodb,
      AWS_ENDPOINT_URL_DYNAMODB_STREAMS: runtime.endpoints.dynamodb,
      AWS_REGION: 'us-east-1',
    });
    expect(env.AWS_ACCESS_KEY_ID).toBeTruthy();
    expect(env.AWS_SECRET_ACCESS_KEY).toBeTruthy();
  });

  it('stop() frees the API, SQS and DynamoDB ports and fails later invocations', async () => {
    // Prepare
    const ports = [runtime.endpoints.api, runtime.endpoints.sqs, runtime.endpoints.dynamodb].map((url) => Number(new URL(url).port));
    // Act
    await runtime.stop();
    // Assess
    for (const port of ports) expect(await canConnect(port)).toBe(false);
    expect(await fn('Probe').invoke({})).toMatchObject({ ok: false, error: { errorType: 'Runtime.Stopped' } });
  });
});
