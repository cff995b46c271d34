import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ACCOUNT_PREFIX, LEDGER_KEYS, OUTBOX_PREFIX, outboxKey } from '../../lambdas/shared/ledger-keys.js';
import { eventIdFor, paymentIdFor, PaymentMessageSchema, type PaymentEvent, type PaymentMessage } from '../../lambdas/shared/payments-model.js';
import { toSqsEventRecord } from '../../local/esm/sqs-poller.js';
import { LOCAL_REGION } from '../../local/emulators.js';
import { FlightRecorder } from '../../local/recorder/flight-recorder.js';
import { buildJourney, formatJourney } from '../../local/recorder/journey.js';
import { check, type CheckReport, type ObservedDeadLetter } from '../../scripts/chaos/checker.js';
import { harnessFailures, type LedgerFaultRegistry } from '../../scripts/chaos/ledger-faults.js';
import { CHAOS_TIMINGS } from '../../scripts/chaos/plans.js';
import type { IntendedPayment } from '../../scripts/chaos/workload.js';
import { createLedgerTable, uniqueName } from '../fixtures/tables.js';

/**
 * Issue 11's fault kinds as focused scenarios: ONE ledger build (this checkout's, or the one before the fixes) behind
 * a real FIFO queue on fauxqs (AWS-shaped batches, S9; its DLQ by RedrivePolicy, S13) and a real ledger table on
 * DynamoDB Local, driven receive by receive as Lambda's event source mapping would (S10 partial batch responses), the
 * harness's ledger faults (`scripts/chaos/ledger-faults.ts`) applied around it exactly as in a chaos run, and the
 * chaos checker's verdict on what is left. The interleavings a chaos run reaches by chance (an older build's verdict,
 * two invocations in flight at once, a marker left expired) are steps here, so each scenario is deterministic and
 * takes seconds. The relay and notifier are outside it: each outbox event present counts as delivered once.
 */

/** The commit before issue 11's fixes: its ledger is the negative control. */
export const PRE_FIX_COMMIT = '80144ce';

/** What a scenario needs of a ledger build: its batch handler, built on a table and a DLQ. */
export interface LedgerBuild {
  readonly label: string;
  /** Creates the build's consumer on `tableName`; `dlqUrl` is its payments DLQ (used only by builds that send to it). */
  create(options: {
    readonly ddb: DynamoDBClient;
    readonly sqs: SQSClient;
    readonly tableName: string;
    readonly dlqUrl: string;
    readonly observability: unknown;
  }): Promise<(event: SQSEvent) => Promise<SQSBatchResponse>>;
}

interface ConsumerModule {
  processLedgerBatch(event: SQSEvent, context: undefined, deps: Record<string, unknown>): Promise<SQSBatchResponse>;
}
interface StrategyModule {
  createAtomicStrategy(options: { client: DynamoDBClient; tableName: string; dedupTtlSeconds: number }): unknown;
}
interface DeadLetterModule {
  createSqsDeadLetterSender(sqs: SQSClient, queueUrl: string): unknown;
}

/** Marker lifetime of both builds in these scenarios (the stack's default is 19 days). */
const DEDUP_TTL_SECONDS = 3600;

/** The ledger of a checkout at `lambdasDir` (its consumer and atomic strategy; its DLQ sender when it has one). */
export function ledgerBuild(label: string, lambdasDir: string): LedgerBuild {
  return {
    label,
    async create({ ddb, sqs, tableName, dlqUrl, observability }) {
      const consumer = (await import(join(lambdasDir, 'ledger/consumer.ts'))) as ConsumerModule;
      const strategies = (await import(join(lambdasDir, 'ledger/strategies/atomic.ts'))) as StrategyModule;
      let deadLetter: unknown;
      try {
        const module = (await import(join(lambdasDir, 'ledger/dead-letter.ts'))) as DeadLetterModule;
        deadLetter = module.createSqsDeadLetterSender(sqs, dlqUrl);
      } catch {
        deadLetter = undefined; // before issue 11 the ledger had no DLQ sender: failures dead-letter by RedrivePolicy
      }
      const strategy = strategies.createAtomicStrategy({ client: ddb, tableName, dedupTtlSeconds: DEDUP_TTL_SECONDS });
      return (event) => consumer.processLedgerBatch(event, undefined, { strategy, observability, ...(deadLetter ? { deadLetter } : {}) });
    },
  };
}

