import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand, type ScanCommandOutput } from '@aws-sdk/lib-dynamodb';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { localScopedKey, PaymentsApiClient, type AccountView, type ApiResponse } from './api-client.js';
import { journeyLinkLines } from './inspector/journey-link.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';
import type { LocalRuntime } from './runtime.js';
import { eventIdFor, PAYMENT_EVENT_TYPES, paymentIdFor, PaymentEventSchema, type PaymentEvent, type PaymentRequest } from '../lambdas/shared/payments-model.js';
import { OUTBOX_PREFIX } from '../lambdas/shared/ledger-keys.js';
import { loyaltyEventIdFor, LoyaltyPointsAwardedSchema, type LoyaltyPointsAwarded } from '../lambdas/loyalty/events.js';
import { loyaltyPointsKey, MINOR_UNITS_PER_POINT } from '../lambdas/loyalty/loyalty.js';

/**
 * `npm run demo`: the payments pipeline end to end on the local runtime.
 *
 * Starts a webhook receiver and the local runtime (webhookUrl = the receiver), sends a scenario through the public API
 * (several accounts, duplicate requests, an overdraft, a currency mismatch, a same-key-other-body conflict, malformed
 * requests), waits for the pipeline to drain and prints what it finds next to what the scenario implies — including
 * the second example consumer, loyalty: its points per account, an applied payment event re-delivered to its queue
 * (skipped) and its own LoyaltyPointsAwarded events on its downstream queue, each once. Exits 0 only when every figure
 * is exact. `--bench [--payments N]` then measures time-to-ready and the API → webhook latency.
 *
 * The scenario, the expected-outcome model and the observation/comparison helpers are exported: the end-to-end suite
 * (test/e2e) runs the same model against the local runtime or a deployed stack.
 */

// ---------------------------------------------------------------------------------------------------------------
// Scenario and expected outcome (pure)
// ---------------------------------------------------------------------------------------------------------------

/** One request of a scenario, with the answer the API must give. */
export interface ScenarioStep {
  /** Human-readable label, printed in the report. */
  readonly label: string;
  /**
   * - `payment`: a new, valid payment → 202.
   * - `duplicate`: a retry of an earlier payment (same key, same body) → 202 with the first answer's body, no effect.
   * - `conflict`: an earlier key with another body → 422, no effect.
   * - `malformed`: an invalid request → 400 (or `expectedStatus`), nothing sent downstream.
   */
  readonly kind: 'payment' | 'duplicate' | 'conflict' | 'malformed';
  readonly idempotencyKey?: string;
  readonly body?: unknown;
  /** Exact body text, for bodies that are not JSON. */
  readonly rawBody?: string;
  /** Expected HTTP status. @default - 202 for payment/duplicate, 422 for conflict, 400 for malformed */
  readonly expectedStatus?: number;
}

/** Expected end state of one account. */
export interface ExpectedAccount {
  readonly accountId: string;
  readonly currency: string;
  readonly balance: number;
  readonly applied: number;
  readonly rejected: number;
}

/** An event the pipeline must produce exactly once (fields compared with the relayed/delivered event). */
export type ExpectedEvent = Pick<PaymentEvent, 'eventId' | 'eventType' | 'paymentId' | 'idempotencyKey' | 'accountId' | 'amount' | 'currency' | 'balance' | 'reason'>;

/** Expected loyalty state of one account (the second consumer: points per applied credit, one award per credit). */
export interface ExpectedLoyalty {
  readonly accountId: string;
  readonly points: number;
  readonly awards: number;
}

/** A LoyaltyPointsAwarded event the loyalty consumer must publish exactly once to its downstream queue. */
export type ExpectedAward = Pick<LoyaltyPointsAwarded, 'eventId' | 'paymentEventId' | 'accountId' | 'points'>;

/** What a scenario must leave behind. */
export interface ExpectedOutcome {
  readonly accounts: readonly ExpectedAccount[];
  /** In per-account processing order. */
  readonly events: readonly ExpectedEvent[];
  /** Loyalty points per account (every account of `accounts`, 0 when nothing earned points). */
  readonly loyalty: readonly ExpectedLoyalty[];
  /** The loyalty consumer's events, in per-account order. */
  readonly awards: readonly ExpectedAward[];
  /** Expected HTTP status per step (same order as the scenario). */
  readonly statuses: readonly number[];
}

