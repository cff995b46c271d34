/**
 * `npm run long-run -- [--messages 100000] [--seed S] [--accounts K] [--workers W] [--pollers P] [--fault-scale X]
 *  [--consumer atomic|powertools|at-least-once] [--record chaos/LONG-RUN.md] [--json FILE]`
 *
 * The ledger under every ledger fault kind, at the rate DynamoDB Local allows: the REAL ledger handler bundle (built
 * as the stack builds it) behind Lambda-like pollers in W child processes (scripts/chaos/long-run-worker.ts), a payments
 * FIFO queue with a DLQ (maxReceiveCount 5) on fauxqs, DynamoDB Local, and the chaos fault plan in the handler's
 * environment: crashes before / after the commit and between records, zombies, transient and throttled DynamoDB
 * calls, re-sends inside and beyond the FIFO dedup window, poison messages in FIFO groups. Valid payments that
 * dead-letter without effect are redriven, as an operator would. The chaos checker (scripts/chaos/checker.ts) then
 * verifies every effect (balance, applied and rejected counts per account, as FIFO order implies) and every outbox
 * event (exactly one per payment, with the outcome and balance of its position).
 *
 * What it leaves out, and where that is covered: the API (no API retries: sends go straight onto the queue), and the
 * relay and notifier (no stream, no events queue, no webhook) — the full-pipeline chaos run (`npm run chaos`,
 * chaos/RUN-2000.md) drives those, at the ~2 payments/s the whole local runtime sustains here.
 *
 * Exit status: 0 when nothing was lost, duplicated or reordered; 1 otherwise; 2 on a usage error.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  type SendMessageBatchRequestEntry,
} from '@aws-sdk/client-sqs';
import { freePort, LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators } from '../../local/emulators.js';
import { ENV } from '../../lambdas/shared/env.js';
import { bundle, VARIANTS } from '../bench/bundles.js';
import { gitState, machineDescription, scanLedger } from './run-facts.js';
import { check, paymentsToRedrive, type CheckReport, type ObservedDeadLetter } from './checker.js';
import { captureFunctionMetrics } from './metrics-capture.js';
import { buildChaosPlan, CHAOS_TIMINGS, type FaultKind } from './plans.js';
import { countActions, generateWorkload, queueDeduplicationIdFor, queueMessageFor, type IntendedPayment, type WorkloadAction } from './workload.js';
import type { LongRunWorkerConfig, LongRunWorkerStats } from './long-run-worker.js';

/** Every fault kind that reaches the ledger (the relay, notifier, webhook and API kinds need the full pipeline). */
export const LEDGER_FAULT_KINDS: readonly FaultKind[] = [
  'crash-before-commit',
  'crash-after-commit',
  'crash-mid-batch',
  'zombie',
  'ddb-transient',
  'ddb-throttle',
  'resend-in-window',
  'resend-beyond-window',
  'poison-fifo',
];

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Payments queue visibility and zombie stall of the long run: the zombie still outlives its lease, before the timeout. */
export const LONG_RUN_TIMINGS = { visibilityTimeoutSeconds: 6, zombieDelayMs: 8_000 } as const;
const CONSUMERS = ['atomic', 'powertools', 'at-least-once'] as const;

/** Options of {@link runLongRun}. */
export interface LongRunOptions {
  readonly messages: number;
  readonly seed: number;
  /** Accounts = FIFO message groups. @default max(20, messages / 100) */
  readonly accounts?: number;
  /** Child processes (execution environments). @default 2 */
  readonly workers?: number;
  /** Concurrent invocations per worker. @default 4 */
  readonly pollers?: number;
  /**
   * Multiplies every fault probability of the chaos plan. A Lambda-sized batch (10 records) meets each fault point
   * up to 10 times per invocation, where the full-pipeline run's batches are mostly single records: at scale 1 almost
   * every batch would crash. At 0.1 about one batch of 10 in five crashes, so a payment is received about 1.3 times
   * and every fault kind still fires thousands of times in 100,000 payments. @default 0.1
   */
  readonly faultScale?: number;
  /** Poison messages in FIFO groups. @default max(1, messages / 5000) */
  readonly poison?: number;
  readonly consumer?: (typeof CONSUMERS)[number];
  /** Messages waiting in the queue above which the producer pauses (a bounded backlog, as a steady producer). @default 3000 */
  readonly maxBacklog?: number;
  /** Payments per checkpoint: send, drain, redrive and check every payment so far (each check scans the table). @default 15000 */
  readonly checkpointEvery?: number;
  /** Called with the result at every checkpoint (the CLI rewrites the record). */
  readonly onCheckpoint?: (result: LongRunResult) => void;
  readonly log?: (line: string) => void;
}