/** This checkout's ledger. */
export const FIXED_BUILD = ledgerBuild('this checkout', resolve('lambdas'));

/**
 * Extracts the lambdas of {@link PRE_FIX_COMMIT} (`git archive`) under `.chaos/` of this checkout, where they resolve
 * this project's node_modules.
 * @returns the build and a function that removes the extracted files.
 * @throws Error naming the commit when git cannot produce it (a checkout without history: fetch it, or run the
 *   scenarios in a clone).
 */
export function preFixBuild(): { build: LedgerBuild; remove(): void } {
  const dir = resolve(`.chaos/pre-issue-11-ledger-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('sh', ['-c', `git archive ${PRE_FIX_COMMIT} lambdas | tar -x -C '${dir}'`], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `Cannot extract the ledger before issue 11's fixes (git archive ${PRE_FIX_COMMIT}): ${(error as Error).message.trim()}. ` +
        'Run in a clone with the project history (git fetch --unshallow).',
    );
  }
  return { build: ledgerBuild(`before the fixes (${PRE_FIX_COMMIT})`, join(dir, 'lambdas')), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A payment of a scenario: `key` is the producer's idempotency key, the paymentId derives from it as the API does. */
export function scenarioPayments(runId: string, spec: ReadonlyArray<readonly [account: string, amount: number]>): IntendedPayment[] {
  const perAccount = new Map<string, number>();
  return spec.map(([account, amount], index) => {
    const accountId = `${runId}-${account}`;
    const accountIndex = perAccount.get(accountId) ?? 0;
    perAccount.set(accountId, accountIndex + 1);
    const idempotencyKey = `${runId}-key-${index}`;
    return { index, accountIndex, idempotencyKey, paymentId: paymentIdFor(idempotencyKey), request: { accountId, amount, currency: 'EUR' } };
  });
}

/** A batch as the mapping handed it over, and what became of each record. */
export interface BatchResult {
  readonly paymentIds: readonly string[];
  /** Payment ids reported failed (by the harness or the ledger). */
  readonly failed: readonly string[];
}

/** One scenario: a queue, its DLQ and a ledger table of its own, behind one ledger build. */
export class LedgerScenario {
  /** The harness's ledger faults (the same registry a chaos run fills). */
  readonly faults: LedgerFaultRegistry = {
    versionSkew: new Set(),
    blockedHeads: new Set(),
    fired: { versionSkew: 0, versionSkewHeld: 0, blockedReceives: 0 },
  };
  readonly redriven: string[] = [];
  readonly #deadLetters: ObservedDeadLetter[] = [];
  readonly #keys = new Map<string, string[]>();

  private constructor(
    readonly build: LedgerBuild,
    readonly runId: string,
    private readonly ddb: DynamoDBClient,
    private readonly sqs: SQSClient,
    readonly tableName: string,
    readonly queueUrl: string,
    private readonly queueArn: string,
    readonly dlqUrl: string,
    private readonly handler: (event: SQSEvent) => Promise<SQSBatchResponse>,
    /** Every hop of the scenario's messages, for the journeys. */
    readonly recorder: FlightRecorder,
  ) {}

  /** Creates the table, the FIFO queue with its FIFO DLQ (maxReceiveCount as in a chaos run) and the build's consumer. */
  static async start(build: LedgerBuild, ports: { readonly ddb: DynamoDBClient; readonly sqs: SQSClient }): Promise<LedgerScenario> {
    const runId = uniqueName('i11');
    const tableName = await createLedgerTable(ports.ddb);
    const dlqUrl = await createFifoQueue(ports.sqs, `${runId}-dlq`, {});
    const dlqArn = await queueArnOf(ports.sqs, dlqUrl);
    const queueUrl = await createFifoQueue(ports.sqs, runId, {
      VisibilityTimeout: '30',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: CHAOS_TIMINGS.maxReceiveCount }),
    });
    const queueArn = await queueArnOf(ports.sqs, queueUrl);
    const recorder = new FlightRecorder();
    const observability = recordingObservability(recorder, build.label);
    const handler = await build.create({ ddb: ports.ddb, sqs: ports.sqs, tableName, dlqUrl, observability });
    return new LedgerScenario(build, runId, ports.ddb, ports.sqs, tableName, queueUrl, queueArn, dlqUrl, handler, recorder);
  }

  /**
   * Sends a payment as the API does (group = account, dedup id from the key), or as another producer would.
   * @param options.group another MessageGroupId (a producer that does not group by account)
   * @param options.deduplicationId another dedup id (a redrive: `redrive-…`)
   */
  async send(payment: IntendedPayment, options: { readonly group?: string; readonly deduplicationId?: string } = {}): Promise<void> {
    const message: PaymentMessage = {
      ...payment.request,
      paymentId: payment.paymentId,
      idempotencyKey: payment.idempotencyKey,
      requestedAt: new Date().toISOString(),
    };
    const group = options.group ?? payment.request.accountId;
    const dedupId = options.deduplicationId ?? `${payment.idempotencyKey}-first`;
    const { MessageId } = await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(message),
        MessageGroupId: group,
        MessageDeduplicationId: dedupId,
      }),
    );
    this.#keys.set(MessageId!, [payment.paymentId, payment.idempotencyKey, MessageId!]);
    const fn = options.deduplicationId?.startsWith('redrive-') ? 'operator' : options.group ? 'producer-b' : 'producer';
    this.recorder.add({ kind: 'queue', t: Date.now(), fn, move: 'send', queue: 'payments', messageId: MessageId, dedupId, group, keys: this.#keys.get(MessageId!)! });
  }

  /** One ReceiveMessage of the mapping (AWS-shaped FIFO batch): the records it would hand to the function. */
  async receive(max = 10): Promise<SQSEvent['Records']> {
    const { Messages = [] } = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: max,
        AttributeNames: ['All'],
        MessageAttributeNames: ['All'],
        WaitTimeSeconds: 0,
      }),
    );
    return Messages.map((m) => toSqsEventRecord(m, this.queueArn, LOCAL_REGION) as unknown as SQSEvent['Records'][number]);
  }

  /**
   * Hands `records` to the build as one invocation, with the harness's ledger faults around it, then does what the
   * mapping does with the answer: deletes what succeeded; a reported failure becomes visible again at once (the
   * visibility timeout, shortened to nothing) and dead-letters after maxReceiveCount receives (fauxqs RedrivePolicy).
   */
  async invoke(records: SQSEvent['Records']): Promise<BatchResult> {
    if (records.length === 0) return { paymentIds: [], failed: [] };
    const skewed = new Set(this.faults.versionSkew);
    const harness = harnessFailures(records as never, this.faults, CHAOS_TIMINGS.maxReceiveCount);
    const harnessReason = (record: SQSEvent['Records'][number]) =>
      skewed.has(paymentIdOfRecord(record))
        ? 'harness (version skew): an older ledger build judged it poison; only this record failed'
        : 'harness (blocked group): its group\'s head fails retryably on every receive (S10)';
    const started = Date.now();
    const rest = records.filter((r) => !harness.has(r.messageId));
    const answer = rest.length > 0 ? await this.handler({ Records: rest }) : { batchItemFailures: [] };
    const failed = new Set([...harness, ...answer.batchItemFailures.map((f) => f.itemIdentifier)]);
    const requestId = `${this.build.label}-${started}`;
    for (const record of records) {
      const outcome = failed.has(record.messageId) ? 'failed' : 'ok';
      this.recorder.add({
        kind: 'record',
        t: started,
        fn: 'Ledger',
        source: 'payments',
        id: record.messageId,
        receiveCount: Number(record.attributes.ApproximateReceiveCount),
        outcome,
        batchSize: records.length,
        requestId,
        ...(harness.has(record.messageId) ? { error: harnessReason(record) } : {}),
        keys: this.#keys.get(record.messageId) ?? [record.messageId],
      });
      if (outcome === 'ok') await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: record.receiptHandle }));
      else await this.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: record.receiptHandle, VisibilityTimeout: 0 }));
    }
    return {
      paymentIds: records.map(paymentIdOfRecord),
      failed: records.filter((r) => failed.has(r.messageId)).map(paymentIdOfRecord),
    };
  }

  /** Receives and invokes until the queue is empty; at most `maxBatches` invocations. @returns the batches. */
  async drain(maxBatches = 50): Promise<BatchResult[]> {
    const batches: BatchResult[] = [];
    for (let i = 0; i < maxBatches; i++) {
      const records = await this.receive();
      if (records.length === 0) return batches;
      batches.push(await this.invoke(records));
    }
    throw new Error(`Queue ${this.queueUrl} still not empty after ${maxBatches} batches: a scenario loops`);
  }

  /**
   * Once idle, what an operator does (`npm run redrive`, as the chaos runner does): the valid payments in the DLQ that
   * have no effect are sent again to their account's group with a new dedup id, then drained. Every letter is kept for
   * the checker.
   */
  async redrive(): Promise<void> {
    const letters = await this.#drainDlq();
    this.#deadLetters.push(...letters);
    const applied = new Set((await this.#scan()).events.map((e) => e.paymentId));
    for (const letter of letters) {
      const message = PaymentMessageSchema.safeParse(safeJson(letter.body));
      if (!message.success || applied.has(message.data.paymentId)) continue;
      const { MessageId } = await this.sqs.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: JSON.stringify(message.data),
          MessageGroupId: message.data.accountId,
          MessageDeduplicationId: `redrive-${message.data.paymentId}-${this.redriven.length}`,
        }),
      );
      this.#keys.set(MessageId!, [message.data.paymentId, message.data.idempotencyKey, MessageId!]);
      const keys = this.#keys.get(MessageId!)!;
      this.recorder.add({ kind: 'queue', t: Date.now(), fn: 'operator', move: 'redrive', queue: 'payments DLQ', keys });
      this.recorder.add({ kind: 'queue', t: Date.now(), fn: 'operator', move: 'send', queue: 'payments', messageId: MessageId, group: message.data.accountId, keys });
      this.redriven.push(message.data.paymentId);
    }
    await this.drain();
  }

  /**
   * Leaves a payment's marker (its outbox item) expired but present, as TTL does for up to days (F6): an expiry over
   * five years old, which TTL never deletes (locally as on AWS).
   */
  async expireMarker(payment: IntendedPayment): Promise<void> {
    await DynamoDBDocumentClient.from(this.ddb).send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: outboxKey(eventIdFor(payment.paymentId)),
        UpdateExpression: 'SET #ttl = :expired',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#ttl': LEDGER_KEYS.ttlAttribute },
        ExpressionAttributeValues: { ':expired': Math.floor(Date.now() / 1000) - (5 * 366 + 1) * 86_400 },
      }),
    );
  }

  /** The chaos checker's verdict on the ledger table and the DLQ (read now; each outbox event counts as delivered once). */
  async check(payments: readonly IntendedPayment[]): Promise<CheckReport> {
    const { accounts, events } = await this.#scan();
    this.#deadLetters.push(...(await this.#drainDlq()));
    return check(
      payments,
      {
        accounts,
        outboxEvents: events,
        webhookCalls: events.map((e) => ({ idempotencyKey: e.eventId, outcome: 'accepted', json: e })),
        deadLetters: this.#deadLetters,
      },
      { redriven: this.redriven },
    );
  }

  /** The journey of each payment (queue moves, receives, the ledger's log lines), as the chaos run prints them. */
  journeys(payments: readonly IntendedPayment[]): string {
    const events = this.recorder.events();
    return payments.map((p) => formatJourney(buildJourney(events, p.paymentId, { followLogs: true }))).join('\n');
  }

  async #scan(): Promise<{ accounts: { accountId: string; balance: number; applied: number; rejected: number }[]; events: PaymentEvent[] }> {
    const { Items = [] } = await DynamoDBDocumentClient.from(this.ddb).send(new ScanCommand({ TableName: this.tableName, ConsistentRead: true }));
    const accounts = Items.filter((i) => String(i.pk).startsWith(ACCOUNT_PREFIX)).map((i) => ({
      accountId: String(i.pk).slice(ACCOUNT_PREFIX.length),
      balance: Number(i.balance ?? 0),
      applied: Number(i.applied ?? 0),
      rejected: Number(i.rejected ?? 0),
    }));
    const events = Items.filter((i) => String(i.pk).startsWith(OUTBOX_PREFIX) && typeof i.event === 'string').map((i) => JSON.parse(String(i.event)) as PaymentEvent);
    return { accounts, events };
  }

  async #drainDlq(): Promise<ObservedDeadLetter[]> {
    const out: ObservedDeadLetter[] = [];
    for (;;) {
      const { Messages = [] } = await this.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: this.dlqUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], WaitTimeSeconds: 0 }),
      );
      if (Messages.length === 0) return out;
      for (const m of Messages) {
        const kind = m.MessageAttributes?.ledgerFailure?.StringValue;
        const reason = m.MessageAttributes?.ledgerFailureReason?.StringValue;
        out.push({ queue: 'payments', body: m.Body ?? '', ...(kind ? { ledgerFailure: { kind, ...(reason ? { reason } : {}) } } : {}) });
        const parsed = PaymentMessageSchema.safeParse(safeJson(m.Body ?? ''));
        // Read back once idle: the ledger sent it itself (`ledgerFailure`), or SQS moved it after maxReceiveCount.
        this.recorder.add({
          kind: 'queue',
          t: Date.now(),
          ...(kind ? { move: 'send', fn: 'Ledger', dedupId: `${kind} (ledgerFailure)` } : { move: 'dead-letter' }),
          queue: 'payments DLQ',
          messageId: m.MessageId,
          keys: parsed.success ? [parsed.data.paymentId, parsed.data.idempotencyKey] : [m.MessageId ?? ''],
        });
        await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.dlqUrl, ReceiptHandle: m.ReceiptHandle! }));
      }
    }
  }
}

