import { parseFunctionLine } from './correlation-keys.js';
import { TraceError } from './errors.js';
import { buildJourney, type Journey } from './journey.js';
import type { RecordedEvent } from './types.js';

/** One log row as CloudWatch Logs Insights returns it (`@timestamp`, `@log`, `@message`). */
export interface LogRow {
  /** Epoch ms. */
  readonly timestamp: number;
  /** Log group name (`/aws/lambda/...`, or the stack's generated name). */
  readonly logGroup: string;
  /** The line as the function printed it (Powertools JSON). */
  readonly message: string;
}

/** Runs the query for these keys and returns the rows (CloudWatch Logs Insights on AWS, a filter over local lines in tests). */
export type LogQueryRunner = (query: string, keys: readonly string[]) => Promise<readonly LogRow[]>;

/** Rows one Logs Insights query returns at most (its maximum). */
export const INSIGHTS_LIMIT = 10_000;

/** Keys the query accepts: the pipeline's ids (Idempotency-Key alphabet, UUIDs, hex hashes). */
const SAFE_KEY = /^[A-Za-z0-9._:-]{1,256}$/;

/**
 * The CloudWatch Logs Insights query that finds every log line of a message: each handler's structured log lines
 * carry `idempotencyKey`, `paymentId`, `eventId` and `messageId` (lambdas/shared/observability.ts), so a substring
 * match on the keys finds them in every function's log group.
 * @throws TraceError for a key outside the ids' alphabet (it would break out of the query's string)
 */
export function insightsQuery(keys: readonly string[]): string {
  for (const key of keys) {
    if (!SAFE_KEY.test(key)) throw new TraceError(`key "${key}" has characters no pipeline id has: use an Idempotency-Key, paymentId, eventId or messageId (A-Z a-z 0-9 . _ : -)`);
  }
  return [
    'fields @timestamp, @log, @message',
    `| filter ${keys.map((key) => `@message like "${key}"`).join(' or ')}`,
    '| sort @timestamp asc',
    `| limit ${INSIGHTS_LIMIT}`,
  ].join('\n');
}

/** What {@link insightsQuery}'s filter keeps, evaluated locally (the same substring rule). */
export function rowMatches(row: LogRow, keys: readonly string[]): boolean {
  return keys.some((key) => row.message.includes(key));
}

/** Turns log rows into recorded log events (function = the log group's last part). */
export function logRowsToEvents(rows: readonly LogRow[]): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  for (const row of rows) {
    const parsed = parseFunctionLine(row.message, functionOfLogGroup(row.logGroup), row.timestamp);
    if (parsed && 'log' in parsed) events.push({ seq: events.length + 1, ...parsed.log } as RecordedEvent);
  }
  return events;
}

/**
 * A message's journey from logs alone: query by the key, then once more by the keys the first lines named (an
 * eventId or messageId leads to the payment's idempotencyKey, which every layer logs), and build the journey with
 * the same rules as the local inspector.
 */
export async function traceJourney(key: string, run: LogQueryRunner): Promise<{ journey: Journey; queries: number; rows: number }> {
  const first = await run(insightsQuery([key]), [key]);
  let rows = first;
  let queries = 1;
  const known = new Set(logRowsToEvents(first).flatMap((event) => event.keys));
  known.delete(key);
  if (known.size > 0) {
    const more = [...known].slice(0, 20);
    rows = await run(insightsQuery([key, ...more]), [key, ...more]);
    queries++;
  }
  const events = logRowsToEvents(rows);
  return { journey: buildJourney(events, key, { followLogs: true }), queries, rows: rows.length };
}

/** `/aws/lambda/Stack-LedgerHandler-AbC` → `Stack-LedgerHandler-AbC`; `123:/aws/lambda/x` (Insights' @log) → `x`. */
export function functionOfLogGroup(logGroup: string): string {
  return logGroup.replace(/^\d{12}:/, '').split('/').filter(Boolean).pop() ?? logGroup;
}