/** Result of a long run (or of its latest checkpoint). */
export interface LongRunResult {
  readonly options: Required<Omit<LongRunOptions, 'log' | 'onCheckpoint'>>;
  /** Payments sent and checked so far (= options.messages once the run is complete). */
  readonly checked: number;
  readonly report: CheckReport;
  /** True when the ledger and the outbox are exact (the webhook layer is not in this run). */
  readonly ok: boolean;
  readonly injected: ReturnType<typeof countActions>;
  readonly faultsFired: Record<string, number>;
  readonly metrics: Record<string, number>;
  readonly workers: LongRunWorkerStats;
  readonly redriven: number;
  readonly timings: { readonly setupMs: number; readonly runMs: number; readonly checkMs: number };
  /** Unique payments per second from the first send to the drained queue (redrive rounds and earlier checks included). */
  readonly paymentsPerSecond: number;
}

/** Runs the ledger long run (see the file comment). */
export async function runLongRun(options: LongRunOptions): Promise<LongRunResult> {
  const log = options.log ?? (() => {});
  const opts = {
    messages: options.messages,
    seed: options.seed,
    accounts: options.accounts ?? Math.max(20, Math.ceil(options.messages / 100)),
    workers: options.workers ?? 2,
    pollers: options.pollers ?? 4,
    faultScale: options.faultScale ?? 0.1,
    poison: options.poison ?? Math.max(1, Math.floor(options.messages / 5000)),
    consumer: options.consumer ?? 'atomic',
    maxBacklog: options.maxBacklog ?? 3000,
    checkpointEvery: options.checkpointEvery ?? 15_000,
  };
  const setupStarted = Date.now();
  const outDir = join(ROOT, '.chaos', `long-run-${process.pid}`);
  mkdirSync(outDir, { recursive: true });
  log('starting DynamoDB Local and fauxqs, bundling the ledger handler');
  // A loaded machine starts the JVM slowly.
  const emulators = await startEmulators({ dynamodbPort: 0, sqsPort: await freePort(), startTimeoutMs: 180_000 });
  const ddb = new DynamoDBClient({ endpoint: emulators.dynamodbEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const sqs = new SQSClient({ endpoint: emulators.sqsEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const workers: WorkerHandle[] = [];
  try {
    const table = 'long-run-ledger';
    await createLedgerTable(ddb, table, opts.consumer === 'powertools' ? 'long-run-idempotency' : undefined);
    const { QueueUrl: dlqUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'long-run-payments-dlq.fifo', Attributes: { FifoQueue: 'true' } }));
    const { QueueUrl: queueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: 'long-run-payments.fifo',
        Attributes: {
          FifoQueue: 'true',
          // Below the zombie's stall, as in the chaos run: a stalled invocation really loses its message. Longer than
          // the chaos run's 3 s: a batch of 10 on a loaded DynamoDB Local often takes over 3 s, and every such batch
          // was redelivered whole (absorbed, but half the work of a run was duplicates).
          VisibilityTimeout: String(LONG_RUN_TIMINGS.visibilityTimeoutSeconds),
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: `arn:aws:sqs:${LOCAL_REGION}:000000000000:long-run-payments-dlq.fifo`,
            maxReceiveCount: CHAOS_TIMINGS.maxReceiveCount,
          }),
        },
      }),
    );
    const [ledgerBundle, workerScript] = await Promise.all([
      bundle(ROOT, 'ledger', join('lambdas', 'ledger', 'handler.ts'), VARIANTS[0]!, join(outDir, 'bundles')),
      buildWorker(outDir),
    ]);
    const chaosPlan = buildChaosPlan(LEDGER_FAULT_KINDS, opts.seed, opts.faultScale);
    const plan = { ...chaosPlan, faultPlan: { ...chaosPlan.faultPlan, zombieDelayMs: LONG_RUN_TIMINGS.zombieDelayMs } };
    const workload = generateWorkload({
      messages: opts.messages,
      seed: opts.seed,
      accounts: opts.accounts,
      injections: { ...plan.injections, apiRetry: 0, eventTwice: 0, poisonStandard: 0, poisonFifo: opts.poison },
    });
    const capture = captureFunctionMetrics();
    let shownErrorLines = 0;
    for (let i = 0; i < opts.workers; i++) {
      workers.push(
        startWorker(
          workerScript,
          { bundlePath: ledgerBundle.path, queueUrl: queueUrl!, queueArn: `arn:aws:sqs:${LOCAL_REGION}:000000000000:long-run-payments.fifo`, pollers: opts.pollers, timeoutMs: CHAOS_TIMINGS.consumerTimeoutSeconds * 1000 },
          {
            AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamodbEndpoint,
            AWS_ENDPOINT_URL_SQS: emulators.sqsEndpoint,
            [ENV.LEDGER_TABLE_NAME]: table,
            [ENV.IDEMPOTENCY_TABLE_NAME]: 'long-run-idempotency',
            [ENV.DEDUP_TTL_SECONDS]: '1209600',
            [ENV.LEDGER_STRATEGY]: opts.consumer,
            // As the stack: poison and fenced-without-marker messages go to the DLQ at once, with their reason.
            [ENV.PAYMENTS_DLQ_URL]: dlqUrl!,
            [ENV.LOCAL_RUNTIME]: '1',
            // Each process draws its own faults (one plan seed per execution environment, as the runtime does).
            [ENV.FAULT_PLAN]: JSON.stringify({ ...plan.faultPlan, seed: opts.seed * 100 + i }),
          },
          (line) => {
            capture.line(line);
            // The first few errors are shown: a run in which every record fails says why at once.
            if (shownErrorLines < 10 && /"level":"(ERROR|CRITICAL)"/.test(line)) {
              shownErrorLines++;
              log(`worker ${i}: ${line.slice(0, 600)}`);
            }
          },
        ),
      );
    }
    await Promise.all(workers.map((w) => w.ready));
    const setupMs = Date.now() - setupStarted;

    // Send in chunks of `checkpointEvery` payments; after each chunk, wait for the queue to drain, redrive, and check
    // every payment sent so far: a run cut short still leaves a checked record of the largest prefix.
    const runStarted = Date.now();
    log(`run ${workload.runId}: ${workload.payments.length} payments, ${workload.actions.length} messages, ${opts.accounts} accounts, ` + `${opts.workers} × ${opts.pollers} pollers, fault scale ${opts.faultScale}, checkpoint every ${opts.checkpointEvery}`);
    const progress = setInterval(() => {
      const s = sumStats(workers.map((w) => w.stats));
      const seconds = (Date.now() - runStarted) / 1000;
      log(`${Math.round(seconds)} s: ${s.recordsDeleted} records done (${(s.recordsDeleted / seconds).toFixed(1)}/s), ${s.invocations} invocations, ${s.invocationErrors} crashed`);
    }, 30_000);
    const deadLetters: string[] = [];
    const redrivenAt = new Map<string, number>();
    let result: LongRunResult | undefined;
    try {
      let sentActions = 0;
      for (let upTo = Math.min(opts.checkpointEvery, opts.messages); ; upTo = Math.min(upTo + opts.checkpointEvery, opts.messages)) {
        const next = workload.actions.findIndex((a, i) => i >= sentActions && a.kind === 'send' && a.payment.index >= upTo);
        const until = next === -1 ? workload.actions.length : next;
        await sendActions(sqs, queueUrl!, workload.actions.slice(sentActions, until), sentActions, opts.maxBacklog);
        sentActions = until;
        await waitForEmpty(sqs, queueUrl!);
        const sent = workload.payments.slice(0, upTo);
        // Redrive valid payments dead-lettered without effect (crash faults can exhaust maxReceiveCount), as the
        // chaos runner does; the expectation places each right after the payments of its group sent so far.
        const intended = new Set(sent.map((p) => p.paymentId));
        for (let round = 0; round < 5; round++) {
          const letters = await drain(sqs, dlqUrl!);
          deadLetters.push(...letters);
          if (letters.length === 0) break;
          const { events } = await scanLedger(ddb, table, workload.runId);
          const applied = new Set(events.map((e) => e.paymentId));
          const parked = paymentsToRedrive(letters, intended, applied);
          if (parked.length === 0) break;
          log(`redriving ${parked.length} valid payment(s) dead-lettered without effect (round ${round + 1})`);
          for (const message of parked) {
            await sqs.send(
              new SendMessageCommand({
                QueueUrl: queueUrl,
                MessageBody: JSON.stringify(message),
                MessageGroupId: message.accountId,
                MessageDeduplicationId: `redrive-${upTo}-${round}-${message.paymentId}`,
              }),
            );
            redrivenAt.set(message.paymentId, upTo + redrivenAt.size / 1e6);
          }
          await waitForEmpty(sqs, queueUrl!);
        }
        const runMs = Date.now() - runStarted;
        const checkStarted = Date.now();
        log(`${upTo} payments drained after ${Math.round(runMs / 1000)} s; checking every effect and outbox event so far`);
        const ledger = await scanLedger(ddb, table, workload.runId);
        const observedLetters: ObservedDeadLetter[] = deadLetters.map((body) => ({ queue: 'payments', body }));
        const full = check(inApplyOrder(sent, redrivenAt), { accounts: ledger.accounts, outboxEvents: ledger.events, webhookCalls: [], deadLetters: observedLetters });
        const report = ledgerOnly(full);
        const totals = capture.totals();
        const faultsFired: Record<string, number> = {};
        const metrics: Record<string, number> = {};
        for (const [key, value] of Object.entries(totals)) {
          if (key.startsWith('InjectedFault|')) faultsFired[key.slice('InjectedFault|'.length)] = value;
          else metrics[key] = value;
        }
        const injected = countActions({ ...workload, actions: workload.actions.slice(0, sentActions), afterIdle: [] });
        result = {
          options: opts,
          checked: upTo,
          report,
          ok: report.ok,
          injected,
          faultsFired,
          metrics,
          workers: sumStats(workers.map((w) => w.stats)),
          redriven: redrivenAt.size,
          timings: { setupMs, runMs, checkMs: Date.now() - checkStarted },
          paymentsPerSecond: upTo / (runMs / 1000),
        };
        log(`checkpoint ${upTo}/${opts.messages}: ${report.ok ? 'PASS' : 'FAIL'} (${result.paymentsPerSecond.toFixed(1)} payments/s)`);
        options.onCheckpoint?.(result);
        if (!report.ok || upTo >= opts.messages) break;
      }
    } finally {
      clearInterval(progress);
    }
    return result!;
  } finally {
    await Promise.allSettled(workers.map((w) => w.stop()));
    ddb.destroy();
    sqs.destroy();
    await emulators.stop();
    rmSync(outDir, { recursive: true, force: true });
  }
}