/** A unique prefix for one run, so repeated runs against a deployed stack never share accounts or keys. */
export function newRunId(prefix = 'run'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Idempotency key for the `n`th request of a run (matches IDEMPOTENCY_KEY_PATTERN). */
export function keyFor(runId: string, label: string): string {
  return `${runId}:${label}`.slice(0, 128);
}

/**
 * The demo scenario: three accounts in three currencies, applied credits and debits, two retries, an overdraft, a
 * debit to exactly zero, a currency mismatch, a same-key-other-body conflict and five malformed requests.
 */
export function buildDemoScenario(runId: string): ScenarioStep[] {
  const alice = `${runId}-alice`;
  const bob = `${runId}-bob`;
  const carol = `${runId}-carol`;
  const pay = (label: string, accountId: string, amount: number, currency: PaymentRequest['currency'], reference?: string): ScenarioStep => ({
    label,
    kind: 'payment',
    idempotencyKey: keyFor(runId, label),
    body: { accountId, amount, currency, ...(reference ? { reference } : {}) },
  });
  const steps: ScenarioStep[] = [
    pay('alice-salary', alice, 10_000, 'EUR', 'salary'),
    pay('bob-deposit', bob, 5_000, 'USD'),
    pay('carol-deposit', carol, 2_500, 'GBP'),
    pay('alice-rent', alice, -2_500, 'EUR', 'rent'),
    pay('bob-groceries', bob, -1_200, 'USD'),
  ];
  const byLabel = (label: string) => steps.find((s) => s.label === label)!;
  steps.push(
    { ...byLabel('alice-salary'), label: 'alice-salary (client retry)', kind: 'duplicate' },
    { ...byLabel('alice-rent'), label: 'alice-rent (client retry)', kind: 'duplicate' },
    pay('alice-car', alice, -9_000, 'EUR', 'overdraft: 7,500 available'),
    pay('carol-refund', carol, 700, 'GBP'),
    pay('bob-empty', bob, -3_800, 'USD', 'debit to exactly zero'),
    pay('carol-in-usd', carol, 300, 'USD', 'currency mismatch'),
    {
      label: 'bob-deposit, same key, other amount',
      kind: 'conflict',
      idempotencyKey: keyFor(runId, 'bob-deposit'),
      body: { accountId: bob, amount: 9_999, currency: 'USD' },
    },
    { label: 'no Idempotency-Key', kind: 'malformed', body: { accountId: alice, amount: 100, currency: 'EUR' } },
    { label: 'body is not JSON', kind: 'malformed', idempotencyKey: keyFor(runId, 'bad-json'), rawBody: '{"accountId": "x", ' },
    { label: 'fractional amount', kind: 'malformed', idempotencyKey: keyFor(runId, 'bad-fraction'), body: { accountId: alice, amount: 12.5, currency: 'EUR' } },
    { label: 'unknown currency', kind: 'malformed', idempotencyKey: keyFor(runId, 'bad-currency'), body: { accountId: alice, amount: 100, currency: 'XXX' } },
    { label: 'zero amount', kind: 'malformed', idempotencyKey: keyFor(runId, 'bad-zero'), body: { accountId: alice, amount: 0, currency: 'EUR' } },
    pay('bob-after-zero', bob, 50, 'USD'),
    { ...byLabel('bob-groceries'), label: 'bob-groceries (late client retry)', kind: 'duplicate' },
  );
  return steps;
}

/** Expected HTTP status of a step. */
export function expectedStatusOf(step: ScenarioStep): number {
  if (step.expectedStatus !== undefined) return step.expectedStatus;
  return { payment: 202, duplicate: 202, conflict: 422, malformed: 400 }[step.kind];
}

/**
 * The ledger's rules applied to a scenario, in order: a credit is applied; a debit is applied unless it would overdraw
 * (then rejected, INSUFFICIENT_FUNDS); a payment in another currency than the account's (set by its first applied
 * payment) is rejected, CURRENCY_MISMATCH; a rejection leaves the balance unchanged and is an event too. Retries,
 * conflicts and malformed requests have no effect. The loyalty consumer awards 1 point per 100 minor units of each
 * applied credit (a credit under 100 earns nothing and publishes no award; debits and rejections earn nothing).
 */
export function expectedOutcome(steps: readonly ScenarioStep[]): ExpectedOutcome {
  const accounts = new Map<string, ExpectedAccount>();
  const events: ExpectedEvent[] = [];
  const loyalty = new Map<string, ExpectedLoyalty>();
  const awards: ExpectedAward[] = [];
  for (const step of steps) {
    if (step.kind !== 'payment') continue;
    const request = step.body as PaymentRequest;
    const key = step.idempotencyKey!;
    // The API scopes the key to the caller: the pipeline's key (and the paymentId) derive from the scoped one.
    const paymentId = paymentIdFor(localScopedKey(key));
    const before = accounts.get(request.accountId);
    const balance = before?.balance ?? 0;
    let reason: ExpectedEvent['reason'];
    if (before && before.currency !== request.currency) reason = 'CURRENCY_MISMATCH';
    else if (balance + request.amount < 0) reason = 'INSUFFICIENT_FUNDS';
    if (!before && reason) {
      throw new Error(`Scenario step "${step.label}" rejects a payment to a new account: open accounts with a credit`);
    }
    const after: ExpectedAccount = reason
      ? { ...before!, rejected: before!.rejected + 1 }
      : {
          accountId: request.accountId,
          currency: before?.currency ?? request.currency,
          balance: balance + request.amount,
          applied: (before?.applied ?? 0) + 1,
          rejected: before?.rejected ?? 0,
        };
    accounts.set(request.accountId, after);
    events.push({
      eventId: eventIdFor(paymentId),
      eventType: reason ? 'PaymentRejected' : 'PaymentApplied',
      paymentId,
      idempotencyKey: localScopedKey(key),
      accountId: request.accountId,
      amount: request.amount,
      currency: request.currency,
      balance: after.balance,
      ...(reason ? { reason } : {}),
    });
    const earned = loyalty.get(request.accountId) ?? { accountId: request.accountId, points: 0, awards: 0 };
    const points = !reason && request.amount > 0 ? Math.floor(request.amount / MINOR_UNITS_PER_POINT) : 0;
    if (points > 0) {
      const paymentEventId = eventIdFor(paymentId);
      awards.push({ eventId: loyaltyEventIdFor(paymentEventId), paymentEventId, accountId: request.accountId, points });
    }
    loyalty.set(request.accountId, points > 0 ? { ...earned, points: earned.points + points, awards: earned.awards + 1 } : earned);
  }
  return { accounts: [...accounts.values()], events, loyalty: [...loyalty.values()], awards, statuses: steps.map(expectedStatusOf) };
}

// ---------------------------------------------------------------------------------------------------------------
// Running a scenario and observing the pipeline
// ---------------------------------------------------------------------------------------------------------------

/** The answer to one scenario step, with the time it was sent (for latency). */
export interface StepResult {
  readonly step: ScenarioStep;
  readonly response: ApiResponse;
  /** Epoch ms just before the request was sent. */
  readonly sentAt: number;
}

/** Sends the steps in order (one at a time, so each account's payments reach its FIFO group in scenario order). */
export async function sendScenario(client: PaymentsApiClient, steps: readonly ScenarioStep[]): Promise<StepResult[]> {
  const results: StepResult[] = [];
  for (const step of steps) results.push(await sendStep(client, step));
  return results;
}

/** Sends one step. */
export async function sendStep(client: PaymentsApiClient, step: ScenarioStep): Promise<StepResult> {
  const sentAt = Date.now();
  const response = await client.createPayment({ idempotencyKey: step.idempotencyKey, body: step.body, rawBody: step.rawBody });
  return { step, response, sentAt };
}

/** Where the observer reads the pipeline's state: the stack outputs and clients pointed at the deployment. */
export interface PipelineHandles {
  readonly outputs: Readonly<Record<string, string>>;
  readonly api: PaymentsApiClient;
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  /** The webhook receiver the notifier calls, when this process can see it. */
  readonly receiver?: WebhookReceiver;
}

/** What the pipeline holds after a run. */
export interface ObservedState {
  readonly accounts: ReadonlyMap<string, { status: number; view?: AccountView }>;
  /** Outbox events of the given accounts, from the ledger table. */
  readonly outboxEvents: readonly PaymentEvent[];
  /** Events delivered to the webhook (first accepted call per Idempotency-Key), when a receiver is attached. */
  readonly delivered?: readonly { idempotencyKey?: string; event?: PaymentEvent }[];
  /** Accepted webhook calls per Idempotency-Key (more than 1 = a duplicate effect downstream). */
  readonly acceptedPerKey?: ReadonlyMap<string, number>;
  readonly rawWebhookCalls?: number;
  /** Visible + in-flight messages of each dead-letter / failure queue, by output name. */
  readonly deadLetters: Readonly<Record<string, number>>;
  /** The loyalty consumer's state, when observed ({@link observeLoyalty}). */
  readonly loyalty?: ObservedLoyalty;
}

/** What the second example consumer, loyalty, holds and published for a set of accounts. */
export interface ObservedLoyalty {
  /** Points item per account (`undefined`: none written). */
  readonly points: ReadonlyMap<string, { readonly points: number; readonly awards: number } | undefined>;
  /** Every copy of the accounts' LoyaltyPointsAwarded events received from its downstream queue. */
  readonly downstream: readonly LoyaltyPointsAwarded[];
  /** Messages of the accounts on that queue that are not valid LoyaltyPointsAwarded events (bodies). */
  readonly invalid: readonly string[];
  /** Visible + in-flight messages of the loyalty queue's DLQ and of its events queue's DLQ, by output name. */
  readonly deadLetters: Readonly<Record<string, number>>;
}

/** Stack outputs that name a dead-letter or failure queue (must stay empty). */
export const FAILURE_QUEUE_OUTPUTS = ['PaymentsDlqUrl', 'EventsDlqUrl', 'RelayFailureQueueUrl'] as const;

/** Reads balances through the API, outbox events from the ledger table, the receiver's record and DLQ depths. */
export async function observePipeline(handles: PipelineHandles, accountIds: readonly string[]): Promise<ObservedState> {
  const accounts = new Map<string, { status: number; view?: AccountView }>();
  for (const accountId of accountIds) {
    const response = await handles.api.getAccount(accountId);
    accounts.set(accountId, { status: response.status, view: response.status === 200 ? response.body : undefined });
  }
  const wanted = new Set(accountIds);
  const outboxEvents = (await scanOutbox(handles.dynamodb, requireOutput(handles.outputs, 'LedgerTableName'))).filter((e) =>
    wanted.has(e.accountId),
  );
  const deadLetters: Record<string, number> = {};
  for (const name of FAILURE_QUEUE_OUTPUTS) {
    const url = handles.outputs[name];
    if (url) deadLetters[name] = await queueDepth(handles.sqs, url);
  }
  if (!handles.receiver) return { accounts, outboxEvents, deadLetters };
  const ofRun = (json: unknown) => {
    const parsed = PaymentEventSchema.safeParse(json);
    return parsed.success && wanted.has(parsed.data.accountId) ? parsed.data : undefined;
  };
  const delivered = handles.receiver
    .uniqueDeliveries()
    .map((call) => ({ idempotencyKey: call.idempotencyKey, event: ofRun(call.json) }))
    .filter((d) => d.event !== undefined);
  const acceptedPerKey = new Map<string, number>();
  let rawWebhookCalls = 0;
  for (const call of handles.receiver.calls()) {
    if (!ofRun(call.json)) continue;
    rawWebhookCalls++;
    if (call.outcome === 'accepted') acceptedPerKey.set(call.idempotencyKey ?? '', (acceptedPerKey.get(call.idempotencyKey ?? '') ?? 0) + 1);
  }
  return { accounts, outboxEvents, delivered, acceptedPerKey, rawWebhookCalls, deadLetters };
}

/** All outbox events in the ledger table (paged scan; fine for demo- and test-sized tables). */
export async function scanOutbox(dynamodb: DynamoDBClient, tableName: string): Promise<PaymentEvent[]> {
  const doc = DynamoDBDocumentClient.from(dynamodb);
  const events: PaymentEvent[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page: ScanCommandOutput = await doc.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: 'begins_with(pk, :outbox)',
        ExpressionAttributeValues: { ':outbox': OUTBOX_PREFIX },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      // Every consumer's outbox events share the table (one format): the demo checks the payment events.
      if (typeof item.event === 'string' && (PAYMENT_EVENT_TYPES as readonly string[]).includes(String(item.eventType ?? JSON.parse(item.event).eventType))) {
        events.push(PaymentEventSchema.parse(JSON.parse(item.event)));
      }
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return events;
}

/** Stack outputs of the loyalty consumer: its source queue, its downstream events queue, their DLQs. */
export const LOYALTY_OUTPUTS = {
  queue: 'LoyaltyQueueUrl',
  events: 'LoyaltyEventsQueueUrl',
  deadLetters: ['LoyaltyDlqUrl', 'LoyaltyEventsDlqUrl'],
} as const;

/**
 * Reads the loyalty consumer's points items of the accounts and takes their LoyaltyPointsAwarded events off its
 * downstream queue, as a downstream subscriber would (the stack has no consumer on that queue). Messages of other
 * accounts are made visible again at once, so a deployed stack's other runs keep theirs. Call it once the pipeline is
 * idle: it counts what arrived, every copy.
 */
export async function observeLoyalty(handles: PipelineHandles, accountIds: readonly string[]): Promise<ObservedLoyalty> {
  const points = await readLoyaltyPoints(handles, accountIds);
  const wanted = new Set(accountIds);
  const downstream: LoyaltyPointsAwarded[] = [];
  const invalid: string[] = [];
  const queueUrl = requireOutput(handles.outputs, LOYALTY_OUTPUTS.events);
  const seen = new Set<string>();
  // Stop when a receive brings nothing new: only other accounts' messages, made visible again, come back.
  for (let fresh = true; fresh; ) {
    const { Messages = [] } = await handles.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageSystemAttributeNames: ['MessageGroupId'] }),
    );
    fresh = Messages.some((m) => !seen.has(m.MessageId!));
    const ours = Messages.filter((m) => wanted.has(m.Attributes?.MessageGroupId ?? ''));
    const others = Messages.filter((m) => !ours.includes(m));
    for (const message of Messages) seen.add(message.MessageId!);
    for (const message of ours) {
      const parsed = LoyaltyPointsAwardedSchema.safeParse(parseJson(message.Body));
      if (parsed.success) downstream.push(parsed.data);
      else invalid.push(message.Body ?? '');
    }
    if (ours.length > 0) {
      await handles.sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: ours.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
      );
    }
    if (others.length > 0) {
      await handles.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: others.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 })),
        }),
      );
    }
  }
  const deadLetters: Record<string, number> = {};
  for (const name of LOYALTY_OUTPUTS.deadLetters) {
    const url = handles.outputs[name];
    if (url) deadLetters[name] = await queueDepth(handles.sqs, url);
  }
  return { points, downstream, invalid, deadLetters };
}

