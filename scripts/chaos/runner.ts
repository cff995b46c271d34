import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ENV } from '../../lambdas/shared/env.js';
import { LEDGER_KEYS, outboxKey } from '../../lambdas/shared/ledger-keys.js';
import {
  deduplicationIdFor,
  eventIdFor,
  PaymentEventSchema,
  type PaymentEvent,
} from '../../lambdas/shared/payments-model.js';
import { ApiRequestError, PaymentsApiClient } from '../../local/api-client.js';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime.js';
import { freePort, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/webhook-receiver.js';
import { formatFindingJourneys } from './finding-journeys.js';
import { scanLedger } from './run-facts.js';
import { check, paymentsToRedrive, type CheckReport, type ObservedDeadLetter } from './checker.js';
import { captureFunctionMetrics, type MetricCapture } from './metrics-capture.js';
import { waitForDrain } from './drain.js';
import { wrapLedgerFunction, type LedgerFaultRegistry } from './ledger-faults.js';
import { ALL_FAULT_KINDS, buildChaosPlan, CHAOS_CONTEXT, CHAOS_TIMINGS, type ChaosPlan, type FaultKind } from './plans.js';
import { countActions, generateWorkload, queueDeduplicationIdFor, queueMessageFor, type IntendedPayment, type Workload, type WorkloadAction } from './workload.js';

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
  /**
   * Longest time a drain may go WITHOUT progress (no new low of the backlog, no invocation completed) before the run
   * fails naming what is stuck where; a drain that keeps progressing may take as long as it needs. @default 300000
   */
  readonly idleTimeoutMs?: number;
  /** Progress lines. @default none */
  readonly log?: (line: string) => void;
  /** Keep the functions' own log lines on stdout. @default false */
  readonly showFunctionLogs?: boolean;
  /** Where first sends go (see {@link runWorkload}). @default 'api' */
  readonly via?: 'api' | 'queue';
  /**
   * Run the app of another checkout (its cdk.json, lib/ and lambdas/) under this harness: the negative control runs
   * the code before a fix with the same faults and checker. @default - this project
   */
  readonly appDir?: string;
  /** Enforce IAM at the local gateway (see {@link startChaosStack}). @default true */
  readonly iam?: boolean;
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
  /** Faults the harness injected itself (around the ledger, on the queue, in the table): how often each fired. */
  readonly harnessFaults: {
    readonly versionSkew: number;
    /** Receives of a skewed payment failed alone (its group waited behind it) before a later one shared its batch. */
    readonly versionSkewHeld: number;
    readonly blockedReceives: number;
    readonly wrongGroupSends: number;
    readonly expiredMarkers: number;
  };
  /** True when nothing was lost, duplicated, reordered or unexpected (the CLI's exit status). */
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
  readonly ledgerFaults: LedgerFaultRegistry;
  readonly faultScale: number;
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
  /** See {@link ChaosOptions.appDir}. @default - this project */
  readonly appDir?: string;
  /**
   * Enforce IAM at the local gateway. Off only for an `appDir` whose grants predate what its own code calls (the
   * ledger before issue 11 reads with BatchGetItem under a GetItem grant: every payment would be denied, parked in the
   * DLQ and left out of the expectation, and the negative control would prove nothing). @default true
   */
  readonly iam?: boolean;
  /**
   * Visibility timeout of the payments queue. The default (3 s) is below the zombie's stall, so a stalled invocation
   * really loses its message; on a loaded machine it is also below ordinary batches, which are then received again
   * while they run and cycle to the DLQ (a fenced copy's delete comes too late), turning a loss into a DLQ round trip.
   * Runs without the zombie that must see exactly what the ledger did use one above the function timeout.
   * @default CHAOS_TIMINGS.paymentsVisibilityTimeoutSeconds
   */
  readonly paymentsVisibilityTimeoutSeconds?: number;
}): Promise<ChaosStack> {
  const log = options.log ?? (() => {});
  const consumer = options.consumer ?? 'atomic';
  const plan = buildChaosPlan(options.faults ?? ALL_FAULT_KINDS, options.seed, options.faultScale ?? 1);
  const started = Date.now();
  const capture = captureFunctionMetrics(options.showFunctionLogs ? (line) => console.log(line) : undefined);
  // Per stack, removed on stop: each holds a synthesized assembly with bundled functions.
  // Absolute: with appDir the runtime resolves relative paths against the other checkout.
  const outDir = resolve(`.chaos/run-${process.pid}-${Date.now()}`);
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
      ...(options.appDir ? { projectDir: resolve(options.appDir) } : {}),
      ...(options.iam === false ? { iam: false } : {}),
    });
    const outputs = stackOutputs(runtime.outputs);
    const sqs = new SQSClient({ endpoint: runtime.endpoints.sqs, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const ddb = new DynamoDBClient({ endpoint: runtime.endpoints.dynamodb, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    // Redeliveries in seconds: the stack sets visibility = 6 × the consumer timeout; the run shortens it below the
    // zombie's stall so a stalled invocation really loses its message to a newer attempt.
    for (const [url, seconds] of [
      [outputs.PaymentsQueueUrl, options.paymentsVisibilityTimeoutSeconds ?? CHAOS_TIMINGS.paymentsVisibilityTimeoutSeconds],
      [outputs.EventsQueueUrl, CHAOS_TIMINGS.eventsVisibilityTimeoutSeconds],
    ] as const) {
      await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { VisibilityTimeout: String(seconds) } }));
    }
    const ledgerFaults = wrapLedgerFunction(runtime, queueNameOf(outputs.PaymentsQueueUrl), CHAOS_TIMINGS.maxReceiveCount);
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
    internals.set(stack, { runtime: rt, sqs, ddb, capture, ledgerFaults, faultScale: options.faultScale ?? 1 });
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
    /**
     * Only these of the stack's fault kinds inject duplicates, poison and the harness's own faults in this workload
     * (the functions' fault points stay as the stack set them). @default - every kind of the stack
     */
    readonly faults?: readonly FaultKind[];
  },
): Promise<ChaosResult> {
  const { runtime, sqs, ddb, capture, ledgerFaults, faultScale } = internals.get(stack)!;
  const { outputs, receiver } = stack;
  const plan = options.faults ? buildChaosPlan(options.faults, options.seed, faultScale) : stack.plan;
  const log = options.log ?? (() => {});
  const via = options.via ?? 'api';
  const workload = generateWorkload({
    messages: options.messages,
    seed: options.seed,
    accounts: options.accounts,
    // Without the API there is no API idempotency to exercise.
    injections: via === 'queue' ? { ...plan.injections, apiRetry: 0 } : plan.injections,
  });
  const stallMs = options.idleTimeoutMs ?? 300_000;
  const watched = {
    'payments queue': outputs.PaymentsQueueUrl,
    'events queue': outputs.EventsQueueUrl,
    'payments DLQ': outputs.PaymentsDlqUrl,
    'events DLQ': outputs.EventsDlqUrl,
    'relay failure queue': outputs.RelayFailureQueueUrl,
  };
  const drainPipeline = (phase: string) => waitForDrain(runtime, sqs, watched, { stallMs, phase, log });
  const started = Date.now();
  const metricsBefore = capture.totals();
  for (const id of workload.versionSkew) ledgerFaults.versionSkew.add(id);
  for (const id of workload.blockedHeads) ledgerFaults.blockedHeads.add(id);
  const firedBefore = { ...ledgerFaults.fired };
  const statsBefore = summarizeStats(runtime.stats());
  await drainPipeline('before the run');
  receiver.reset();
  await Promise.all([drain(sqs, outputs.PaymentsDlqUrl), drain(sqs, outputs.EventsDlqUrl), drain(sqs, outputs.RelayFailureQueueUrl)]);

  const api = new PaymentsApiClient({ apiUrl: outputs.ApiUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, timeoutMs: 60_000 });
  const apiReplays = { sent: 0, same: 0 };
  log(`run ${workload.runId}: sending ${workload.payments.length} payments (${workload.actions.length} actions)`);
  const sendStarted = Date.now();
  await runActions(workload.actions, options.concurrency ?? 4, (action) => perform(action, { api, sqs, outputs, apiReplays, via }));
  const sendMs = Date.now() - sendStarted;
  log(`sent in ${sendMs} ms; waiting for the pipeline to drain`);
  const drainStarted = Date.now();
  await drainPipeline('after the sends');
  if (workload.afterIdle.length > 0) {
    const { events } = await scanLedger(ddb, outputs.LedgerTableName, workload.runId);
    await Promise.all(workload.afterIdle.map((action) => performAfterIdle(action, { sqs, ddb, outputs, events })));
    await drainPipeline('after the events sent twice');
  }
  const drainMs = Date.now() - drainStarted;
  log(`drained in ${drainMs} ms; checking`);

  // Valid payments dead-lettered without effect (a poison message drags the messages behind it in its FIFO batch
  // along; crash faults can exhaust maxReceiveCount) are redriven, as an operator would, and checked at the end of
  // their group. Whatever is dead-lettered stays in the report.
  const paymentLetters: DrainedMessage[] = [];
  const redriven: string[] = [];
  const intended = new Set(workload.payments.map((p) => p.paymentId));
  for (let round = 0; round < 3; round++) {
    const letters = await drain(sqs, outputs.PaymentsDlqUrl);
    paymentLetters.push(...letters);
    const { events } = await scanLedger(ddb, outputs.LedgerTableName, workload.runId);
    const applied = new Set(events.map((e) => e.paymentId));
    const parked = paymentsToRedrive(
      letters.map(({ body }) => body),
      intended,
      applied,
    );
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
    await drainPipeline(`after redrive round ${round + 1}`);
  }
  // Same for valid events whose delivery retries ran out (webhook down, crashes): redriven once; the notifier's
  // idempotency skips any that had been delivered after all.
  const eventLetters = await drain(sqs, outputs.EventsDlqUrl);
  const validEvents = eventLetters.map((m) => m.body).filter((body) => PaymentEventSchema.safeParse(safeJson(body)).success);
  if (validEvents.length > 0) {
    log(`redriving ${validEvents.length} valid event(s) dead-lettered by the notifier`);
    for (const body of validEvents) await sqs.send(new SendMessageCommand({ QueueUrl: outputs.EventsQueueUrl, MessageBody: body }));
    await drainPipeline('after the event redrive');
  }
  // Outbox recovery (issue 12): what the relay never published (a record it never received, a batch past its retries)
  // is published by the sweeper, as its schedule would do; the notifier dedups by event id. The relay-failure letters
  // of those batches are then only coordinates of events already published: deleted, as the runbook says.
  const relayFailuresSwept = await sweepOutbox(runtime, sqs, outputs, log);
  if (relayFailuresSwept >= 0) await drainPipeline('after the outbox sweep');
  const ledger = await scanLedger(ddb, outputs.LedgerTableName, workload.runId);
  const deadLetters: ObservedDeadLetter[] = [
    ...paymentLetters.map(letterOf('payments')),
    ...(await drain(sqs, outputs.PaymentsDlqUrl)).map(letterOf('payments')),
    ...eventLetters.map(letterOf('events')),
    ...(await drain(sqs, outputs.EventsDlqUrl)).map(letterOf('events')),
    ...(await drain(sqs, outputs.RelayFailureQueueUrl)).map(letterOf('relay-failure')),
  ];
  const calls = [...receiver.calls()];
  const report = check(
    workload.payments,
    { accounts: ledger.accounts, outboxEvents: ledger.events, webhookCalls: calls, deadLetters },
    { redriven },
  );
  if (!report.ok && runtime.recorder) log(formatFindingJourneys(report.findings, runtime.recorder.events()));
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
    harnessFaults: {
      versionSkew: ledgerFaults.fired.versionSkew - firedBefore.versionSkew,
      versionSkewHeld: ledgerFaults.fired.versionSkewHeld - firedBefore.versionSkewHeld,
      blockedReceives: ledgerFaults.fired.blockedReceives - firedBefore.blockedReceives,
      wrongGroupSends: injected['send-wrong-group'],
      expiredMarkers: injected['expire-marker'],
    },
    ok: report.ok,
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
    appDir: options.appDir,
    iam: options.iam,
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

function queueNameOf(url: string): string {
  return url.split('/').pop() ?? url;
}

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

async function post(api: PaymentsApiClient, payment: IntendedPayment): Promise<string> {
  // The API is idempotent by key: a 409 (first request still in progress), a 5xx or a request that timed out or could
  // not connect (an overloaded machine: the API function queues behind its concurrency) is simply sent again.
  for (let attempt = 1; ; attempt++) {
    let response;
    try {
      response = await api.createPayment({ body: payment.request, idempotencyKey: payment.idempotencyKey });
    } catch (error) {
      if (!(error instanceof ApiRequestError) || attempt >= 8) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
      continue;
    }
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
            MessageBody: JSON.stringify(queueMessageFor(action.payment)),
            MessageGroupId: action.payment.request.accountId,
            MessageDeduplicationId: queueDeduplicationIdFor(action.payment),
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
      const dedup = queueDeduplicationIdFor(action.payment);
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: outputs.PaymentsQueueUrl,
          MessageBody: JSON.stringify(queueMessageFor(action.payment)),
          MessageGroupId: action.payment.request.accountId,
          // Beyond the 5-minute window SQS no longer knows the first dedup id: a fresh one has the same effect.
          MessageDeduplicationId: action.kind === 'resend-in-window' ? dedup : `${dedup.slice(0, 32)}-late-${randomUUID()}`,
        }),
      );
      return;
    }
    case 'send-wrong-group':
      // A second producer that groups by something other than the account: unordered with the account's group.
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: outputs.PaymentsQueueUrl,
          MessageBody: JSON.stringify(queueMessageFor(action.payment)),
          MessageGroupId: `${action.payment.request.accountId}~producer-b`,
          MessageDeduplicationId: deduplicationIdFor(action.payment.idempotencyKey),
        }),
      );
      return;
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

