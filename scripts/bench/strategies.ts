import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  ScanCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, DeleteQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.js';
import { ENV } from '../../lambdas/shared/env.js';
import { deduplicationIdFor } from '../../lambdas/shared/payments-model.js';
import type { LedgerStrategyName } from '../../lambdas/ledger/strategy.js';
import type { RecordingProxy, ProxyCounters } from './recording-proxy.js';
import type { PhaseResult, WorkerConfig } from './ledger-worker.js';
import { generateWorkload, type WorkloadPayment } from './workload.js';

/** Sizes of one strategy run. */
export interface StrategyRunOptions {
  readonly strategy: LedgerStrategyName;
  readonly duplicateRate: number;
  /** Payments preloaded, then drained: the throughput phase. */
  readonly backlogPayments: number;
  /** Payments sent at `pacedRatePerSecond` while the consumer runs: the latency phase. */
  readonly pacedPayments: number;
  readonly pacedRatePerSecond: number;
  readonly accounts: number;
  /** Concurrent invocations (pollers) of the consumer. */
  readonly concurrency: number;
  readonly seed: number;
  /** Bundled ledger handler (what deploys). */
  readonly bundlePath: string;
  readonly memoryMb: number;
  readonly phaseTimeoutMs: number;
}

/** Emulators and the recording proxies in front of them. */
export interface BenchEndpoints {
  readonly dynamodb: string;
  readonly sqs: string;
  readonly dynamodbProxy: RecordingProxy;
  readonly dynamodbProxyUrl: string;
  readonly sqsProxy: RecordingProxy;
  readonly sqsProxyUrl: string;
  /** PID of DynamoDB Local's JVM, when known, to charge its CPU time to the run. */
  readonly dynamodbPid?: number;
}

/** Raw measurements of one strategy at one duplicate rate. */
export interface StrategyRun {
  readonly strategy: LedgerStrategyName;
  readonly duplicateRate: number;
  readonly throughput: PhaseResult;
  readonly latency: PhaseResult;
  /** Counted during the throughput phase (its payments only). */
  readonly dynamodb: ProxyCounters;
  readonly sqs: ProxyCounters;
  readonly payments: number;
  readonly duplicateDeliveries: number;
  /** From the ledger table after both phases. */
  readonly ledger: LedgerCheck;
  /** Peak RSS of the consumer process (handler + poller) over both phases. */
  readonly peakRssBytes: number;
  /** RSS of the consumer process before it imported the handler (the poller alone). */
  readonly rssBeforeHandlerBytes: number;
  /** CPU time DynamoDB Local's JVM spent during the throughput phase, when its PID is known. */
  readonly dynamodbCpuMs?: number;
}