/** The loyalty consumer's points item per account (strongly consistent reads). */
export async function readLoyaltyPoints(handles: PipelineHandles, accountIds: readonly string[]): Promise<ObservedLoyalty['points']> {
  const points = new Map<string, { points: number; awards: number } | undefined>();
  for (const accountId of accountIds) {
    const key = loyaltyPointsKey(accountId);
    const { Item } = await handles.dynamodb.send(
      new GetItemCommand({
        TableName: requireOutput(handles.outputs, 'LedgerTableName'),
        Key: { pk: { S: key.pk }, sk: { S: key.sk } },
        ConsistentRead: true,
      }),
    );
    points.set(accountId, Item ? { points: Number(Item.points?.N ?? 0), awards: Number(Item.awards?.N ?? 0) } : undefined);
  }
  return points;
}

/**
 * Sends a payment event to the loyalty queue again, as the relay or the outbox sweeper re-publishes an event whose
 * `publishedAt` mark was lost — after SQS's 5-minute FIFO deduplication window, so with a new deduplication id: SQS
 * delivers it, and only the consumer's marker stops a second award.
 */
export async function redeliverToLoyalty(handles: PipelineHandles, event: PaymentEvent): Promise<void> {
  await handles.sqs.send(
    new SendMessageCommand({
      QueueUrl: requireOutput(handles.outputs, LOYALTY_OUTPUTS.queue),
      MessageBody: JSON.stringify(event),
      MessageAttributes: {
        eventType: { DataType: 'String', StringValue: event.eventType },
        eventId: { DataType: 'String', StringValue: event.eventId },
      },
      MessageGroupId: event.accountId,
      MessageDeduplicationId: `${event.eventId}-redelivered-${randomBytes(4).toString('hex')}`,
    }),
  );
}