/** Five years and a day: DynamoDB TTL never deletes an item whose expiry is older than five years, so it stays present. */
const EXPIRED_LONG_AGO_SECONDS = (5 * 366 + 1) * 86_400;

async function performAfterIdle(
  action: WorkloadAction,
  ports: { sqs: SQSClient; ddb: DynamoDBClient; outputs: Outputs; events: readonly PaymentEvent[] },
) {
  const { sqs, outputs, events } = ports;
  if (action.kind === 'expire-marker') {
    const event = events.find((e) => e.paymentId === action.payment.paymentId);
    if (!event) return; // Lost upstream: the checker reports it.
    // Expired but present, as TTL leaves an item for up to days (F6). DynamoDB Local sweeps a recently expired item
    // within seconds; one that expired over five years ago is never deleted (as on AWS), so the case holds still.
    await DynamoDBDocumentClient.from(ports.ddb).send(
      new UpdateCommand({
        TableName: outputs.LedgerTableName,
        Key: outboxKey(eventIdFor(action.payment.paymentId)),
        UpdateExpression: 'SET #ttl = :expired',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#ttl': LEDGER_KEYS.ttlAttribute },
        ExpressionAttributeValues: { ':expired': Math.floor(Date.now() / 1000) - EXPIRED_LONG_AGO_SECONDS },
      }),
    );
    // The late redrive: an operator sends the old DLQ copy again (a new dedup id, long after the 5-minute window).
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: outputs.PaymentsQueueUrl,
        MessageBody: JSON.stringify(queueMessageFor(action.payment)),
        MessageGroupId: action.payment.request.accountId,
        MessageDeduplicationId: `redrive-late-${randomUUID()}`,
      }),
    );
    return;
  }
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

