import { CONSUMERS } from '../../lib/consumers/index.js';

/** Finds the idempotency key a consumer dedups a message by, or `undefined` when the body carries none. */
export type KeyExtractor = (body: unknown) => string | undefined;

/** Reads one string field of a JSON object body. */
export const fieldExtractor =
  (field: string): KeyExtractor =>
  (body) => {
    const value = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[field] : undefined;
    return typeof value === 'string' && value !== '' ? value : undefined;
  };

/**
 * The key extractor of each consumer, by its dedup scope: the payments ledger (`idempotencyKey`), the notifier and
 * the loyalty consumer (both dedup a payment event by its `eventId`), and every registry consumer that declares
 * `idempotencyKeyOf` (lib/consumers); a scope listed nowhere uses `idempotencyKey`, the generated consumers' field.
 */
const EXTRACTORS = new Map<string, KeyExtractor>([
  ['ledger', fieldExtractor('idempotencyKey')],
  ['notifier', fieldExtractor('eventId')],
  ['loyalty', fieldExtractor('eventId')],
  ...CONSUMERS.flatMap((c) => (c.idempotencyKeyOf ? [[c.name, c.idempotencyKeyOf] as [string, KeyExtractor]] : [])),
]);

/** Registers (or replaces) the extractor of a scope, for a consumer wired by hand. */
export function registerKeyExtractor(scope: string, extractor: KeyExtractor): void {
  EXTRACTORS.set(scope, extractor);
}

/**
 * The key of a message for a consumer: its profile's explicit field, else the extractor registered for its scope,
 * else `idempotencyKey`.
 * @returns the key and the way it was found (for the report), or `undefined` with the field that was missing.
 */
export function extractKey(scope: string, body: unknown, keyField?: string): { key?: string; source: string } {
  if (keyField) return { key: fieldExtractor(keyField)(body), source: `"${keyField}"` };
  const registered = EXTRACTORS.get(scope);
  if (registered) return { key: registered(body), source: `the ${scope} extractor` };
  return { key: fieldExtractor('idempotencyKey')(body), source: '"idempotencyKey"' };
}