function parseJson(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? '');
  } catch {
    return undefined;
  }
}

async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/** Reads one stack output. @throws Error naming the output and the outputs present. */
export function requireOutput(outputs: Readonly<Record<string, string>>, name: string): string {
  const value = outputs[name];
  if (!value) throw new Error(`Stack output ${name} is missing (outputs: ${Object.keys(outputs).join(', ') || 'none'})`);
  return value;
}

/**
 * The outputs of the payments stack from `cdk deploy --outputs-file` content ({ stack: { output: value } }): the stack
 * whose name is `stackName`, else the only one with an ApiUrl.
 * @throws Error when none or several stacks qualify.
 */
export function pickStackOutputs(all: Readonly<Record<string, Readonly<Record<string, string>>>>, stackName?: string): Record<string, string> {
  if (stackName) {
    const outputs = all[stackName];
    if (!outputs) throw new Error(`Stack ${stackName} not in the outputs (stacks: ${Object.keys(all).join(', ')})`);
    return { ...outputs };
  }
  const candidates = Object.entries(all).filter(([, outputs]) => outputs.ApiUrl);
  if (candidates.length !== 1) {
    throw new Error(
      `Expected exactly one stack with an ApiUrl output, found ${candidates.length} (${candidates.map(([n]) => n).join(', ')}); name one`,
    );
  }
  return { ...candidates[0]![1] };
}

// ---------------------------------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------------------------------

/** One line of the report: a figure, what the scenario implies and what the pipeline shows. */
export interface ComparisonRow {
  readonly section: string;
  readonly what: string;
  readonly expected: string;
  readonly actual: string;
  readonly ok: boolean;
}

const show = (value: unknown) => (value === undefined ? '—' : typeof value === 'string' ? value : JSON.stringify(value));

/** Compares the API answers with the statuses the scenario implies (and retries with their first answer). */
export function compareResponses(results: readonly StepResult[], expected: ExpectedOutcome): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  const firstAnswer = new Map<string, ApiResponse>();
  results.forEach((result, i) => {
    const status = expected.statuses[i]!;
    const { step, response } = result;
    rows.push({ section: 'API', what: step.label, expected: String(status), actual: String(response.status), ok: response.status === status });
    if (step.kind === 'payment' && step.idempotencyKey) {
      firstAnswer.set(step.idempotencyKey, response);
      const paymentId = (response.body as { paymentId?: unknown } | undefined)?.paymentId;
      rows.push({
        section: 'API',
        what: `${step.label}: paymentId`,
        expected: paymentIdFor(localScopedKey(step.idempotencyKey)),
        actual: show(paymentId),
        ok: paymentId === paymentIdFor(localScopedKey(step.idempotencyKey)),
      });
    }
    if (step.kind === 'duplicate' && step.idempotencyKey) {
      const first = firstAnswer.get(step.idempotencyKey);
      const same = first !== undefined && JSON.stringify(first.body) === JSON.stringify(response.body);
      rows.push({ section: 'API', what: `${step.label}: same body as first answer`, expected: 'same', actual: same ? 'same' : show(response.body), ok: same });
    }
  });
  return rows;
}

