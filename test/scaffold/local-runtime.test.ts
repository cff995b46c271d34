import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PaymentsApiClient } from '../../local/api-client.js';
import {
  buildDemoScenario,
  comparePipeline,
  compareResponses,
  expectedOutcome,
  newRunId,
  observePipeline,
  pickStackOutputs,
  requireOutput,
  sendScenario,
  type PipelineHandles,
} from '../../local/demo.js';
import { freePort } from '../../local/emulators.js';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/webhook-receiver.js';
import { copyProject, generateAll, runBin, writeScaffoldApp, type ProjectCopy } from './project-copy.js';

// Issue 7, "done when": a scaffolded consumer of each effect runs on the local runtime next to the payments pipeline,
// the demo traffic still gives exactly the expected figures, and each consumer's effect happens once per key.

const CONSUMERS = [
  { name: 'fifo-ddb-outbox', queue: 'fifo', effect: 'dynamodb', outbox: true },
  { name: 'std-external', queue: 'standard', effect: 'external', outbox: false },
] as const;

let copy: ProjectCopy;
let receiver: WebhookReceiver;
let downstream: Server;
const downstreamCalls = new Map<string, number>();
let runtime: LocalRuntime;
let handles: PipelineHandles;
let account: string;
let runId: string;

async function depth(QueueUrl: string): Promise<number> {
  const { Attributes } = await handles.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/** Every message of a queue, deleted as read (a FIFO group delivers its next message once the previous is gone). */
async function drain(QueueUrl: string): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const { Messages } = await handles.sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }),
    );
    if (!Messages?.length) return all;
    all.push(...Messages);
    for (const m of Messages) await handles.sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
  }
}

async function totalOf(accountId: string) {
  const { Item } = await handles.dynamodb.send(
    new GetItemCommand({
      TableName: requireOutput(handles.outputs, 'LedgerTableName'),
      Key: { pk: { S: `FIFO_DDB_OUTBOX#${accountId}` }, sk: { S: 'TOTAL' } },
      ConsistentRead: true,
    }),
  );
  return { total: Item?.total?.N, count: Item?.count?.N };
}