/** A message read from a DLQ, with the reason the ledger attached when it dead-lettered it itself. */
interface DrainedMessage {
  readonly body: string;
  readonly ledgerFailure?: { readonly kind: string; readonly reason?: string };
}

/** Attributes the ledger sets on a message it sends to the DLQ itself (lambdas/ledger/dead-letter.ts). */
const LEDGER_FAILURE_ATTRIBUTES = { kind: 'ledgerFailure', reason: 'ledgerFailureReason' } as const;

/** Reads (and deletes) every message of a queue. */
async function drain(sqs: SQSClient, url: string | undefined): Promise<DrainedMessage[]> {
  if (!url) return [];
  const out: DrainedMessage[] = [];
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        WaitTimeSeconds: 0,
        MessageAttributeNames: [LEDGER_FAILURE_ATTRIBUTES.kind, LEDGER_FAILURE_ATTRIBUTES.reason],
      }),
    );
    if (Messages.length === 0) {
      empty++;
      continue;
    }
    for (const m of Messages) {
      const kind = m.MessageAttributes?.[LEDGER_FAILURE_ATTRIBUTES.kind]?.StringValue;
      const reason = m.MessageAttributes?.[LEDGER_FAILURE_ATTRIBUTES.reason]?.StringValue;
      out.push({ body: m.Body ?? '', ...(kind ? { ledgerFailure: { kind, ...(reason ? { reason } : {}) } } : {}) });
    }
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
  }
  return out;
}

const letterOf = (queue: ObservedDeadLetter['queue']) => (m: DrainedMessage): ObservedDeadLetter => ({ queue, ...m });

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