/** Compares balances, events, deliveries and dead letters with the expected outcome. */
export function comparePipeline(observed: ObservedState, expected: ExpectedOutcome): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  for (const account of expected.accounts) {
    const seen = observed.accounts.get(account.accountId);
    const view = seen?.view;
    for (const field of ['balance', 'applied', 'rejected', 'currency'] as const) {
      const actual = view?.[field];
      rows.push({
        section: 'Accounts',
        what: `${account.accountId} ${field}`,
        expected: show(account[field]),
        actual: view ? show(actual) : `HTTP ${seen?.status ?? '—'}`,
        ok: actual === account[field],
      });
    }
  }
  rows.push(...compareEvents('Outbox events (ledger table)', observed.outboxEvents, expected.events));
  if (observed.delivered && observed.acceptedPerKey) {
    rows.push(
      ...compareEvents(
        'Relayed events, as delivered to the webhook',
        observed.delivered.map((d) => d.event!),
        expected.events,
      ),
    );
    const badKeys = observed.delivered.filter((d) => d.idempotencyKey !== d.event?.eventId);
    rows.push({
      section: 'Relayed events, as delivered to the webhook',
      what: 'Idempotency-Key header = eventId',
      expected: 'all',
      actual: badKeys.length === 0 ? 'all' : `${badKeys.length} differ (${badKeys.map((d) => d.idempotencyKey).join(', ')})`,
      ok: badKeys.length === 0,
    });
    const duplicates = [...observed.acceptedPerKey].filter(([, n]) => n > 1);
    rows.push({
      section: 'Relayed events, as delivered to the webhook',
      what: 'events accepted more than once',
      expected: '0',
      actual: duplicates.length === 0 ? '0' : duplicates.map(([k, n]) => `${k}×${n}`).join(', '),
      ok: duplicates.length === 0,
    });
  }
  if (observed.loyalty) rows.push(...compareLoyalty(observed.loyalty, expected));
  const deadLetters = { ...observed.deadLetters, ...observed.loyalty?.deadLetters };
  for (const [name, depth] of Object.entries(deadLetters)) {
    rows.push({ section: 'Dead letters', what: `${name} messages`, expected: '0', actual: String(depth), ok: depth === 0 });
  }
  return rows;
}

/** Section titles of the loyalty consumer's part of the report. */
export const LOYALTY_SECTIONS = {
  points: 'Loyalty points (second consumer, fed by PaymentApplied events through the relay)',
  events: 'Loyalty events (LoyaltyPointsAwarded), as received from its downstream queue',
} as const;

/** Compares the loyalty consumer's points and downstream events with the expected outcome. */
export function compareLoyalty(observed: ObservedLoyalty, expected: ExpectedOutcome): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  for (const want of expected.loyalty) {
    const got = observed.points.get(want.accountId);
    for (const field of ['points', 'awards'] as const) {
      const actual = got?.[field] ?? 0;
      rows.push({ section: LOYALTY_SECTIONS.points, what: `${want.accountId} ${field}`, expected: String(want[field]), actual: String(actual), ok: actual === want[field] });
    }
  }
  const section = LOYALTY_SECTIONS.events;
  rows.push({
    section,
    what: 'events',
    expected: String(expected.awards.length),
    actual: String(observed.downstream.length),
    ok: observed.downstream.length === expected.awards.length,
  });
  const labelOf = (paymentEventId: string) => expected.events.find((e) => e.eventId === paymentEventId)?.idempotencyKey.split(':').pop() ?? paymentEventId;
  for (const want of expected.awards) {
    const copies = observed.downstream.filter((e) => e.eventId === want.eventId);
    const summary = (e: ExpectedAward) => `${e.points} points ← ${labelOf(e.paymentEventId)}`;
    const got = copies[0];
    const matches = copies.length === 1 && got!.paymentEventId === want.paymentEventId && got!.accountId === want.accountId && got!.points === want.points;
    rows.push({
      section,
      what: `  ${want.accountId} ${labelOf(want.paymentEventId)}`,
      expected: `${summary(want)}, once`,
      actual: !got ? 'missing' : copies.length > 1 ? `${copies.length} copies` : `${summary(got)}${matches ? ', once' : ''}`,
      ok: matches,
    });
  }
  const unexpected = observed.downstream.filter((e) => !expected.awards.some((w) => w.eventId === e.eventId));
  if (unexpected.length > 0 || observed.invalid.length > 0) {
    rows.push({
      section,
      what: 'unexpected messages',
      expected: '0',
      actual: [...unexpected.map((e) => e.eventId), ...observed.invalid.map((body) => `invalid: ${body.slice(0, 60)}`)].join(', '),
      ok: false,
    });
  }
  return rows;
}

function compareEvents(section: string, actual: readonly PaymentEvent[], expected: readonly ExpectedEvent[]): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  const byId = new Map<string, PaymentEvent[]>();
  for (const event of actual) byId.set(event.eventId, [...(byId.get(event.eventId) ?? []), event]);
  const count = (type: string) => actual.filter((e) => e.eventType === type).length;
  rows.push({ section, what: 'events', expected: String(expected.length), actual: String(actual.length), ok: actual.length === expected.length });
  for (const type of ['PaymentApplied', 'PaymentRejected'] as const) {
    const want = expected.filter((e) => e.eventType === type).length;
    rows.push({ section, what: `  ${type}`, expected: String(want), actual: String(count(type)), ok: count(type) === want });
  }
  for (const want of expected) {
    const got = byId.get(want.eventId) ?? [];
    const summary = (e: Partial<ExpectedEvent> | undefined) =>
      e ? `${e.eventType} ${e.amount} ${e.currency} → ${e.balance}${e.reason ? ` ${e.reason}` : ''}` : 'missing';
    const matches =
      got.length === 1 &&
      (['eventType', 'paymentId', 'idempotencyKey', 'accountId', 'amount', 'currency', 'balance', 'reason'] as const).every(
        (field) => got[0]![field] === want[field],
      );
    rows.push({
      section,
      what: `  ${want.accountId} ${want.idempotencyKey.split(':').pop()}`,
      expected: summary(want),
      actual: got.length > 1 ? `${got.length} copies` : summary(got[0]),
      ok: matches,
    });
  }
  const unexpected = actual.filter((e) => !expected.some((w) => w.eventId === e.eventId));
  if (unexpected.length > 0) {
    rows.push({ section, what: 'unexpected events', expected: '0', actual: unexpected.map((e) => e.eventId).join(', '), ok: false });
  }
  return rows;
}

