import type { CallEvent, InvocationEvent, LogEvent, QueueEvent, RecordedEvent, RecordEvent } from './types.js';

/** What a hop did to the message's effect. */
export type HopVerdict = 'accepted' | 'applied' | 'delivered' | 'deduplicated' | 'skipped' | 'retried' | 'failed' | 'dead-lettered' | 'moved' | 'info';

/** One step of a message's journey. */
export interface JourneyHop {
  /** Epoch ms. */
  readonly t: number;
  /** Milliseconds since the journey's first hop. */
  readonly at: number;
  /** Function or queue where it happened. */
  readonly where: string;
  readonly kind: RecordedEvent['kind'];
  /** One line: what happened. */
  readonly what: string;
  readonly verdict: HopVerdict;
  /** Why it was applied, skipped, retried, deduplicated or failed (empty when there is nothing to say). */
  readonly why: string;
  readonly durationMs?: number;
  readonly event: RecordedEvent;
}

/** One message's journey: every recorded hop that carries one of its keys. */
export interface Journey {
  /** The key searched for. */
  readonly key: string;
  /** Every key found to belong to the same message (the payment's key, id, event id, message ids, dedup id). */
  readonly keys: readonly string[];
  readonly hops: readonly JourneyHop[];
  /** Hops per verdict. */
  readonly summary: Readonly<Partial<Record<HopVerdict, number>>>;
}

/** How far keys are followed from the searched one (key → message ids → event id → events-queue message ids). */
const EXPANSION_ROUNDS = 4;

/**
 * Builds the journey of the message that `key` names from recorded events (the local recorder's ring, its JSONL
 * export, or log events read back from CloudWatch Logs by `npm run trace`). Keys are followed transitively through
 * events that name one message each (records, queue moves, calls, API invocations) — never through log lines,
 * whose appended keys can be stale — so the journey spans the API, both queues, the ledger, the relay and the
 * notifier. With `followLogs` (logs are all there is, as with CloudWatch Logs) log lines are followed too.
 * `key` may be the Idempotency-Key the client sent: its caller-scoped forms ({@link callerScopedForms}) are searched too.
 */
export function buildJourney(events: readonly RecordedEvent[], key: string, options: { readonly followLogs?: boolean } = {}): Journey {
  const wanted = new Set([key, ...callerScopedForms(events, key)]);
  for (let round = 0; round < EXPANSION_ROUNDS; round++) {
    let grew = false;
    for (const event of events) {
      if ((event.kind === 'log' && !options.followLogs) || event.keys.length === 0 || !event.keys.some((k) => wanted.has(k))) continue;
      for (const k of event.keys) {
        if (!wanted.has(k)) {
          wanted.add(k);
          grew = true;
        }
      }
    }
    if (!grew) break;
  }
  const matching = events.filter((event) => event.keys.some((k) => wanted.has(k))).sort((a, b) => a.t - b.t || a.seq - b.seq);
  const first = matching[0]?.t ?? 0;
  const hops = matching.map((event) => describe(event, first));
  const summary: Partial<Record<HopVerdict, number>> = {};
  for (const hop of hops) summary[hop.verdict] = (summary[hop.verdict] ?? 0) + 1;
  return { key, keys: [...wanted], hops, summary };
}

/** `<16 hex>.` — the caller scope the API prefixes to every Idempotency-Key (lambdas/create-payment/caller-scope.ts). */
const CALLER_SCOPE = /^[0-9a-f]{16}\./;

/**
 * The caller-scoped keys (`<16 hex>.<key>`) that events name for a client's Idempotency-Key. Every layer logs and
 * dedups on the scoped key only, so the key the client sent (what a user searches for) is otherwise found nowhere.
 * A key sent by several callers yields each caller's scoped key: all of them show in the journey's `keys`; search
 * one scoped key for one caller's payment.
 */
export function callerScopedForms(events: readonly RecordedEvent[], key: string): string[] {
  if (CALLER_SCOPE.test(key)) return [];
  const forms: string[] = [];
  for (const event of events) {
    for (const k of event.keys) {
      if (k.length === key.length + 17 && k.endsWith(key) && CALLER_SCOPE.test(k) && !forms.includes(k)) forms.push(k);
    }
  }
  return forms;
}

