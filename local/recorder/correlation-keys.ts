import type { LogEvent, NewEvent } from './types.js';

/**
 * The names under which this pipeline carries a message's identity: the API's `Idempotency-Key` header and the
 * `idempotencyKey` it becomes, `paymentId`, `eventId`, SQS `messageId` / `MessageId` and `MessageDeduplicationId`.
 */
export const CORRELATION_FIELDS = ['idempotencyKey', 'Idempotency-Key', 'paymentId', 'eventId', 'messageId', 'MessageDeduplicationId'] as const;

// A field name, then its string value, in plain JSON, in JSON nested as a string (one level of \" escaping: an SQS
// body, an outbox attribute, a stream image) or as a DynamoDB attribute value ({"S": "…"}).
const KEY_PATTERN = /\\?"(idempotencyKey|idempotency-key|paymentId|eventId|messageId|MessageDeduplicationId)\\?"\s*:\s*(?:\{\s*\\?"S\\?"\s*:\s*)?\\?"([^"\\]{1,256})\\?"/gi;

/** Longest text scanned for keys (bigger bodies are scanned up to here: keys sit near the top of every shape used). */
const MAX_SCAN_CHARS = 64 * 1024;

/** Canonical copies of the keys seen lately: one string per key however many events name it. */
const pool = new Map<string, string>();
const POOL_LIMIT = 200_000;

/**
 * The canonical, flat copy of a key. A regex match is a slice that keeps its whole source text (the request body)
 * alive; events must hold only the key's own characters, and one copy of it.
 */
export function ownKey(value: string): string {
  const known = pool.get(value);
  if (known !== undefined) return known;
  if (pool.size >= POOL_LIMIT) pool.clear();
  const own = Buffer.from(value, 'utf8').toString('utf8');
  pool.set(own, own);
  return own;
}

/**
 * Every correlation key value in `text` (a JSON body, a log line, an event), deduplicated, in order of appearance.
 * Regex over the raw text rather than a parse: it costs one pass and finds keys at any nesting or escaping level.
 */
export function extractKeys(text: string, into: string[] = []): string[] {
  if (text.length === 0) return into;
  const scanned = text.length > MAX_SCAN_CHARS ? text.slice(0, MAX_SCAN_CHARS) : text;
  KEY_PATTERN.lastIndex = 0;
  for (let match = KEY_PATTERN.exec(scanned); match; match = KEY_PATTERN.exec(scanned)) {
    const value = match[2]!;
    if (!into.includes(value)) into.push(ownKey(value));
  }
  return into;
}

/** Fields of a structured log line kept as the hop's explanation. */
const DETAIL_FIELDS = ['reason', 'status', 'statusCode', 'code', 'blockedBy', 'group', 'balance', 'sequence', 'lastSequence', 'error', 'errorMessage', 'reasons'];

/** Metric values of one EMF line (`name|layer` → value). */
export interface EmfMetrics {
  readonly values: ReadonlyArray<{ readonly name: string; readonly layer: string; readonly value: number }>;
}

/** What a function printed, once parsed: a structured log event, EMF metrics, or nothing of interest. */
export type ParsedLine = { readonly log: Omit<LogEvent, 'seq'> } | { readonly metrics: EmfMetrics } | undefined;

/**
 * Parses one line a function printed (Powertools Logger JSON, or an EMF metrics object) into a log event with its
 * correlation keys or into metric values. The same parser reads CloudWatch Logs rows (`npm run trace`), so the
 * journey of a deployed stack is drawn by the same rules as the local one.
 * @param line the printed text (a JSON object; anything else yields undefined)
 * @param fn logical id or name of the function that printed it
 * @param t epoch ms to use when the line carries no `timestamp`
 */
export function parseFunctionLine(line: string, fn: string | undefined, t: number): ParsedLine {
  const start = line.indexOf('{');
  if (start < 0) return undefined;
  let object: Record<string, unknown>;
  try {
    object = JSON.parse(start === 0 ? line : line.slice(start)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof object !== 'object' || object === null) return undefined;
  const aws = object._aws as { CloudWatchMetrics?: Array<{ Metrics?: Array<{ Name?: string }> }> } | undefined;
  if (aws?.CloudWatchMetrics) {
    const layer = typeof object.layer === 'string' ? object.layer : '';
    const values: { name: string; layer: string; value: number }[] = [];
    for (const directive of aws.CloudWatchMetrics) {
      for (const metric of directive.Metrics ?? []) {
        const raw = metric.Name ? object[metric.Name] : undefined;
        const value = Array.isArray(raw) ? raw.reduce((sum: number, v) => sum + Number(v), 0) : Number(raw);
        if (metric.Name && Number.isFinite(value)) values.push({ name: metric.Name, layer, value });
      }
    }
    return { metrics: { values } };
  }
  if (typeof object.message !== 'string' || typeof object.level !== 'string') return undefined;
  const keys: string[] = [];
  for (const field of ['idempotencyKey', 'paymentId', 'eventId', 'messageId']) {
    const value = object[field];
    if (typeof value === 'string' && value && !keys.includes(value)) keys.push(ownKey(value));
  }
  const detail: Record<string, string | number | boolean> = {};
  for (const field of DETAIL_FIELDS) {
    const value = object[field];
    if (value === undefined || value === null) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') detail[field] = typeof value === 'string' ? value.slice(0, 300) : value;
    else if (typeof value === 'object' && typeof (value as { message?: unknown }).message === 'string') detail[field] = String((value as { message: string }).message).slice(0, 300);
    else detail[field] = JSON.stringify(value).slice(0, 300);
  }
  const stamp = typeof object.timestamp === 'string' ? Date.parse(object.timestamp) : Number.NaN;
  const log: Omit<LogEvent, 'seq'> = {
    kind: 'log',
    t: Number.isFinite(stamp) ? stamp : t,
    fn,
    keys,
    level: object.level,
    message: object.message.slice(0, 300),
    ...(typeof object.layer === 'string' && { layer: object.layer }),
    ...(typeof object.function_request_id === 'string' && { requestId: object.function_request_id }),
    ...(Object.keys(detail).length > 0 && { detail }),
  };
  return { log };
}

/** Narrows a parsed line to its log event. */
export function logOf(parsed: ParsedLine): NewEvent | undefined {
  return parsed && 'log' in parsed ? (parsed.log as NewEvent) : undefined;
}