/**
 * The payments in the order their groups applied them: a payment redriven at checkpoint `c` was applied after every
 * payment of its group sent before `c` and before any sent later, so it moves there (the checker's own `redriven`
 * option moves it to the very end of its group, right only for a single-shot run).
 */
export function inApplyOrder(payments: readonly IntendedPayment[], redrivenAt: ReadonlyMap<string, number>): IntendedPayment[] {
  return payments.map((p) => {
    const at = redrivenAt.get(p.paymentId);
    if (at === undefined) return p;
    // Position among the group's payments: after those with index < checkpoint, before the rest.
    const before = payments.filter((q) => q.request.accountId === p.request.accountId && q.index < Math.floor(at)).length;
    return { ...p, accountIndex: before - 0.5 + (at - Math.floor(at)) };
  });
}

/** The checker's report restricted to the layers this run drives (ledger effects and outbox events). */
export function ledgerOnly(report: CheckReport): CheckReport {
  const findings = report.findings.filter((f) => f.layer !== 'webhook');
  const layers = report.layers.filter((l) => l.layer !== 'webhook deliveries');
  const lost = layers.reduce((n, l) => n + l.lost, 0);
  const duplicated = layers.reduce((n, l) => n + l.duplicated, 0);
  const outOfOrder = findings.filter((f) => f.kind === 'out-of-order').length;
  const unexpected = findings.filter((f) => f.kind === 'unexpected' && !f.detail.includes('follows from')).length;
  return {
    ...report,
    ok: lost === 0 && duplicated === 0 && outOfOrder === 0 && unexpected === 0,
    lost,
    duplicated,
    outOfOrder,
    unexpected,
    layers,
    findings,
    redeliveredSameKey: 0,
  };
}

