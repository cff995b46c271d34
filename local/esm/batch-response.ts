/** How the mapping must treat a batch after the function returned (S6–S8, D5). */
export type BatchOutcome =
  | { readonly kind: 'success' }
  | { readonly kind: 'partial'; readonly failedIds: readonly string[] }
  | { readonly kind: 'invalid'; readonly reason: string };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Interprets a function's return value as a partial batch response.
 *
 * Full success: null/undefined/empty response, an object without `batchItemFailures`, or an empty/null list.
 * Whole-batch failure (`invalid`): a response that is not a JSON object, a `batchItemFailures` that is not a list,
 * an item without a non-empty string `itemIdentifier` (empty, null, wrong key name) or whose identifier is not in
 * the batch.
 * @param validIds message ids (SQS) or sequence numbers (streams) of the batch
 * @see https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting
 */
export function interpretBatchResponse(payload: unknown, validIds: ReadonlySet<string>): BatchOutcome {
  if (payload === null || payload === undefined || payload === '') return { kind: 'success' };
  if (!isPlainObject(payload)) {
    return { kind: 'invalid', reason: `response is not a JSON object: ${JSON.stringify(payload).slice(0, 100)}` };
  }
  const failures = payload.batchItemFailures;
  if (failures === null || failures === undefined) return { kind: 'success' };
  if (!Array.isArray(failures)) return { kind: 'invalid', reason: 'batchItemFailures is not a list' };
  const failedIds: string[] = [];
  for (const item of failures) {
    const id = isPlainObject(item) ? item.itemIdentifier : undefined;
    if (typeof id !== 'string' || id === '') {
      return { kind: 'invalid', reason: `batchItemFailures entry without a valid itemIdentifier: ${JSON.stringify(item)}` };
    }
    if (!validIds.has(id)) return { kind: 'invalid', reason: `itemIdentifier ${id} is not in the batch` };
    failedIds.push(id);
  }
  return failedIds.length === 0 ? { kind: 'success' } : { kind: 'partial', failedIds };
}
