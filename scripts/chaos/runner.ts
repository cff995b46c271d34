import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ENV } from '../../lambdas/shared/env.js';
import { ACCOUNT_PREFIX, OUTBOX_PREFIX } from '../../lambdas/shared/ledger-keys.js';
import {
  deduplicationIdFor,
  PaymentEventSchema,
  PaymentMessageSchema,
  type PaymentEvent,
  type PaymentMessage,
  PAYMENT_EVENT_TYPES,
} from '../../lambdas/shared/payments-model.js';
import { PaymentsApiClient } from '../../local/api-client.js';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime.js';
import { freePort, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/webhook-receiver.js';
import { check, type CheckReport, type ObservedAccount, type ObservedDeadLetter } from './checker.js';
import { captureFunctionMetrics, type MetricCapture } from './metrics-capture.js';
import { ALL_FAULT_KINDS, buildChaosPlan, CHAOS_CONTEXT, CHAOS_TIMINGS, type ChaosPlan, type FaultKind } from './plans.js';
import { countActions, generateWorkload, type IntendedPayment, type Workload, type WorkloadAction } from './workload.js';

/** Consumer strategies a chaos run can put behind the payments queue. */
export const CHAOS_CONSUMERS = ['atomic', 'powertools', 'at-least-once'] as const;
export type ChaosConsumer = (typeof CHAOS_CONSUMERS)[number];

/** Options of {@link runChaos}. */
export interface ChaosOptions {
  /** Unique intended payments. */
  readonly messages: number;
  readonly seed: number;
  /** Fault kinds to switch on. @default every kind */
  readonly faults?: readonly FaultKind[];
  /** Ledger strategy behind the payments queue. @default 'atomic' */
  readonly consumer?: ChaosConsumer;
  /** Accounts (FIFO groups). @default see {@link generateWorkload} */
  readonly accounts?: number;
  /** Multiplies every fault probability. @default 1 */
  readonly faultScale?: number;
  /** Requests in flight at once (one per account at a time, to keep each group's order). @default 4 */
  readonly concurrency?: number;
  /** Longest wait for the pipeline to drain, per phase. @default 300000 */
  readonly idleTimeoutMs?: number;
  /** Progress lines. @default none */
  readonly log?: (line: string) => void;
  /** Keep the functions' own log lines on stdout. @default false */
  readonly showFunctionLogs?: boolean;
  /** Where first sends go (see {@link runWorkload}). @default 'api' */
  readonly via?: 'api' | 'queue';
}

/** Duplicates injected at a layer and what the layer reports it absorbed. */
export interface AbsorbedRow {
  readonly layer: 'api idempotency' | 'FIFO dedup' | 'ledger marker' | 'notifier idempotency';
  /** Duplicates the harness injected aimed at this layer (redeliveries caused by faults are not counted here). */
  readonly injected: number;
  /** Duplicates the layer absorbed, as it reported them (EMF `DuplicatesSkipped`) or as measured by the harness. */
  readonly absorbed: number | undefined;
  readonly source: string;
}

/** Result of one chaos run. */
export interface ChaosResult {
  readonly options: Required<Pick<ChaosOptions, 'messages' | 'seed' | 'consumer'>> & { faults: readonly FaultKind[] };
  readonly plan: ChaosPlan;
  readonly workload: Workload;
  readonly injected: ReturnType<typeof countActions>;
  readonly report: CheckReport;
  readonly absorbed: readonly AbsorbedRow[];
  readonly webhook: { readonly calls: number; readonly accepted: number; readonly failed: number; readonly hung: number };
  readonly functionErrors: Readonly<Record<string, { invocations: number; errors: number }>>;
  readonly metrics: Readonly<Record<string, number>>;
  readonly timings: { readonly startMs: number; readonly sendMs: number; readonly drainMs: number; readonly totalMs: number };
  /** True when nothing was lost or duplicated (the CLI's exit status). */
  readonly ok: boolean;
}

/** A running chaos environment: the local runtime with one consumer and one fault plan, and a webhook receiver. */
export interface ChaosStack {
  readonly consumer: ChaosConsumer;
  /** The synthesized cloud assembly, reusable by another stack (`assembly` option) until this one stops. */
  readonly assembly: string;
  readonly plan: ChaosPlan;
  readonly receiver: WebhookReceiver;
  readonly outputs: Outputs;
  readonly startMs: number;
  /** Stops the runtime, the receiver and the stdout capture. */
  stop(): Promise<void>;
}

interface StackInternals {
  readonly runtime: LocalRuntime;
  readonly sqs: SQSClient;
  readonly ddb: DynamoDBClient;
  readonly capture: MetricCapture;
}
const internals = new WeakMap<ChaosStack, StackInternals>();

/**
 * Starts a webhook receiver and the synthesized app on the local runtime, with ledger strategy = `consumer` and the
 * fault plan of `kinds` in every function's environment. Several workloads can run on one stack
 * ({@link runWorkload}); each only looks at its own accounts.
 */
export async function startChaosStack(options: {
  readonly consumer?: ChaosConsumer;
  readonly faults?: readonly FaultKind[];
  readonly seed: number;
  readonly faultScale?: number;
  readonly showFunctionLogs?: boolean;
  readonly log?: (line: string) => void;
  /**
   * Reuse a synthesized assembly instead of synthesizing again (faster). The consumer still applies: the run sets
   * LEDGER_STRATEGY in every function's environment, which wins over the template's. For `powertools`, the assembly
   * must come from a `powertools` synth (its ledger also needs IDEMPOTENCY_TABLE_NAME).
   * @default - synthesize with context ledgerStrategy = consumer
   */
  readonly assembly?: string;
}): Promise<ChaosStack> {
  const log = options.log ?? (() => {});
  const consumer = options.consumer ?? 'atomic';
  const plan = buildChaosPlan(options.faults ?? ALL_FAULT_KINDS, options.seed, options.faultScale ?? 1);
  const started = Date.now();
  const capture = captureFunctionMetrics(options.showFunctionLogs ? (line) => console.log(line) : undefined);
  // Per stack, removed on stop: each holds a synthesized assembly with bundled functions.
  const outDir = `.chaos/run-${process.pid}-${Date.now()}`;
  let receiver: WebhookReceiver | undefined;
  let runtime: LocalRuntime | undefined;
  try {
    receiver = await startWebhookReceiver({ behaviour: plan.webhook });
    log(`starting the local runtime (consumer ${consumer}, faults: ${plan.kinds.join(', ') || 'none'})`);
    runtime = await startLocalRuntime({
      ...(options.assembly
        ? { assembly: options.assembly }
        : { context: { ledgerStrategy: consumer, webhookUrl: receiver.url, ...CHAOS_CONTEXT } }),
      functionEnv: {
        [ENV.FAULT_PLAN]: JSON.stringify(plan.faultPlan),
        [ENV.LEDGER_STRATEGY]: consumer,
        // A reused assembly points at another receiver: this run's wins.
        [ENV.WEBHOOK_URL]: receiver.url,
      },
      ports: { api: await freePort(), dynamodb: await freePort(), sqs: await freePort() },
      // Not quiet: the function output lines carry the EMF metrics and fault notes the report counts.
      quiet: false,
      log: (line) => capture.line(line),
      outDir,
    });
    const outputs = stackOutputs(runtime.outputs);
    const sqs = new SQSClient({ endpoint: runtime.endpoints.sqs, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const ddb = new DynamoDBClient({ endpoint: runtime.endpoints.dynamodb, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    // Redeliveries in seconds: the stack sets visibility = 6 × the consumer timeout; the run shortens it below the
    // zombie's stall so a stalled invocation really loses its message to a newer attempt.
    for (const [url, seconds] of [
      [outputs.PaymentsQueueUrl, CHAOS_TIMINGS.paymentsVisibilityTimeoutSeconds],
      [outputs.EventsQueueUrl, CHAOS_TIMINGS.eventsVisibilityTimeoutSeconds],
    ] as const) {
      await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { VisibilityTimeout: String(seconds) } }));
    }
    const rt = runtime;
    const rc = receiver;
    const stack: ChaosStack = {
      consumer,
      assembly: rt.files.assembly,
      plan,
      receiver: rc,
      outputs,
      startMs: Date.now() - started,
      stop: async () => {
        sqs.destroy();
        ddb.destroy();
        await rt.stop().catch(() => {});
        await rc.stop().catch(() => {});
        await rm(outDir, { recursive: true, force: true });
      },
    };
    internals.set(stack, { runtime: rt, sqs, ddb, capture });
    return stack;
  } catch (error) {
    await runtime?.stop().catch(() => {});
    await receiver?.stop().catch(() => {});
    await rm(outDir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Drives one seeded workload through a running chaos stack, waits for the pipeline to drain, then reads the ledger
 * (this workload's accounts only), the receiver and the DLQs and hands them to the checker.
 */
export async function runWorkload(
  stack: ChaosStack,
  options: {
    readonly messages: number;
    readonly seed: number;
    readonly accounts?: number;
    readonly concurrency?: number;
    readonly idleTimeoutMs?: number;
    readonly log?: (line: string) => void;
    /** Where first sends go: the public API, or straight onto the payments queue (long runs). @default 'api' */
    readonly via?: 'api' | 'queue';
  },
): Promise<ChaosResult> {
  const { runtime, sqs, ddb, capture } = internals.get(stack)!;
  const { outputs, plan, receiver } = stack;
  const log = options.log ?? (() => {});
  const via = options.via ?? 'api';
  const workload = generateWorkload({
    messages: options.messages,
    seed: options.seed,
    accounts: options.accounts,
    // Without the API there is no API idempotency to exercise.
    injections: via === 'queue' ? { ...plan.injections, apiRetry: 0 } : plan.injections,
  });
  const idleTimeoutMs = options.idleTimeoutMs ?? 300_000;
  const started = Date.now();
  const metricsBefore = capture.totals();
  const statsBefore = summarizeStats(runtime.stats());
  await runtime.waitForIdle({ timeoutMs: idleTimeoutMs });
  receiver.reset();
  await Promise.all([drain(sqs, outputs.PaymentsDlqUrl), drain(sqs, outputs.EventsDlqUrl), drain(sqs, outputs.RelayFailureQueueUrl)]);

  const api = new PaymentsApiClient({ apiUrl: outputs.ApiUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const apiReplays = { sent: 0, same: 0 };
  log(`run ${workload.runId}: sending ${workload.payments.length} payments (${workload.actions.length} actions)`);
  const sendStarted = Date.now();
  await runActions(workload.actions, options.concurrency ?? 4, (action) => perform(action, { api, sqs, outputs, apiReplays, via }));
  const sendMs = Date.now() - sendStarted;
  log(`sent in ${sendMs} ms; waiting for the pipeline to drain`);
  const drainStarted = Date.now();
  await runtime.waitForIdle({ timeoutMs: idleTimeoutMs });
  if (workload.afterIdle.length > 0) {
    const { events } = await scanLedger(ddb, outputs.LedgerTableName, workload.runId);
    await Promise.all(workload.afterIdle.map((action) => performAfterIdle(action, sqs, outputs, events)));
    await runtime.waitForIdle({ timeoutMs: idleTimeoutMs });
  }
  const drainMs = Date.now() - drainStarted;
  log(`drained in ${drainMs} ms; checking`);

  // Valid payments dead-lettered without effect (a poison message drags the messages behind it in its FIFO batch
  // along; crash faults can exhaust maxReceiveCount) are redriven, as an operator would, and checked at the end of
  // their group. Whatever is dead-lettered stays in the report.
  const paymentLetters: string[] = [];
  const redriven: string[] = [];
  const intended = new Set(workload.payments.map((p) => p.paymentId));
  for (let round = 0; round < 3; round++) {
    const letters = await drain(sqs, outputs.PaymentsDlqUrl);
    paymentLetters.push(...letters);
    const { events } = await scanLedger(ddb, outputs.LedgerTableName, workload.runId);
    const applied = new Set(events.map((e) => e.paymentId));
    const parked = letters.flatMap((body) => {
      const message = PaymentMessageSchema.safeParse(safeJson(body));
      return message.success && intended.has(message.data.paymentId) && !applied.has(message.data.paymentId) ? [message.data] : [];
    });
    if (parked.length === 0) break;
    log(`redriving ${parked.length} valid payment(s) dead-lettered without effect (round ${round + 1})`);
    for (const message of parked) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: outputs.PaymentsQueueUrl,
          MessageBody: JSON.stringify(message),
          MessageGroupId: message.accountId,
          MessageDeduplicationId: `redrive-${randomUUID()}`,
        }),
      );
      redriven.push(message.paymentId);
    }
    await runtime.waitForIdle({ timeoutMs: idleTimeoutMs });
  }
  // Same for valid events whose delivery retries ran out (webhook down, crashes): redriven once; the notifier's
  // idempotency skips any that had been delivered after all.
  const eventLetters = await drain(sqs, outputs.EventsDlqUrl);
  const validEvents = eventLetters.filter((body) => PaymentEventSchema.safeParse(safeJson(body)).success);
  if (validEvents.length > 0) {
    log(`redriving ${validEvents.length} valid event(s) dead-lettered by the notifier`);
    for (const body of validEvents) await sqs.send(new SendMessageCommand({ QueueUrl: outputs.EventsQueueUrl, MessageBody: body }));
    await runtime.waitForIdle({ timeoutMs: idleTimeoutMs });
  }
  // Outbox recovery (issue 12): what the relay never published (a record it never received, a batch past its retries)
  // is published by the sweeper, as its schedule would do; the notifier dedups by event id. The relay-failure letters
  // of those batches are then only coordinates of events already published: deleted, as the runbook says.
  const relayFailuresSwept = await sweepOutbox(runtime, sqs, outputs, log);
  if (relayFailuresSwept >= 0) await runtime.waitForIdle({ timeoutMs: idleTimeoutMs });
  const ledger = await scanLedger(ddb, outputs.LedgerTableName, workload.runId);
  const deadLetters = [
    ...paymentLetters.map((body) => ({ queue: 'payments', body }) as ObservedDeadLetter),
    ...(await drain(sqs, outputs.PaymentsDlqUrl)).map((body) => ({ queue: 'payments', body }) as ObservedDeadLetter),
    ...eventLetters.map((body) => ({ queue: 'events', body }) as ObservedDeadLetter),
    ...(await drain(sqs, outputs.EventsDlqUrl)).map((body) => ({ queue: 'events', body }) as ObservedDeadLetter),
    ...(await drain(sqs, outputs.RelayFailureQueueUrl)).map((body) => ({ queue: 'relay-failure', body }) as ObservedDeadLetter),
  ];
  const calls = [...receiver.calls()];
  const report = check(
    workload.payments,
    { accounts: ledger.accounts, outboxEvents: ledger.events, webhookCalls: calls, deadLetters },
    { redriven },
  );
  const injected = countActions(workload);
  const metricsAfter = capture.totals();
  const metrics: Record<string, number> = {};
  for (const [key, value] of Object.entries(metricsAfter)) {
    const delta = value - (metricsBefore[key] ?? 0);
    if (delta !== 0) metrics[key] = delta;
  }
  const skipped = (layer: string) => metrics[`DuplicatesSkipped|${layer}`];
  const anyMetrics = Object.keys(metricsAfter).length > 0;
  const absorbed: AbsorbedRow[] = [
    {
      layer: 'api idempotency',
      injected: injected['api-retry'],
      absorbed: skipped('api') ?? apiReplays.same,
      source: skipped('api') === undefined ? 'replays answered with the first response' : 'EMF DuplicatesSkipped',
    },
    {
      layer: 'FIFO dedup',
      injected: injected['resend-in-window'],
      absorbed: undefined,
      source: 'accepted by SQS, never delivered (no duplicate downstream)',
    },
    {
      layer: 'ledger marker',
      injected: injected['resend-beyond-window'],
      absorbed: skipped('ledger') ?? (anyMetrics ? 0 : undefined),
      source: 'EMF DuplicatesSkipped: also redeliveries after crashes and zombies',
    },
    {
      layer: 'notifier idempotency',
      injected: injected['event-twice'] * 2,
      absorbed: skipped('notifier') ?? (anyMetrics ? 0 : undefined),
      source: 'EMF DuplicatesSkipped: also relay re-publishes and notifier crashes',
    },
  ];
  return {
    options: { messages: options.messages, seed: options.seed, consumer: stack.consumer, faults: plan.kinds },
    plan,
    workload,
    injected,
    report,
    absorbed,
    webhook: {
      calls: calls.length,
      accepted: calls.filter((c) => c.outcome === 'accepted').length,
      failed: calls.filter((c) => c.outcome === 'failed').length,
      hung: calls.filter((c) => c.outcome === 'hung').length,
    },
    functionErrors: diffStats(summarizeStats(runtime.stats()), statsBefore),
    metrics,
    timings: { startMs: stack.startMs, sendMs, drainMs, totalMs: Date.now() - started },
    ok: report.lost === 0 && report.duplicated === 0,
  };
}

/** One chaos pass: start a stack, run one workload, stop. What `npm run chaos` does. */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const stack = await startChaosStack({
    consumer: options.consumer,
    faults: options.faults,
    seed: options.seed,
    faultScale: options.faultScale,
    showFunctionLogs: options.showFunctionLogs,
    log: options.log,
  });
  try {
    return await runWorkload(stack, {
      messages: options.messages,
      seed: options.seed,
      accounts: options.accounts,
      concurrency: options.concurrency,
      idleTimeoutMs: options.idleTimeoutMs,
      log: options.log,
      via: options.via,
    });
  } finally {
    await stack.stop();
  }
}

export type Outputs = Record<
  | 'ApiUrl'
  | 'PaymentsQueueUrl'
  | 'PaymentsDlqUrl'
  | 'EventsQueueUrl'
  | 'EventsDlqUrl'
  | 'RelayFailureQueueUrl'
  | 'LedgerTableName'
  | 'IdempotencyTableName',
  string
>;

function stackOutputs(all: Record<string, Record<string, string>>): Outputs {
  const stack = Object.values(all).find((o) => o.PaymentsQueueUrl !== undefined);
  if (!stack) throw new Error(`No stack output PaymentsQueueUrl among ${Object.keys(all).join(', ') || 'no stacks'}`);
  return stack as Outputs;
}

interface ActionPorts {
  readonly api: PaymentsApiClient;
  readonly sqs: SQSClient;
  readonly outputs: Outputs;
  readonly apiReplays: { sent: number; same: number };
  readonly via: 'api' | 'queue';
}

const firstPaymentIds = new Map<string, string>();

function paymentMessage(payment: IntendedPayment): PaymentMessage {
  return {
    ...payment.request,
    paymentId: payment.paymentId,
    idempotencyKey: payment.idempotencyKey,
    requestedAt: new Date().toISOString(),
  };
}

async function post(api: PaymentsApiClient, payment: IntendedPayment): Promise<string> {
  // The API is idempotent by key: a 409 (first request still in progress) or a 5xx is simply retried.
  for (let attempt = 1; ; attempt++) {
    const response = await api.createPayment({ body: payment.request, idempotencyKey: payment.idempotencyKey });
    if (response.status === 202) return response.text;
    if (attempt >= 8 || (response.status < 500 && response.status !== 409 && response.status !== 429)) {
      throw new Error(`POST /payments for ${payment.idempotencyKey} answered ${response.status}: ${response.text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
  }
}

async function perform(action: WorkloadAction, ports: ActionPorts): Promise<void> {
  const { sqs, outputs } = ports;
  switch (action.kind) {
    case 'send': {
      if (ports.via === 'queue') {
        // What the API would send: same body shape, group and dedup id.
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: outputs.PaymentsQueueUrl,
            MessageBody: JSON.stringify(paymentMessage(action.payment)),
            MessageGroupId: action.payment.request.accountId,
            MessageDeduplicationId: deduplicationIdFor(action.payment.idempotencyKey),
          }),
        );
        return;
      }
      const body = await post(ports.api, action.payment);
      firstPaymentIds.set(action.payment.idempotencyKey, body);
      return;
    }
    case 'api-retry': {
      const body = await post(ports.api, action.payment);
      ports.apiReplays.sent++;
      if (body === firstPaymentIds.get(action.payment.idempotencyKey)) ports.apiReplays.same++;
      return;
    }
    case 'resend-in-window':
    case 'resend-beyond-window': {
      const dedup = deduplicationIdFor(action.payment.idempotencyKey);
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: outputs.PaymentsQueueUrl,
          MessageBody: JSON.stringify(paymentMessage(action.payment)),
          MessageGroupId: action.payment.request.accountId,
          // Beyond the 5-minute window SQS no longer knows the first dedup id: a fresh one has the same effect.
          MessageDeduplicationId: action.kind === 'resend-in-window' ? dedup : `${dedup.slice(0, 32)}-late-${randomUUID()}`,
        }),
      );
      return;
    }
    case 'poison-standard':
      await sqs.send(new SendMessageCommand({ QueueUrl: outputs.EventsQueueUrl, MessageBody: action.body }));
      return;
    case 'poison-fifo':
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: outputs.PaymentsQueueUrl,
          MessageBody: action.body,
          MessageGroupId: action.accountId,
          MessageDeduplicationId: randomUUID(),
        }),
      );
      return;
    default:
      throw new Error(`${action.kind} runs once the pipeline is idle`);
  }
}

async function performAfterIdle(action: WorkloadAction, sqs: SQSClient, outputs: Outputs, events: readonly PaymentEvent[]) {
  if (action.kind !== 'event-twice') throw new Error(`${action.kind} runs while the pipeline is live`);
  const event = events.find((e) => e.paymentId === action.payment.paymentId);
  if (!event) return; // Lost upstream: the checker reports it.
  const send = () =>
    sqs.send(
      new SendMessageCommand({
        QueueUrl: outputs.EventsQueueUrl,
        MessageBody: JSON.stringify(event),
        MessageAttributes: {
          eventType: { DataType: 'String', StringValue: event.eventType },
          eventId: { DataType: 'String', StringValue: event.eventId },
        },
      }),
    );
  await Promise.all([send(), send()]);
}

/** Runs actions with at most `concurrency` in flight, and one at a time per account (FIFO order of the sends). */
async function runActions(actions: readonly WorkloadAction[], concurrency: number, run: (a: WorkloadAction) => Promise<void>) {
  const tails = new Map<string, Promise<void>>();
  let active = 0;
  const waiting: Array<() => void> = [];
  const acquire = async () => {
    while (active >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
  };
  const release = () => {
    active--;
    waiting.shift()?.();
  };
  const all: Promise<void>[] = [];
  for (const action of actions) {
    const account = 'payment' in action ? action.payment.request.accountId : 'accountId' in action ? action.accountId : '';
    const previous = tails.get(account) ?? Promise.resolve();
    await acquire();
    const next = previous.then(() => run(action)).finally(release);
    tails.set(account, next.catch(() => {}));
    all.push(next);
  }
  await Promise.all(all);
}

/**
 * Fires the outbox sweeper's schedule once (when the stack has one) and, when it published what was left, deletes the
 * relay failure queue's letters.
 * @returns how many failure-queue letters were deleted, or -1 when the stack has no sweeper.
 */
async function sweepOutbox(runtime: LocalRuntime, sqs: SQSClient, outputs: Outputs, log: (line: string) => void): Promise<number> {
  const schedule = runtime.schedules.list().find((s) => s.logicalId.includes('OutboxSweeper'));
  if (!schedule) return -1;
  const result = await runtime.schedules.trigger(schedule.logicalId);
  const swept = result.payload as { published?: number; failed?: number } | undefined;
  log(`outbox sweeper: ${result.ok ? `${swept?.published ?? 0} event(s) published, ${swept?.failed ?? 0} failed` : `ERROR ${result.error?.errorMessage}`}`);
  if (!result.ok || (swept?.failed ?? 0) > 0) return 0;
  const letters = await drain(sqs, outputs.RelayFailureQueueUrl);
  if (letters.length > 0) log(`deleted ${letters.length} relay failure-queue letter(s): their events were swept`);
  return letters.length;
}

async function scanLedger(ddb: DynamoDBClient, tableName: string, runId: string) {
  const mine = `${runId}-`;
  const doc = DynamoDBDocumentClient.from(ddb);
  const accounts: ObservedAccount[] = [];
  const events: PaymentEvent[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start, ConsistentRead: true }));
    for (const item of page.Items ?? []) {
      const pk = String(item.pk);
      if (pk.startsWith(`${ACCOUNT_PREFIX}${mine}`)) {
        accounts.push({
          accountId: pk.slice(ACCOUNT_PREFIX.length),
          balance: Number(item.balance ?? 0),
          applied: Number(item.applied ?? 0),
          rejected: Number(item.rejected ?? 0),
        });
      } else if (pk.startsWith(OUTBOX_PREFIX) && typeof item.event === 'string') {
        const event = JSON.parse(item.event) as PaymentEvent;
        // Other consumers' outbox events share the table (one outbox format): count the payment events only.
        if ((PAYMENT_EVENT_TYPES as readonly string[]).includes(event.eventType) && event.accountId.startsWith(mine)) events.push(event);
      }
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return { accounts, events };
}

/** Reads (and deletes) every message of a queue. */
async function drain(sqs: SQSClient, url: string | undefined): Promise<string[]> {
  if (!url) return [];
  const bodies: string[] = [];
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 60, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) {
      empty++;
      continue;
    }
    bodies.push(...Messages.map((m) => m.Body ?? ''));
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
  }
  return bodies;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function diffStats(after: Record<string, { invocations: number; errors: number }>, before: typeof after): typeof after {
  const out: typeof after = {};
  for (const [name, s] of Object.entries(after)) {
    out[name] = { invocations: s.invocations - (before[name]?.invocations ?? 0), errors: s.errors - (before[name]?.errors ?? 0) };
  }
  return out;
}

function summarizeStats(stats: ReturnType<LocalRuntime['stats']>): Record<string, { invocations: number; errors: number }> {
  const out: Record<string, { invocations: number; errors: number }> = {};
  for (const [name, value] of Object.entries(stats)) out[name] = { invocations: value.count, errors: value.errors + value.timeouts };
  return out;
}

export type { MetricCapture };