async function createLedgerTable(ddb: DynamoDBClient, table: string, idempotencyTable: string | undefined): Promise<void> {
  // As lib/constructs/tables.ts, without the stream: no relay reads it in this run, and DynamoDB Local pays for it.
  await ddb.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
  if (idempotencyTable) {
    await ddb.send(
      new CreateTableCommand({
        TableName: idempotencyTable,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );
  }
}

/** The SendMessage entry of one action, as the API (or the chaos runner) would send it. */
function entryFor(action: WorkloadAction, id: number): SendMessageBatchRequestEntry {
  switch (action.kind) {
    case 'send':
    case 'resend-in-window':
    case 'resend-beyond-window': {
      const dedup = queueDeduplicationIdFor(action.payment);
      return {
        Id: String(id),
        MessageBody: JSON.stringify(queueMessageFor(action.payment)),
        MessageGroupId: action.payment.request.accountId,
        // Beyond the 5-minute window SQS no longer knows the first dedup id: a fresh one has the same effect.
        MessageDeduplicationId: action.kind === 'resend-beyond-window' ? `${dedup.slice(0, 32)}-late-${id}` : dedup,
      };
    }
    case 'poison-fifo':
      return { Id: String(id), MessageBody: action.body, MessageGroupId: action.accountId, MessageDeduplicationId: `poison-${id}` };
    default:
      throw new Error(`${action.kind} is not part of the ledger long run`);
  }
}

/** Sends every action in workload order (FIFO order per account) in batches of 10, pausing while the backlog is full. */
async function sendActions(sqs: SQSClient, queueUrl: string, actions: readonly WorkloadAction[], offset: number, maxBacklog: number): Promise<void> {
  for (let start = 0, batches = 0; start < actions.length; start += 10, batches++) {
    if (batches % 20 === 0) {
      while ((await queueDepth(sqs, queueUrl)).visible > maxBacklog) await sleep(500);
    }
    const entries = actions.slice(start, start + 10).map((action, i) => entryFor(action, offset + start + i));
    for (let attempt = 1; ; attempt++) {
      const answer = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      if (!answer.Failed?.length) break;
      // A partly failed batch: re-send only the failed entries would break FIFO order behind them; fail loudly.
      throw new Error(`SendMessageBatch failed for ${answer.Failed.length} entries: ${answer.Failed.map((f) => `${f.Code} ${f.Message}`).join('; ')}`);
    }
  }
}

async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return { visible: Number(Attributes.ApproximateNumberOfMessages ?? 0), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) };
}