/** Formats rows as an aligned table, one section after the other, marking each line ✔ or ✘. */
export function formatRows(rows: readonly ComparisonRow[]): string {
  const width = (pick: (r: ComparisonRow) => string, min: number) => Math.max(min, ...rows.map((r) => pick(r).length));
  const w1 = width((r) => r.what, 10);
  const w2 = width((r) => r.expected, 8);
  const lines: string[] = [];
  let section = '';
  for (const row of rows) {
    if (row.section !== section) {
      section = row.section;
      lines.push('', `${section}`, `  ${'what'.padEnd(w1)}  ${'expected'.padEnd(w2)}  actual`);
    }
    lines.push(`${row.ok ? '✔' : '✘'} ${row.what.padEnd(w1)}  ${row.expected.padEnd(w2)}  ${row.actual}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// One demo run
// ---------------------------------------------------------------------------------------------------------------

/** What one run of the demo scenario sent, expected and found. */
export interface DemoRun {
  readonly runId: string;
  readonly scenario: readonly ScenarioStep[];
  readonly expected: ExpectedOutcome;
  readonly results: readonly StepResult[];
  /** The retried payment's PaymentApplied event, delivered to the loyalty queue a second time (undefined: not found). */
  readonly redelivered?: PaymentEvent;
  readonly observed: ObservedState;
  /** The report: API answers, then the pipeline's figures (loyalty included). */
  readonly rows: readonly ComparisonRow[];
}

/** How {@link runDemoScenario} waits and reports progress. */
export interface DemoRunOptions {
  /**
   * Waits for the pipeline to settle: locally `runtime.waitForIdle()`; on a deployment, poll `done` until it holds.
   */
  readonly settle: (done: () => Promise<boolean>) => Promise<void>;
  /** Progress lines. @default - none */
  readonly log?: (line: string) => void;
  /** Run id (prefix of every account and key). @default newRunId('demo') */
  readonly runId?: string;
}

/**
 * The demo against a running pipeline: sends the scenario through the API, waits for the pipeline to settle, sends
 * the client-retried payment's PaymentApplied event to the loyalty queue once more (a re-publish after the FIFO
 * window: the loyalty consumer must skip it), waits again, then observes everything — loyalty points and its
 * downstream events included — and compares it with the expected outcome.
 */
export async function runDemoScenario(handles: PipelineHandles, options: DemoRunOptions): Promise<DemoRun> {
  const runId = options.runId ?? newRunId('demo');
  const log = options.log ?? (() => {});
  const scenario = buildDemoScenario(runId);
  const expected = expectedOutcome(scenario);
  const accountIds = expected.accounts.map((a) => a.accountId);
  log(`Sending ${scenario.length} requests (run ${runId})…`);
  const results = await sendScenario(handles.api, scenario);
  const drainStart = performance.now();
  // Deployed: settled once the ledger's figures and the loyalty points match (the downstream queue is read after).
  const settled = async () => {
    const state = await observePipeline(handles, accountIds);
    const points = await readLoyaltyPoints(handles, accountIds);
    return (
      comparePipeline(state, expected).every((r) => r.ok) &&
      expected.loyalty.every((want) => (points.get(want.accountId)?.awards ?? 0) === want.awards)
    );
  };
  await options.settle(settled);
  log(`Pipeline drained ${Math.round(performance.now() - drainStart)} ms after the last request`);

  const retried = scenario.find((step) => step.kind === 'duplicate')!;
  const retriedEventId = eventIdFor(paymentIdFor(localScopedKey(retried.idempotencyKey!)));
  const redelivered = (await scanOutbox(handles.dynamodb, requireOutput(handles.outputs, 'LedgerTableName'))).find(
    (event) => event.eventId === retriedEventId,
  );
  if (redelivered) {
    log(`Re-delivering ${retried.label.replace(/ \(.*/, '')}'s ${redelivered.eventType} event to the loyalty queue (new deduplication id)…`);
    await redeliverToLoyalty(handles, redelivered);
    await options.settle(async () => (await queueDepth(handles.sqs, requireOutput(handles.outputs, LOYALTY_OUTPUTS.queue))) === 0);
  }
  const observed: ObservedState = { ...(await observePipeline(handles, accountIds)), loyalty: await observeLoyalty(handles, accountIds) };
  const rows = [...compareResponses(results, expected), ...comparePipeline(observed, expected)];
  if (!redelivered) {
    rows.push({ section: LOYALTY_SECTIONS.points, what: `re-delivery of ${retried.label}`, expected: 'sent', actual: `no outbox event ${retriedEventId}`, ok: false });
  }
  return { runId, scenario, expected, results, redelivered, observed, rows };
}

// ---------------------------------------------------------------------------------------------------------------
// Latency
// ---------------------------------------------------------------------------------------------------------------

/** Percentile (nearest-rank) of a list of numbers; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/**
 * Per-payment latencies in ms, split by stage (from the request's send time and the event's `occurredAt`). The ledger
 * can commit before the client sees its 202 (the API finishes its idempotency record after sending), so the stages
 * are measured from the request, not from the answer.
 */
export interface LatencyBreakdown {
  /** Request sent → webhook delivery accepted: the end-to-end figure. */
  readonly total: number[];
  /** Request sent → 202 received. */
  readonly api: number[];
  /** Request sent → ledger transaction built (`occurredAt`): API + FIFO queue + ledger consumer. */
  readonly toLedger: number[];
  /** Ledger → webhook: stream + relay + events queue + notifier. */
  readonly toWebhook: number[];
  /** Payments whose event never reached the webhook. */
  readonly missing: number;
}

/** Latencies of the `payment` steps of a run, measured against the receiver's first accepted call per event. */
export function latencyBreakdown(results: readonly StepResult[], receiver: WebhookReceiver): LatencyBreakdown {
  const delivered = new Map<string, { at: number; occurredAt?: number }>();
  for (const call of receiver.uniqueDeliveries()) {
    if (!call.idempotencyKey) continue;
    const occurredAt = (call.json as { occurredAt?: unknown } | undefined)?.occurredAt;
    delivered.set(call.idempotencyKey, { at: call.receivedAt, occurredAt: typeof occurredAt === 'string' ? Date.parse(occurredAt) : undefined });
  }
  const breakdown = { total: [] as number[], api: [] as number[], toLedger: [] as number[], toWebhook: [] as number[], missing: 0 };
  for (const { step, sentAt, response } of results) {
    if (step.kind !== 'payment') continue;
    breakdown.api.push(response.durationMs);
    const delivery = delivered.get(eventIdFor(paymentIdFor(localScopedKey(step.idempotencyKey!))));
    if (!delivery) {
      breakdown.missing++;
      continue;
    }
    breakdown.total.push(delivery.at - sentAt);
    if (delivery.occurredAt !== undefined) {
      breakdown.toLedger.push(delivery.occurredAt - sentAt);
      breakdown.toWebhook.push(delivery.at - delivery.occurredAt);
    }
  }
  return breakdown;
}

// ---------------------------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------------------------

interface DemoArgs {
  readonly bench: boolean;
  readonly payments: number;
  readonly accounts: number;
  readonly lanes: number;
  readonly verbose: boolean;
  /** Keep the stack running after the report (the inspector link stays live) until Ctrl-C. */
  readonly keep: boolean;
}

function parseArgs(argv: readonly string[]): DemoArgs {
  const args = { bench: false, payments: 60, accounts: 6, lanes: 3, verbose: false, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const number = (name: string) => {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value < 1) throw new Error(`${name} (${argv[i]}) must be a positive integer, e.g. ${name} 60`);
      return value;
    };
    if (arg === '--bench') args.bench = true;
    else if (arg === '--payments') args.payments = number('--payments');
    else if (arg === '--accounts') args.accounts = number('--accounts');
    else if (arg === '--lanes') args.lanes = number('--lanes');
    else if (arg === '--verbose') args.verbose = true;
    else if (arg === '--keep') args.keep = true;
    else if (arg === '--help' || arg === '-h') {
      console.log('npm run demo [-- --bench [--payments 60] [--accounts 6] [--lanes 3]] [--verbose] [--keep]');
      process.exit(0);
    } else throw new Error(`Unknown argument ${arg}; try --help`);
  }
  return args;
}

/** The bench workload: `payments` credits spread over `accounts`, each account's payments in order, `lanes` accounts at once. */
export function buildBenchScenario(runId: string, payments: number, accounts: number): ScenarioStep[][] {
  const lanes: ScenarioStep[][] = Array.from({ length: accounts }, () => []);
  for (let i = 0; i < payments; i++) {
    const account = i % accounts;
    const label = `bench-${i}`;
    lanes[account]!.push({
      label,
      kind: 'payment',
      idempotencyKey: keyFor(runId, label),
      body: { accountId: `${runId}-acct${account}`, amount: 100 + i, currency: 'EUR' },
    });
  }
  return lanes;
}

async function sendLanes(client: PaymentsApiClient, lanes: readonly ScenarioStep[][], parallel: number): Promise<StepResult[]> {
  const results: StepResult[] = [];
  let next = 0;
  const worker = async () => {
    while (next < lanes.length) {
      const lane = lanes[next++]!;
      for (const step of lane) results.push(await sendStep(client, step));
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, lanes.length) }, worker));
  return results;
}