/** user + system CPU time of a process from /proc (Linux), in ms; undefined elsewhere. */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the command name; clock ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Finds DynamoDB Local's JVM listening on `port` (Linux /proc scan); undefined when not found. */
export function findDynamoDbLocalPid(port: number): number | undefined {
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      const args = cmdline.split('\0');
      if (args.some((a) => a.includes('DynamoDBLocal')) && args.includes(String(port))) return Number(entry);
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** What the ledger holds after a run, against what the workload intended. */
export interface LedgerCheck {
  /** applied + rejected over all accounts (one per payment when exactly-once holds). */
  readonly effects: number;
  readonly expectedEffects: number;
  /** Accounts whose balance differs from a sequential replay of the workload. */
  readonly wrongBalances: number;
}

const WORKER_SOURCE = fileURLToPath(new URL('./ledger-worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let workerBuild: Promise<string> | undefined;

/**
 * The worker compiled to plain JavaScript once per bench run: started with bare `node` (no TypeScript loader in the
 * process), so its RSS is the handler's plus a small poller's.
 */
function workerScript(): Promise<string> {
  workerBuild ??= (async () => {
    const outfile = join(ROOT, '.bench', `run-${process.pid}`, 'worker', 'ledger-worker.mjs');
    await build({
      entryPoints: [WORKER_SOURCE],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      packages: 'external',
      logLevel: 'silent',
    });
    return outfile;
  })();
  return workerBuild;
}

/** Runs one strategy at one duplicate rate: fresh tables, queue and consumer process. */
export async function runStrategy(options: StrategyRunOptions, endpoints: BenchEndpoints): Promise<StrategyRun> {
  const prefix = `b${Date.now().toString(36)}${options.strategy.replace(/[^a-z]/g, '').slice(0, 4)}${Math.round(options.duplicateRate * 100)}`;
  const ddb = new DynamoDBClient({ endpoint: endpoints.dynamodb, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  // The producer talks through the proxy so its SendMessage requests are counted.
  const producer = new SQSClient({ endpoint: endpoints.sqsProxyUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const admin = new SQSClient({ endpoint: endpoints.sqs, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const ledgerTable = `${prefix}-ledger`;
  const idempotencyTable = `${prefix}-idempotency`;
  await createTables(ddb, ledgerTable, idempotencyTable);
  const { QueueUrl: queueUrl } = await admin.send(
    new CreateQueueCommand({
      QueueName: `${prefix}-payments.fifo`,
      // A reported failure is made visible again at once by the poller; this only bounds a lost visibility reset.
      Attributes: { FifoQueue: 'true', VisibilityTimeout: '20' },
    }),
  );
  const backlog = generateWorkload({
    payments: options.backlogPayments,
    accounts: options.accounts,
    duplicateRate: options.duplicateRate,
    seed: options.seed,
    prefix: `${prefix}t`,
  });
  const paced = generateWorkload({
    payments: options.pacedPayments,
    accounts: options.accounts,
    duplicateRate: options.duplicateRate,
    seed: options.seed + 1,
    prefix: `${prefix}l`,
  });

  const worker = startWorker(
    await workerScript(),
    {
      handler: { kind: 'bundle', path: options.bundlePath },
      queueUrl: queueUrl!,
      queueArn: `arn:aws:sqs:${LOCAL_REGION}:000000000000:${prefix}-payments.fifo`,
      pollers: options.concurrency,
      functionName: `bench-ledger-${options.strategy}`,
      timeoutMs: 30_000,
      memoryMb: options.memoryMb,
    },
    {
      AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodbProxyUrl,
      AWS_ENDPOINT_URL_SQS: endpoints.sqsProxyUrl,
      [ENV.LEDGER_TABLE_NAME]: ledgerTable,
      [ENV.IDEMPOTENCY_TABLE_NAME]: idempotencyTable,
      [ENV.DEDUP_TTL_SECONDS]: '1209600',
      [ENV.LEDGER_STRATEGY]: options.strategy,
    },
  );
  try {
    const ready = await worker.ready;

    // Throughput: a backlog, then the consumer drains it.
    endpoints.dynamodbProxy.reset();
    endpoints.sqsProxy.reset();
    await sendAll(producer, queueUrl!, backlog, 4);
    const jvmBefore = processCpuMs(endpoints.dynamodbPid);
    const throughput = await worker.run('throughput', backlog, options.phaseTimeoutMs);
    const jvmAfter = processCpuMs(endpoints.dynamodbPid);
    const dynamodbCpuMs = jvmBefore === undefined || jvmAfter === undefined ? undefined : jvmAfter - jvmBefore;
    const dynamodb = await endpoints.dynamodbProxy.snapshot();
    const sqs = await endpoints.sqsProxy.snapshot();

    // Latency: paced sends while the consumer runs.
    const latencyPhase = worker.run('latency', paced, options.phaseTimeoutMs);
    await sendPaced(producer, queueUrl!, paced, options.pacedRatePerSecond);
    const latency = await latencyPhase;

    const ledger = await checkLedger(ddb, ledgerTable, [...backlog, ...paced], options.strategy);
    return {
      strategy: options.strategy,
      duplicateRate: options.duplicateRate,
      throughput,
      latency,
      dynamodb,
      sqs,
      payments: backlog.length,
      duplicateDeliveries: backlog.filter((p) => p.redeliver).length,
      ledger,
      peakRssBytes: Math.max(throughput.peakRssBytes, latency.peakRssBytes),
      rssBeforeHandlerBytes: ready.rssBeforeHandlerBytes,
      dynamodbCpuMs,
    };
  } finally {
    await worker.stop();
    await Promise.allSettled([
      ddb.send(new DeleteTableCommand({ TableName: ledgerTable })),
      ddb.send(new DeleteTableCommand({ TableName: idempotencyTable })),
      admin.send(new DeleteQueueCommand({ QueueUrl: queueUrl })),
    ]);
    ddb.destroy();
    producer.destroy();
    admin.destroy();
  }
}

/** Creates a ledger table (pk/sk, NEW_IMAGE stream) and a Powertools idempotency table (id), as the stack does. */
export async function createTables(ddb: DynamoDBClient, ledgerTable: string, idempotencyTable: string): Promise<void> {
  // As lib/constructs/tables.ts: ledger pk/sk with a NEW_IMAGE stream; Powertools table keyed by `id`.
  await ddb.send(
    new CreateTableCommand({
      TableName: ledgerTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
    }),
  );
  await ddb.send(
    new CreateTableCommand({
      TableName: idempotencyTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    }),
  );
}

function messageFor(queueUrl: string, payment: WorkloadPayment): SendMessageCommand {
  return new SendMessageCommand({
    QueueUrl: queueUrl,
    MessageBody: JSON.stringify(payment.message),
    MessageGroupId: payment.message.accountId,
    MessageDeduplicationId: deduplicationIdFor(payment.message.idempotencyKey),
    MessageAttributes: payment.redeliver ? { benchRedeliver: { DataType: 'String', StringValue: '1' } } : undefined,
  });
}

/** Sends in order per account (FIFO order = workload order), a few sends in flight across accounts. */
async function sendAll(sqs: SQSClient, queueUrl: string, payments: readonly WorkloadPayment[], lanes: number): Promise<void> {
  const byAccount = new Map<string, WorkloadPayment[]>();
  for (const p of payments) byAccount.set(p.message.accountId, [...(byAccount.get(p.message.accountId) ?? []), p]);
  const queues = [...byAccount.values()];
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < queues.length) {
        const mine = queues[next++]!;
        for (const p of mine) await sqs.send(messageFor(queueUrl, p));
      }
    }),
  );
}

async function sendPaced(sqs: SQSClient, queueUrl: string, payments: readonly WorkloadPayment[], perSecond: number): Promise<void> {
  const interval = 1000 / perSecond;
  const start = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < payments.length; i++) {
    const wait = start + i * interval - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(sqs.send(messageFor(queueUrl, payments[i]!)));
  }
  await Promise.all(inFlight);
}

async function checkLedger(
  ddb: DynamoDBClient,
  table: string,
  payments: readonly WorkloadPayment[],
  strategy: LedgerStrategyName,
): Promise<LedgerCheck> {
  const accounts = new Map<string, Record<string, AttributeValue>>();
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await ddb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: startKey, ConsistentRead: true }));
    for (const item of page.Items ?? []) {
      if (item.sk?.S === 'ACCOUNT') accounts.set(item.pk!.S!.slice('ACCOUNT#'.length), item);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);

  let effects = 0;
  for (const item of accounts.values()) effects += Number(item.applied?.N ?? 0) + Number(item.rejected?.N ?? 0);
  // Replay each account's payments in send order, once each: the balance exactly-once must leave.
  const expected = new Map<string, number>();
  for (const p of payments) {
    const balance = expected.get(p.message.accountId) ?? 0;
    expected.set(p.message.accountId, balance + p.message.amount >= 0 ? balance + p.message.amount : balance);
  }
  let wrongBalances = 0;
  for (const [accountId, balance] of expected) {
    if (Number(accounts.get(accountId)?.balance?.N ?? 0) !== balance) wrongBalances += 1;
  }
  void strategy;
  return { effects, expectedEffects: payments.length, wrongBalances };
}

interface WorkerHandle {
  readonly ready: Promise<{ initMs: number; rssBeforeHandlerBytes: number }>;
  run(phase: string, payments: readonly WorkloadPayment[], timeoutMs: number): Promise<PhaseResult>;
  stop(): Promise<void>;
}

function startWorker(script: string, config: WorkerConfig, env: Record<string, string>): WorkerHandle {
  const child: ChildProcess = fork(script, [JSON.stringify(config)], {
    execArgv: [],
    env: {
      PATH: process.env.PATH,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      POWERTOOLS_SERVICE_NAME: 'ledger',
      POWERTOOLS_METRICS_NAMESPACE: 'Bench',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const waiters: Array<(msg: { type: string; [k: string]: unknown }) => void> = [];
  child.on('message', (msg) => {
    const m = msg as { type: string; [k: string]: unknown };
    if (m.type === 'fatal') {
      stderr += `\n${String(m.message)}`;
      return;
    }
    waiters.shift()?.(m);
  });
  const next = (what: string) =>
    new Promise<{ type: string; [k: string]: unknown }>((resolve, reject) => {
      waiters.push(resolve);
      void exit.then(() => reject(new Error(`ledger worker exited while waiting for ${what}:\n${stderr}`)));
    });
  return {
    ready: next('ready').then((m) => ({ initMs: m.initMs as number, rssBeforeHandlerBytes: m.rssBeforeHandlerBytes as number })),
    async run(phase, payments, timeoutMs) {
      const answer = next(`phase ${phase}`);
      child.send({
        type: 'run',
        phase,
        expectUnique: payments.length,
        expectRedeliveries: payments.filter((p) => p.redeliver).length,
        timeoutMs,
      });
      const result = (await answer).result as PhaseResult;
      if (!result.complete) {
        process.stderr.write(`warning: phase ${phase} of ${config.functionName} timed out; worker stderr:\n${stderr.slice(-1500)}\n`);
      }
      return result;
    },
    async stop() {
      if (exited) return;
      child.send({ type: 'exit' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exit;
      clearTimeout(timer);
    },
  };
}