/** Waits until the queue holds nothing, visible or in flight, for three checks in a row. */
/** How long the queue may go without getting shorter before the run fails (consumers stuck, every record failing). */
const STALL_LIMIT_MS = 5 * 60_000;

async function waitForEmpty(sqs: SQSClient, queueUrl: string): Promise<void> {
  let lowest = Number.POSITIVE_INFINITY;
  let lastProgress = Date.now();
  for (let empty = 0; empty < 3; ) {
    const depth = await queueDepth(sqs, queueUrl);
    const left = depth.visible + depth.inFlight;
    if (left < lowest) {
      lowest = left;
      lastProgress = Date.now();
    } else if (Date.now() - lastProgress > STALL_LIMIT_MS) {
      throw new Error(
        `no progress for ${STALL_LIMIT_MS / 60_000} minutes: ${depth.visible} messages visible and ${depth.inFlight} in flight on the ` +
          'payments queue; the handler errors shown above say why records fail',
      );
    }
    empty = left === 0 ? empty + 1 : 0;
    await sleep(1000);
  }
}

async function drain(sqs: SQSClient, url: string): Promise<string[]> {
  const bodies: string[] = [];
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 60, WaitTimeSeconds: 0 }));
    if (Messages.length === 0) {
      empty++;
      continue;
    }
    bodies.push(...Messages.map((m) => m.Body ?? ''));
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
  }
  return bodies;
}