/** The demo's webhook port when free (see main). */
const PREFERRED_WEBHOOK_PORT = 4599;

const ms = (value: number) => (Number.isNaN(value) ? '—' : `${Math.round(value)} ms`);

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  // Loaded here, not at the top: the e2e suite imports this module's model without pulling in the runtime.
  const { startLocalRuntime } = await import('./runtime.js');
  const { freePort } = await import('./emulators.js');
  // A stable webhook URL keeps the context stable, so the runtime can reuse the last synthesized assembly; holding the
  // port also owns the output directory (a concurrent demo gets a free port and its own directory).
  const receiver = await startWebhookReceiver({ port: PREFERRED_WEBHOOK_PORT, fallbackToFreePort: true });
  const outDir = receiver.port === PREFERRED_WEBHOOK_PORT ? '.local/demo' : `.local/demo-${process.pid}`;
  let starting: ReturnType<typeof startLocalRuntime> | undefined;
  let stopping: Promise<void> | undefined;
  // A signal during start-up waits for the runtime to come up, then stops it: no orphaned JVM or workers.
  const stopAll = () =>
    (stopping ??= (async () => {
      const runtime = await starting?.catch(() => undefined);
      await runtime?.stop().catch((error: unknown) => console.error('runtime stop failed:', error));
      await receiver.stop();
      if (outDir !== '.local/demo') await rm(outDir, { recursive: true, force: true });
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping…`);
    void stopAll().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    console.log(`Webhook receiver on ${receiver.url}`);
    console.log('Starting the local runtime (synth, emulators, resources, functions)…');
    const startedAt = performance.now();
    starting = startLocalRuntime({
      // The webhook retry schedule compressed to seconds: a failed delivery is retried after about 1 s.
      context: { webhookUrl: receiver.url, webhookRetryHorizonHours: '0.01' },
      ports: { api: await freePort(), dynamodb: await freePort(), sqs: await freePort() },
      quiet: !args.verbose,
      outDir,
      onProgress: args.verbose ? (line) => console.log(`  ${line}`) : undefined,
    });
    const runtime = await starting;
    if (stopping) return 130;
    const readyMs = performance.now() - startedAt;
    console.log(`Ready in ${ms(readyMs)} — API ${runtime.endpoints.api}`);

    const outputs = pickStackOutputs(runtime.outputs);
    const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
    const region = runtime.env.AWS_REGION ?? 'us-east-1';
    const handles: PipelineHandles = {
      outputs,
      api: new PaymentsApiClient({ apiUrl: requireOutput(outputs, 'ApiUrl'), region, credentials }),
      dynamodb: new DynamoDBClient({ endpoint: runtime.endpoints.dynamodb, region, credentials }),
      sqs: new SQSClient({ endpoint: runtime.endpoints.sqs, region, credentials }),
      receiver,
    };

    console.log('');
    const { runId, scenario, results, observed, rows, redelivered } = await runDemoScenario(handles, {
      settle: () => runtime.waitForIdle({ timeoutMs: 120_000 }),
      log: (line) => console.log(line),
    });
    // The run id prefixes every account id; the report reads better without it.
    console.log(formatRows(rows.map((row) => ({ ...row, what: row.what.replaceAll(`${runId}-`, '') }))));
    console.log(`\nRaw webhook calls: ${observed.rawWebhookCalls} (unique deliveries: ${observed.delivered?.length ?? 0})`);
    if (redelivered && observed.loyalty) {
      const account = observed.loyalty.points.get(redelivered.accountId);
      console.log(
        `Loyalty: ${redelivered.accountId.replace(`${runId}-`, '')}'s salary (sent twice by the client, its event delivered twice to the loyalty queue) ` +
          `earned ${account?.points ?? 0} points in ${account?.awards ?? 0} award(s); ${observed.loyalty.downstream.length} LoyaltyPointsAwarded event(s) ` +
          'arrived on LoyaltyEventsQueueUrl.',
      );
    }
    const { total } = latencyBreakdown(results, receiver);
    console.log(`Ready: ${ms(readyMs)}; API → webhook latency over ${total.length} payments (cold functions included): p50 ${ms(percentile(total, 50))}, p99 ${ms(percentile(total, 99))}`);
    const failed = rows.filter((r) => !r.ok);

    let benchFailed = false;
    if (args.bench) benchFailed = !(await bench(args, handles, runtime, receiver, readyMs));

    if (failed.length > 0) {
      console.log(`\n✘ ${failed.length} figure(s) differ from the expected values:`);
      for (const row of failed) console.log(`  ${row.section} / ${row.what}: expected ${row.expected}, got ${row.actual}`);
    } else {
      console.log(
        '\n✔ Every figure matches: each payment took effect exactly once, each event was delivered exactly once, and the loyalty ' +
          'consumer awarded each credit\'s points once and published each award once downstream.',
      );
    }
    const retried = scenario.find((step) => step.kind === 'duplicate')!;
    console.log(journeyLinkLines(runtime.recorder?.events() ?? [], runtime.inspectorUrl, retried.idempotencyKey!, `${retried.label.replace(/ \(.*/, '')}, sent twice`));
    if (args.keep) {
      console.log('The stack keeps running (--keep): Ctrl-C stops it.');
      await new Promise<never>(() => {});
    } else if (runtime.inspectorUrl) console.log('(the stack stops now: run `npm run demo -- --keep` to open the link; the recording is written to ' + `${outDir}/recording.jsonl)`);
    return failed.length > 0 || benchFailed ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopAll();
  }
}