/**
 * An Observability port (either build's shape: logger, metrics, count, flush) whose log lines go to the flight
 * recorder with the correlation keys appended at that moment, so a journey shows what the ledger said.
 */
function recordingObservability(recorder: FlightRecorder, label: string) {
  const keys: Record<string, unknown> = {};
  const log = (level: string) => (message: string, attributes: Record<string, unknown> = {}) => {
    // The pre-fix consumer appends the keys to the logger; this checkout's puts them on each line (parallel groups).
    const correlation = ['idempotencyKey', 'paymentId', 'eventId'].map((k) => attributes[k] ?? keys[k]).filter((v): v is string => typeof v === 'string');
    const detail: Record<string, string> = {};
    for (const name of ['reasons', 'reason', 'sequenceNumber', 'blockedBy', 'error'] as const) {
      if (attributes[name] !== undefined) detail[name] = String(attributes[name] instanceof Error ? (attributes[name] as Error).message : JSON.stringify(attributes[name])).slice(0, 200);
    }
    const messageId = typeof attributes.messageId === 'string' ? [attributes.messageId] : [];
    recorder.add({ kind: 'log', t: Date.now(), fn: 'Ledger', level, message: `${message} [${label}]`, layer: 'ledger', detail, keys: [...correlation, ...messageId] });
  };
  const logger = {
    debug: log('DEBUG'),
    info: log('INFO'),
    warn: log('WARN'),
    error: log('ERROR'),
    appendKeys: (added: Record<string, unknown>) => void Object.assign(keys, added),
    removeKeys: (names: string[]) => names.forEach((name) => delete keys[name]),
  } as unknown as Logger;
  return { logger, metrics: {} as Metrics, count: () => undefined, seconds: () => undefined, flush: () => undefined };
}

async function createFifoQueue(sqs: SQSClient, name: string, attributes: Record<string, string>): Promise<string> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${name}.fifo`, Attributes: { FifoQueue: 'true', ...attributes } }));
  if (!QueueUrl) throw new Error(`CreateQueue returned no URL for ${name}.fifo`);
  return QueueUrl;
}

async function queueArnOf(sqs: SQSClient, url: string): Promise<string> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  if (!Attributes?.QueueArn) throw new Error(`GetQueueAttributes returned no QueueArn for ${url}`);
  return Attributes.QueueArn;
}

function paymentIdOfRecord(record: { body: string; messageId: string }): string {
  const parsed = safeJson(record.body) as { paymentId?: unknown } | undefined;
  return typeof parsed?.paymentId === 'string' ? parsed.paymentId : record.messageId;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