interface WorkerHandle {
  readonly ready: Promise<void>;
  readonly stats: LongRunWorkerStats;
  stop(): Promise<void>;
}

async function buildWorker(outDir: string): Promise<string> {
  const outfile = join(outDir, 'worker', 'long-run-worker.mjs');
  await build({
    entryPoints: [fileURLToPath(new URL('./long-run-worker.ts', import.meta.url))],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    packages: 'external',
    logLevel: 'silent',
  });
  return outfile;
}

function startWorker(script: string, config: LongRunWorkerConfig, env: Record<string, string>, onLine: (line: string) => void): WorkerHandle {
  const child: ChildProcess = fork(script, [JSON.stringify(config)], {
    execArgv: [],
    env: {
      PATH: process.env.PATH,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      POWERTOOLS_SERVICE_NAME: 'ledger',
      POWERTOOLS_METRICS_NAMESPACE: 'LongRun',
      // Warnings and errors only: 100,000 payments of INFO lines would cost more CPU than the ledger.
      POWERTOOLS_LOG_LEVEL: 'WARN',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  createInterface({ input: child.stdout! }).on('line', onLine);
  let stderr = '';
  // Powertools writes errors to stderr: those lines are the handler's too.
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr = `${stderr}${line}\n`.slice(-4000);
    onLine(line);
  });
  const handle = {
    stats: { invocations: 0, invocationErrors: 0, recordsReceived: 0, recordsDeleted: 0, recordsReported: 0, batchSizes: {} } as LongRunWorkerStats,
    ready: undefined as unknown as Promise<void>,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  handle.ready = new Promise<void>((resolve, reject) => {
    child.on('message', (raw) => {
      const msg = raw as { type: string; stats?: LongRunWorkerStats; message?: string };
      if (msg.type === 'ready') resolve();
      if (msg.type === 'stats') handle.stats = msg.stats!;
      if (msg.type === 'fatal') reject(new Error(`long-run worker failed: ${msg.message}`));
    });
    void exited.then(() => reject(new Error(`long-run worker exited:\n${stderr}`)));
  });
  return handle;
}

function sumStats(all: readonly LongRunWorkerStats[]): LongRunWorkerStats {
  const batchSizes: Record<number, number> = {};
  for (const s of all) for (const [size, n] of Object.entries(s.batchSizes)) batchSizes[Number(size)] = (batchSizes[Number(size)] ?? 0) + n;
  const sum = (key: 'invocations' | 'invocationErrors' | 'recordsReceived' | 'recordsDeleted' | 'recordsReported') => all.reduce((n, s) => n + s[key], 0);
  return {
    invocations: sum('invocations'),
    invocationErrors: sum('invocationErrors'),
    recordsReceived: sum('recordsReceived'),
    recordsDeleted: sum('recordsDeleted'),
    recordsReported: sum('recordsReported'),
    batchSizes,
  };
}

/** The run record (command, commit, date, machine, figures), as committed in chaos/. */
export function formatLongRunRecord(result: LongRunResult, meta: { command: string; commit: string; date: string; machine: string }): string {
  const r = result.report;
  const w = result.workers;
  const faults = Object.entries(result.faultsFired)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([point, n]) => `${point} ×${n}`)
    .join(', ');
  const lines = [
    `# Chaos long run: ${result.checked.toLocaleString('en-US')} payments through the ledger under every ledger fault`,
    '',
    '<!-- Written by `npm run long-run -- … --record chaos/LONG-RUN.md` (scripts/chaos/long-run.ts). Re-run the command to refresh it. -->',
    '',
    'The real ledger handler bundle (built as the stack builds it) behind Lambda-like pollers, on DynamoDB Local and',
    'fauxqs, with the chaos fault plan in its environment; the chaos checker verifies every account (balance, applied and',
    'rejected counts as FIFO order implies) and every outbox event (exactly one per payment, with the outcome and balance',
    'of its position). Not in this run: the API (sends go straight onto the queue, as `--via queue` does) and the relay,',
    'notifier and webhook — the full-pipeline run with every fault covers those, at its own size (see',
    '[RUN-2000.md](RUN-2000.md)), because the whole local runtime drains at about 11 payments/s on an idle machine here',
    '(BENCHMARKS.md, flight recorder bench) and far less under every fault: 100,000 payments through it would take hours.',
    '',
    '| | |',
    '|---|---|',
    `| Command | \`${meta.command}\` |`,
    `| Commit | \`${meta.commit}\` |`,
    `| Date | ${meta.date} |`,
    `| Machine | ${meta.machine} |`,
    `| Checked | ${result.checked === result.options.messages ? `all ${result.checked} payments of the run` : `**${result.checked} of the ${result.options.messages} payments** of the run: the latest checkpoint (the run checks every payment sent so far each ${result.options.checkpointEvery} payments); the run was still going or was stopped after it`} |`,
    `| Verdict | **${result.ok ? 'PASS: every effect and every outbox event exactly once, in FIFO order' : 'FAIL: see the findings'}** |`,
    `| Payments | ${result.checked} unique over ${result.options.accounts} accounts (FIFO groups); ${Object.values(result.injected).reduce((a, b) => a + b, 0)} messages sent incl. re-sends and poison |`,
    `| Consumer | \`${result.options.consumer}\`, ${result.options.workers} processes × ${result.options.pollers} concurrent invocations, batches of up to 10, all groups of a batch in parallel |`,
    `| Rate on DynamoDB Local | ${result.paymentsPerSecond.toFixed(1)} payments/s from the first send to the drained queue, redrives included (a local figure, not an AWS one) |`,
    `| Timing | setup ${(result.timings.setupMs / 1000).toFixed(0)} s, run ${(result.timings.runMs / 1000).toFixed(0)} s, check ${(result.timings.checkMs / 1000).toFixed(0)} s |`,
    '',
    '```text',
    `layer               expected  observed  lost  duplicated`,
    ...r.layers.map((l) => `${l.layer.padEnd(18)}  ${String(l.expected).padStart(8)}  ${String(l.observed).padStart(8)}  ${String(l.lost).padStart(4)}  ${String(l.duplicated).padStart(10)}`),
    '',
    `lost ${r.lost} | duplicated ${r.duplicated} | out of order ${r.outOfOrder} | unexpected ${r.unexpected} | dead-lettered without effect and redriven ${result.redriven} | still parked in DLQ ${r.parked.length}`,
    '',
    `injected by the workload: ${Object.entries(result.injected).filter(([, n]) => n > 0).map(([k, n]) => `${k} ×${n}`).join(', ')}`,
    `faults fired in the handler (fault scale ${result.options.faultScale}): ${faults || 'none'}`,
    `dead-lettered: ${r.deadLettered.map((d) => `${d.count} × ${d.reason}`).join('; ') || 'none'}`,
    `ledger metrics: ${Object.entries(result.metrics).filter(([k]) => /Duplicates|Fenced|Poison|Applied|Rejected/.test(k)).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`,
    `invocations ${w.invocations} (${w.invocationErrors} crashed), records received ${w.recordsReceived}, deleted ${w.recordsDeleted}, reported failed ${w.recordsReported}`,
    `batch sizes: ${Object.entries(w.batchSizes).map(([size, n]) => `${size}:${n}`).join(' ')}`,
    ...(r.findings.length > 0 ? ['', `findings (${r.findings.length}, first 20):`, ...r.findings.slice(0, 20).map((f) => `  ${f.kind} @ ${f.layer} ${f.accountId ?? ''} ${f.paymentId ?? ''}: ${f.detail}`)] : []),
    '',
    result.ok ? 'PASS' : 'FAIL',
    '```',
    '',
  ];
  return lines.join('\n');
}


function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(argv: string[]): Promise<number> {
  const commit = gitState(['lambdas', 'scripts/chaos', 'scripts/bench']);
  const startedAt = new Date().toISOString();
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string', default: '100000' },
      seed: { type: 'string', default: '1' },
      accounts: { type: 'string' },
      workers: { type: 'string' },
      pollers: { type: 'string' },
      'fault-scale': { type: 'string' },
      poison: { type: 'string' },
      consumer: { type: 'string', default: 'atomic' },
      'max-backlog': { type: 'string' },
      checkpoint: { type: 'string' },
      record: { type: 'string' },
      json: { type: 'string' },
    },
    allowPositionals: false,
  });
  const int = (name: string, min: number): number | undefined => {
    const raw = values[name as keyof typeof values] as string | undefined;
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${raw}"`);
    return n;
  };
  if (!CONSUMERS.includes(values.consumer as (typeof CONSUMERS)[number])) {
    throw new UsageError(`--consumer must be one of ${CONSUMERS.join(', ')}, got "${values.consumer}"`);
  }
  const scale = values['fault-scale'] === undefined ? undefined : Number(values['fault-scale']);
  if (scale !== undefined && !(scale >= 0)) throw new UsageError(`--fault-scale must be a number ≥ 0, got "${values['fault-scale']}"`);
  const result = await runLongRun({
    messages: int('messages', 1)!,
    seed: int('seed', 0)!,
    accounts: int('accounts', 1),
    workers: int('workers', 1),
    pollers: int('pollers', 1),
    poison: int('poison', 0),
    maxBacklog: int('max-backlog', 10),
    faultScale: scale,
    consumer: values.consumer as (typeof CONSUMERS)[number],
    checkpointEvery: int('checkpoint', 1),
    log: (line) => console.error(`[long-run ${new Date().toISOString().slice(11, 19)}] ${line}`),
    onCheckpoint: (checkpoint) => {
      const record = formatLongRunRecord(checkpoint, {
        command: `npm run long-run -- ${argv.join(' ')}`.trim(),
        commit,
        date: `${startedAt} (started) to ${new Date().toISOString()} (${checkpoint.checked === checkpoint.options.messages ? 'finished' : `checkpoint at ${checkpoint.checked} payments`})`,
        machine: machineDescription(),
      });
      if (values.record) writeFileSync(values.record, record);
      if (values.json) writeFileSync(values.json, `${JSON.stringify({ ...checkpoint, report: { ...checkpoint.report, findings: checkpoint.report.findings.slice(0, 100), expectedAccounts: undefined } }, null, 2)}\n`);
      if (checkpoint.checked === checkpoint.options.messages || !checkpoint.ok) console.log(record);
    },
  });
  return result.ok ? 0 : 1;
}

class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof UsageError ? error.message : error);
      process.exit(error instanceof UsageError ? 2 : 1);
    },
  );
}
