import type { InvokeResult } from '../../local/lambda/types.js';
import type { LocalRuntime } from '../../local/runtime.js';

/**
 * Faults the harness injects AROUND the ledger function, where the ledger's own fault points cannot reach (issue 11):
 * they model what another build or the infrastructure does to a batch, so they work the same against any version of
 * the ledger (the fixed code, or an older checkout run with `--app-dir` as the negative control).
 *
 * - **Version skew** (`version-skew`): during a rolling deploy, an OLDER build with a stricter schema receives the
 *   payment and judges it poison with the old poison rule: that record is reported failed and the rest of the batch,
 *   later messages of its group included, goes on. The older build keeps the payment's receives until one brings a
 *   later message of its group in the same batch (AWS-shaped FIFO batches, S9: the case where a later payment
 *   overtakes it; while the payment is in flight its group waits behind it, so the next receive usually has one), at
 *   most `maxReceiveCount − 2` receives; the receive after that reaches the current build, where it is valid.
 * - **Blocked group** (`dlq-round-trip`): a group's head fails retryably on every receive (stop at the first failure,
 *   S10: it and every later message of its group in the batch are reported failed) until SQS moves it and the messages
 *   that rose in lockstep with it to the DLQ (S13). Newer messages of the account then apply; the runner redrives the
 *   dead-lettered ones afterwards, as an operator would.
 *
 * Redriven copies (MessageDeduplicationId `redrive-…`) are left alone: the deploy is over by the time an operator
 * redrives, and a blocked group's outage is over.
 */
export interface LedgerFaultRegistry {
  /** Payment ids an older build judges poison until a later message of their group shares the batch (then removed). */
  readonly versionSkew: Set<string>;
  /** Payment ids that block their group until they dead-letter. */
  readonly blockedHeads: Set<string>;
  /** How often each fault fired (records reported failed by the harness). */
  readonly fired: { versionSkew: number; versionSkewHeld: number; blockedReceives: number };
}

interface Record_ {
  messageId: string;
  body: string;
  attributes?: Record<string, string>;
}

/**
 * Wraps the function behind the queue named `queueName` so the harness can fail chosen records before the function
 * sees them, then merges those failures into its partial batch response.
 * @returns the registry the runner fills per workload.
 * @throws Error when no function of the runtime consumes that queue.
 */
export function wrapLedgerFunction(runtime: LocalRuntime, queueName: string, maxReceiveCount: number): LedgerFaultRegistry {
  const mapping = runtime.mappingStats().find((m) => m.eventSourceArn.endsWith(`:${queueName}`));
  const fn = mapping && [...runtime.functions.values()].find((f) => f.functionName === mapping.functionName);
  if (!fn) throw new Error(`No function consumes the queue ${queueName}: cannot inject the ledger faults`);
  const registry: LedgerFaultRegistry = { versionSkew: new Set(), blockedHeads: new Set(), fired: { versionSkew: 0, versionSkewHeld: 0, blockedReceives: 0 } };
  const invoke = fn.invoke.bind(fn);
  fn.invoke = async (event: unknown): Promise<InvokeResult> => {
    const records = (event as { Records?: Record_[] }).Records;
    if (!Array.isArray(records)) return invoke(event);
    const skewed: FiredSkew[] = [];
    const failed = harnessFailures(records, registry, maxReceiveCount, skewed);
    if (failed.size === 0) return invoke(event);
    // The old build's verdict counts only once a later message of the group went through (the case that matters);
    // if the invocation failed, or it failed those too (a timeout near the deadline, say), it is still to come.
    const restoreSkew = (notApplied: ReadonlySet<string>) => {
      for (const skew of skewed) {
        if (skew.later.some((id) => !notApplied.has(id))) continue;
        registry.versionSkew.add(skew.paymentId);
        registry.fired.versionSkew--;
      }
    };
    const rest = records.filter((r) => !failed.has(r.messageId));
    const failures = [...failed].map((id) => ({ itemIdentifier: id }));
    if (rest.length === 0) return { ok: true, payload: { batchItemFailures: failures }, timedOut: false, durationMs: 0, requestId: 'harness' };
    const result = await invoke({ ...(event as object), Records: rest });
    // A failed invocation fails the whole batch anyway; a response that is not a partial one is left for the mapping.
    if (!result.ok) {
      restoreSkew(new Set(rest.map((r) => r.messageId)));
      return result;
    }
    const payload = result.payload as { batchItemFailures?: unknown } | null | undefined;
    if (payload !== undefined && payload !== null && (typeof payload !== 'object' || (payload.batchItemFailures !== undefined && !Array.isArray(payload.batchItemFailures)))) {
      restoreSkew(new Set(rest.map((r) => r.messageId)));
      return result;
    }
    const theirs = (payload?.batchItemFailures as { itemIdentifier: string }[] | undefined) ?? [];
    restoreSkew(new Set(theirs.map((f) => f?.itemIdentifier)));
    return { ...result, payload: { ...(payload ?? {}), batchItemFailures: [...failures, ...theirs] } };
  };
  return registry;
}

/** Message ids of `records` the harness fails on this receive (see {@link LedgerFaultRegistry}). */
export function harnessFailures(
  records: readonly Record_[],
  registry: LedgerFaultRegistry,
  maxReceiveCount: number,
  /** Receives each version skew fired in this batch, with the later messages of its group in the batch. */
  firedSkew: FiredSkew[] = [],
): Set<string> {
  const failed = new Set<string>();
  const blockedGroups = new Set<string>();
  records.forEach((record, index) => {
    const group = record.attributes?.MessageGroupId;
    if (group !== undefined && blockedGroups.has(group)) {
      failed.add(record.messageId); // behind a blocked head of its group in this batch (S10)
      return;
    }
    if (record.attributes?.MessageDeduplicationId?.startsWith('redrive-')) return;
    const paymentId = paymentIdOf(record.body);
    if (paymentId === undefined) return;
    const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? '1');
    if (registry.blockedHeads.has(paymentId) && receiveCount <= maxReceiveCount && group !== undefined) {
      failed.add(record.messageId);
      blockedGroups.add(group);
      registry.fired.blockedReceives++;
      return;
    }
    if (registry.versionSkew.has(paymentId)) {
      const laterOfGroup = records.slice(index + 1).some((r) => r.attributes?.MessageGroupId === group);
      if (laterOfGroup) {
        failed.add(record.messageId); // the old poison rule: only this record fails, its group goes on
        registry.fired.versionSkew++;
        registry.versionSkew.delete(paymentId); // its next receive reaches the current build
        firedSkew.push({ paymentId, later: records.slice(index + 1).filter((r) => r.attributes?.MessageGroupId === group).map((r) => r.messageId) });
      } else if (receiveCount <= maxReceiveCount - 2) {
        failed.add(record.messageId); // judged poison alone: its group waits behind it meanwhile
        registry.fired.versionSkewHeld++;
      } else {
        registry.versionSkew.delete(paymentId); // the deploy is over before a later payment caught up
      }
    }
  });
  return failed;
}

/** A version skew that fired: the payment, and the later messages of its group in the same batch. */
export interface FiredSkew {
  readonly paymentId: string;
  readonly later: readonly string[];
}

function paymentIdOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { paymentId?: unknown };
    return typeof parsed.paymentId === 'string' ? parsed.paymentId : undefined;
  } catch {
    return undefined;
  }
}