function describe(event: RecordedEvent, first: number): JourneyHop {
  const base = { t: event.t, at: event.t - first, kind: event.kind, event };
  switch (event.kind) {
    case 'log':
      return { ...base, where: displayName(event.fn ?? event.layer ?? '?'), ...judgeLog(event) };
    case 'invocation':
      return { ...base, where: displayName(event.fn ?? '?'), durationMs: event.durationMs, ...judgeInvocation(event) };
    case 'record':
      return { ...base, where: displayName(event.fn ?? '?'), ...judgeRecord(event) };
    case 'queue':
      return { ...base, where: displayName(event.queue), ...judgeQueue(event) };
    case 'call':
      return { ...base, where: displayName(event.fn ?? '?'), durationMs: event.durationMs, ...judgeCall(event) };
  }
}

type Judgement = { what: string; verdict: HopVerdict; why: string };

/** Log lines of this pipeline's handlers (lambdas/**), by what they say happened. */
const LOG_RULES: ReadonlyArray<{ pattern: RegExp; verdict: HopVerdict; why: string }> = [
  { pattern: /idempotent replay/i, verdict: 'deduplicated', why: 'API idempotency: this Idempotency-Key already has a response; it is replayed and nothing is sent again' },
  { pattern: /duplicate delivery skipped/i, verdict: 'deduplicated', why: 'ledger: the dedup marker of this key is already committed (same transaction as the effect); nothing written' },
  { pattern: /already delivered/i, verdict: 'deduplicated', why: 'notifier idempotency: this event id was already delivered; the webhook is not called again' },
  { pattern: /sequence fence|late commit/i, verdict: 'deduplicated', why: 'ledger: a newer message of the group was already applied; this late (zombie) commit is refused' },
  { pattern: /payment applied/i, verdict: 'applied', why: 'ledger: balance, dedup marker and outbox event committed in one TransactWriteItems' },
  { pattern: /payment rejected/i, verdict: 'applied', why: 'ledger: the rejection (and its outbox event) committed once, balance unchanged' },
  { pattern: /payment accepted/i, verdict: 'accepted', why: 'API: first request with this key; one message sent to the payments queue' },
  { pattern: /delivered to the webhook/i, verdict: 'delivered', why: 'notifier: webhook answered 2xx; the event id is recorded as delivered' },
  { pattern: /earlier message of its fifo group failed|skipped/i, verdict: 'skipped', why: 'FIFO order: an earlier message of the same group failed, so this one waits for the retry' },
  { pattern: /poison|dead-letter/i, verdict: 'failed', why: 'cannot be processed; it dead-letters after maxReceiveCount' },
  { pattern: /retry|in progress|being delivered|close to its timeout/i, verdict: 'retried', why: 'reported as a batch item failure: SQS delivers it again after the visibility timeout' },
  { pattern: /relayed/i, verdict: 'moved', why: 'relay: published to the events queue' },
];

function judgeLog(event: LogEvent): Judgement {
  const detail = event.detail ? Object.entries(event.detail).map(([k, v]) => `${k}=${v}`).join(', ') : '';
  const rule = LOG_RULES.find((r) => r.pattern.test(event.message));
  const what = `${event.level} ${event.message}`;
  if (rule) return { what, verdict: rule.verdict, why: detail ? `${rule.why} (${detail})` : rule.why };
  const verdict: HopVerdict = /error|critical/i.test(event.level) ? 'failed' : 'info';
  return { what, verdict, why: detail };
}

function judgeInvocation(event: InvocationEvent): Judgement {
  const what = `${event.trigger === 'api' ? event.source : `${event.trigger} batch of ${event.batchSize ?? 1}`} → ${event.outcome}${event.status ? ` ${event.status}` : ''}${event.cold ? ' (cold start)' : ''}`;
  if (event.outcome === 'error' || event.outcome === 'timeout') return { what, verdict: 'retried', why: event.error ?? event.outcome };
  if (event.status !== undefined && event.status >= 400) return { what, verdict: 'failed', why: `HTTP ${event.status}` };
  return { what, verdict: 'info', why: '' };
}

function judgeRecord(event: RecordEvent): Judgement {
  const what = `${event.eventName ? `stream ${event.eventName}` : `message ${short(event.id)}`} from ${displayName(event.source)} handed over (batch of ${event.batchSize}${event.receiveCount && event.receiveCount > 1 ? `, receive #${event.receiveCount}` : ''})`;
  if (event.outcome === 'failed') return { what, verdict: 'retried', why: event.error ? `the invocation failed: ${event.error}` : 'reported in batchItemFailures: it is retried' };
  return { what, verdict: 'info', why: event.receiveCount && event.receiveCount > 1 ? `redelivery: receive #${event.receiveCount}` : '' };
}