async function bench(
  args: DemoArgs,
  handles: PipelineHandles,
  runtime: Pick<LocalRuntime, 'waitForIdle'>,
  receiver: WebhookReceiver,
  readyMs: number,
): Promise<boolean> {
  const runId = newRunId('bench');
  const lanes = buildBenchScenario(runId, args.payments, args.accounts);
  // Warm-up: one payment per lane at once, so every function has as many warm instances as the run will use; the
  // scenario above already showed the cold figures.
  const warmUp = buildBenchScenario(newRunId('warmup'), args.lanes, args.lanes);
  await sendLanes(handles.api, warmUp, args.lanes);
  await runtime.waitForIdle({ timeoutMs: 60_000 }).catch(() => {});
  console.log(
    `\nBenchmark: ${args.payments} payments over ${args.accounts} accounts, ${args.lanes} accounts sending at once, after a warm-up of ${args.lanes}…`,
  );
  const started = performance.now();
  const results = await sendLanes(handles.api, lanes, args.lanes);
  const eventIds = new Set(results.map((r) => eventIdFor(paymentIdFor(localScopedKey(r.step.idempotencyKey!)))));
  try {
    await receiver.waitFor((r) => r.uniqueDeliveries().filter((c) => eventIds.has(c.idempotencyKey ?? '')).length >= eventIds.size, {
      timeoutMs: 180_000,
    });
  } catch (error) {
    // Report what arrived; the missing count below makes the run fail.
    console.log(`  ${error instanceof Error ? error.message : String(error)}`);
  }
  const elapsed = performance.now() - started;
  await runtime.waitForIdle({ timeoutMs: 60_000 }).catch((error: unknown) => console.log(`  ${String(error)}`));
  const latency = latencyBreakdown(results, receiver);
  const { missing } = latency;
  const non202 = results.filter((r) => r.response.status !== 202).length;
  const line = (values: readonly number[]) =>
    `p50 ${ms(percentile(values, 50))}, p99 ${ms(percentile(values, 99))}, max ${ms(values.length ? Math.max(...values) : Number.NaN)}`;
  console.log(
    [
      `  time to ready                         ${ms(readyMs)}`,
      `  API request → webhook (end to end)    ${line(latency.total)}`,
      `    request → 202                       ${line(latency.api)}`,
      `    request → ledger commit             ${line(latency.toLedger)}`,
      `    ledger commit → webhook             ${line(latency.toWebhook)}`,
      `  throughput                            ${(results.length / (elapsed / 1000)).toFixed(1)} payments/s end to end (${ms(elapsed)})`,
      `  not 202 / not delivered               ${non202} / ${missing}`,
    ].join('\n'),
  );
  return non202 === 0 && missing === 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    },
  );
}