beforeAll(async () => {
  copy = copyProject();
  generateAll(copy.root, CONSUMERS);
  writeScaffoldApp(copy.root);
  receiver = await startWebhookReceiver();
  // The external consumer's own downstream (context stdExternalUrl), apart from the payments webhook.
  downstream = createServer((request, response) => {
    const key = String(request.headers['idempotency-key']);
    request.resume().on('end', () => {
      downstreamCalls.set(key, (downstreamCalls.get(key) ?? 0) + 1);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => downstream.listen(0, '127.0.0.1', resolve));
  runtime = await startLocalRuntime({
    projectDir: copy.root,
    app: 'npx tsx scaffold-app.ts',
    context: {
      scaffoldMode: 'payments',
      webhookUrl: receiver.url,
      stdExternalUrl: `http://127.0.0.1:${(downstream.address() as AddressInfo).port}/in`,
      // Short consumer timeouts keep visibility-timeout redeliveries quick, as the chaos runs do.
      consumerTimeoutSeconds: '5',
    },
    ports: { api: await freePort(), dynamodb: await freePort(), sqs: await freePort() },
    quiet: true,
    outDir: join(copy.root, '.local'),
  });
  const outputs = pickStackOutputs(runtime.outputs);
  const region = runtime.env.AWS_REGION ?? 'us-east-1';
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  handles = {
    outputs,
    api: new PaymentsApiClient({ apiUrl: requireOutput(outputs, 'ApiUrl'), region, credentials }),
    dynamodb: new DynamoDBClient({ endpoint: runtime.endpoints.dynamodb, region, credentials }),
    sqs: new SQSClient({ endpoint: runtime.endpoints.sqs, region, credentials }),
    receiver,
  };
}, 600_000); // two cores shared with other suites: synthesis and the JVM can take minutes

afterAll(async () => {
  handles?.dynamodb.destroy();
  handles?.sqs.destroy();
  await runtime?.stop();
  await receiver?.stop();
  await new Promise((resolve) => downstream?.close(resolve));
  copy?.remove();
});

describe('scaffolded consumers on the local runtime, next to the payments pipeline', () => {
  it('runs the generated handlers from ESM bundles made by the local esbuild (no Docker)', () => {
    const bundles = readdirSync(runtime.files.assembly)
      .filter((d) => d.startsWith('asset.'))
      .map((d) => join(runtime.files.assembly, d, 'index.mjs'))
      .filter((f) => existsSync(f))
      .map((f) => readFileSync(f, 'utf8'));
    // The generated consumer's event schema is bundled into the one relay (and the sweeper), registered by the scaffold.
    expect(bundles.filter((code) => code.includes('FifoDdbOutboxRecorded'))).toHaveLength(3);
    expect(bundles.filter((code) => code.includes('std-external') && code.includes('idempotency-key'))).toHaveLength(1);
  });

  it('runs the demo traffic unchanged and applies each consumer message once per key', async () => {
    // Prepare
    runId = newRunId('scaffold');
    const scenario = buildDemoScenario(runId);
    const expected = expectedOutcome(scenario);
    const fifoQueue = requireOutput(handles.outputs, 'FifoDdbOutboxQueueUrl');
    const externalQueue = requireOutput(handles.outputs, 'StdExternalQueueUrl');
    account = `acct-${runId}`.slice(0, 64);
    const k = (label: string) => `${runId}-${label}`;
    const send = (QueueUrl: string, body: object, fifo?: { dedup: string }) =>
      handles.sqs.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: JSON.stringify(body),
          ...(fifo ? { MessageGroupId: account, MessageDeduplicationId: fifo.dedup } : {}),
        }),
      );

    // Act: the demo through the API, and a producer that re-sends (new dedup id = past SQS's FIFO window)
    const results = await sendScenario(handles.api, scenario);
    await send(fifoQueue, { idempotencyKey: k('a'), accountId: account, amount: 100 }, { dedup: 'a-1' });
    await send(fifoQueue, { idempotencyKey: k('a'), accountId: account, amount: 100 }, { dedup: 'a-2' });
    await send(fifoQueue, { idempotencyKey: k('b'), accountId: account, amount: 7 }, { dedup: 'b-1' });
    await send(externalQueue, { idempotencyKey: k('c'), accountId: account, amount: 1 });
    await send(externalQueue, { idempotencyKey: k('c'), accountId: account, amount: 1 });
    await send(externalQueue, { idempotencyKey: k('d'), accountId: account, amount: 2 });
    await runtime.waitForIdle({ timeoutMs: 120_000 });

    // Assess: the payments pipeline shows exactly the demo's expected figures
    const observed = await observePipeline(handles, expected.accounts.map((a) => a.accountId));
    const wrong = [...compareResponses(results, expected), ...comparePipeline(observed, expected)].filter((r) => !r.ok);
    expect(wrong).toEqual([]);

    // Assess: the DynamoDB consumer's effect and outbox event happened once per key
    const ledgerTable = requireOutput(handles.outputs, 'LedgerTableName');
    expect(await totalOf(account)).toEqual({ total: '107', count: '2' });
    const outbox = await handles.dynamodb.send(
      new ScanCommand({
        TableName: ledgerTable,
        FilterExpression: 'begins_with(pk, :p) AND eventType = :type AND groupKey = :account',
        ExpressionAttributeValues: { ':p': { S: 'OUTBOX#' }, ':type': { S: 'FifoDdbOutboxRecorded' }, ':account': { S: account } },
      }),
    );
    expect(outbox.Items).toHaveLength(2);
    // … relayed: every item marked published, and its events queue holds each event exactly once, in order, grouped
    // by account and deduplicated by event id
    expect(outbox.Items!.map((i) => typeof i.publishedAt?.S)).toEqual(['string', 'string']);
    const delivered = await drain(requireOutput(handles.outputs, 'FifoDdbOutboxEventsQueueUrl'));
    const mine = delivered.filter((m) => m.Attributes?.MessageGroupId === account);
    expect(mine.map((m) => JSON.parse(m.Body!).idempotencyKey)).toEqual([k('a'), k('b')]);
    expect(new Set(mine.map((m) => m.Attributes?.MessageDeduplicationId)).size).toBe(2);
    expect(mine.map((m) => m.MessageAttributes?.eventType?.StringValue)).toEqual(['FifoDdbOutboxRecorded', 'FifoDdbOutboxRecorded']);

    // Assess: the external consumer called its downstream once per key
    expect(downstreamCalls.get(k('c'))).toBe(1);
    expect(downstreamCalls.get(k('d'))).toBe(1);

    // Assess: nothing dead-lettered anywhere, the consumers' DLQs included
    expect(observed.deadLetters).toEqual({ PaymentsDlqUrl: 0, EventsDlqUrl: 0, RelayFailureQueueUrl: 0 });
    expect(await depth(requireOutput(handles.outputs, 'FifoDdbOutboxDlqUrl'))).toBe(0);
    expect(await depth(requireOutput(handles.outputs, 'StdExternalDlqUrl'))).toBe(0);
  }, 150_000); // the demo drains in ~20 s on an idle machine; CI shares two cores with every other suite

  it('npm run redrive -- FifoDdbOutboxDlqUrl moves dead letters back, skipping the already-applied one', async () => {
    // Prepare: two dead letters in the consumer's DLQ, one whose key was applied by the first test
    expect(account).toBeDefined();
    const dlq = requireOutput(handles.outputs, 'FifoDdbOutboxDlqUrl');
    for (const [label, amount] of [['a', 100], ['e', 1000]] as const) {
      await handles.sqs.send(
        new SendMessageCommand({
          QueueUrl: dlq,
          MessageBody: JSON.stringify({ idempotencyKey: `${runId}-${label}`, accountId: account, amount }),
          MessageGroupId: account,
          MessageDeduplicationId: `dead-${label}`,
        }),
      );
    }

    // Act: the CLI, from the project copy, resolving everything from .local/outputs.json and .local/env
    const result = await runBin(copy.root, 'tsx', ['scripts/redrive.ts', 'FifoDdbOutboxDlqUrl']);
    await runtime.waitForIdle({ timeoutMs: 60_000 });

    // Assess
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`key=${runId}-a .*ALREADY APPLIED.*dropped from DLQ`));
    expect(result.stdout).toMatch(new RegExp(`key=${runId}-e .*not applied.*resent as`));
    expect(await totalOf(account)).toEqual({ total: '1107', count: '3' });
    expect(await depth(dlq)).toBe(0);
  }, 90_000);
});