function judgeQueue(event: QueueEvent): Judgement {
  const id = event.messageId ? ` ${short(event.messageId)}` : '';
  switch (event.move) {
    case 'send':
      if (event.error) return { what: `send to ${displayName(event.queue)} failed`, verdict: 'retried', why: event.error };
      if (event.deduplicated) return { what: `sent again to ${displayName(event.queue)}`, verdict: 'deduplicated', why: `SQS FIFO: MessageDeduplicationId ${short(event.dedupId ?? '')} was sent less than 5 minutes ago; not enqueued again` };
      return { what: `sent to ${displayName(event.queue)} by ${displayName(event.fn ?? '?')}${id}`, verdict: 'moved', why: event.dedupId ? `dedup id ${short(event.dedupId)}${event.group ? `, group ${event.group}` : ''}` : '' };
    case 'receive':
      return { what: `received from ${displayName(event.queue)} by ${displayName(event.fn ?? '?')}${id}`, verdict: 'moved', why: event.receiveCount && event.receiveCount > 1 ? `redelivery #${event.receiveCount}: an earlier attempt did not delete it` : '' };
    case 'visibility':
      return { what: `visibility of${id} set to ${event.visibilitySeconds ?? '?'} s`, verdict: 'retried', why: 'returned to the queue for a later retry' };
    case 'delete':
      return { what: `deleted from ${displayName(event.queue)}${id}`, verdict: 'moved', why: event.error ?? 'processed (or reported done): SQS forgets it' };
    case 'redrive':
      return { what: `taken out of ${displayName(event.queue)} by ${displayName(event.fn ?? '?')}${id}`, verdict: 'moved', why: 'redrive: read from the dead-letter queue to be sent again (the new copy is the next send of the same keys)' };
    case 'dead-letter':
      return { what: `dead-lettered into ${displayName(event.queue)}${id}`, verdict: 'dead-lettered', why: `received ${event.receiveCount ?? 'too many'} times without being deleted (maxReceiveCount exceeded)` };
  }
}

function judgeCall(event: CallEvent): Judgement {
  const what = `${event.service} ${event.operation}${event.resource ? ` ${event.resource.split(', ').map(displayName).join(', ')}` : ''} → ${event.status}${event.consumedUnits !== undefined ? ` (${event.consumedUnits} units)` : ''}`;
  if (event.decision === 'Deny') return { what, verdict: 'failed', why: `IAM denied: ${event.message ?? event.error ?? ''}` };
  if (event.error === 'TransactionCanceledException') {
    const failed = (event.reasons ?? []).map((code, i) => (code === 'None' ? '' : `item ${i + 1}: ${code}`)).filter(Boolean);
    // The condition is the mechanism; the handler's log line right after it says what it meant (the verdict).
    const conditional = failed.some((f) => f.includes('ConditionalCheckFailed'));
    return { what, verdict: conditional ? 'info' : 'retried', why: `transaction cancelled — ${failed.join(', ') || event.message || 'no reason given'}${conditional ? ' (a condition refused the write: marker or fence)' : ''}` };
  }
  if (event.error === 'ConditionalCheckFailedException') return { what, verdict: 'info', why: 'conditional write refused: the record already exists (an idempotency record or a marker)' };
  if (event.error) return { what, verdict: 'retried', why: `${event.error}${event.message ? `: ${event.message}` : ''}` };
  return { what, verdict: 'info', why: event.items ? `${event.items} items in one transaction` : '' };
}

/** A logical id without CDK's 8-hex-digit hash (`PaymentsQueueC485226B` → `PaymentsQueue`). */
export function displayName(id: string): string {
  return id.replace(/(?<=[a-z])[0-9A-F]{8}$/, '');
}

function short(id: string): string {
  return id.length > 14 ? `${id.slice(0, 12)}…` : id;
}

/** The journey as plain text (chaos findings, the demo, `npm run trace`). */
export function formatJourney(journey: Journey): string {
  if (journey.hops.length === 0) return `journey of ${journey.key}: nothing recorded for this key`;
  const lines = [`journey of ${journey.key} (${journey.hops.length} hops; keys: ${journey.keys.join(', ')})`];
  for (const hop of journey.hops) {
    lines.push(`  +${String(Math.round(hop.at)).padStart(6)} ms  ${hop.verdict.padEnd(13)} ${hop.where.padEnd(14)} ${hop.what}${hop.why ? ` — ${hop.why}` : ''}`);
  }
  return lines.join('\n');
}
