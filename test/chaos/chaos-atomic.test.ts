import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatChaosReport } from '../../scripts/chaos/report.js';
import { ALL_FAULT_KINDS } from '../../scripts/chaos/plans.js';
import { runWorkload, startChaosStack, type ChaosResult, type ChaosStack } from '../../scripts/chaos/runner.js';
import { FAULT_POINTS } from '../../lambdas/shared/faults.js';

/**
 * The proof of issue 4, short: the atomic pipeline on the local runtime with EVERY fault kind switched on, over a few
 * seeds: nothing lost, nothing duplicated, nothing out of FIFO order. The last test checks that every fault really
 * fired across the seeds, so a pass cannot come from faults that never happened.
 */
const SEEDS = [101, 202];
const MESSAGES = 30;
const results: ChaosResult[] = [];
let stack: ChaosStack;

beforeAll(async () => {
  stack = await startChaosStack({ consumer: 'atomic', faults: ALL_FAULT_KINDS, seed: 7 });
}, 300_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

describe('chaos: atomic pipeline under every fault', () => {
  it.each(SEEDS)('loses nothing and duplicates nothing (seed %i)', async (seed) => {
    // Act
    const result = await runWorkload(stack, { messages: MESSAGES, seed, idleTimeoutMs: 240_000 });
    results.push(result);
    console.log(formatChaosReport(result));
    // Assess
    expect(result.report.findings.filter((f) => !f.detail.includes('follows from'))).toEqual([]);
    expect(result.report).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0 });
    expect(result.ok).toBe(true);
    // Raw webhook calls may repeat a key only through the notifier's crash-after-call window (the receiver dedups).
    expect(result.report.redeliveredSameKey).toBeLessThanOrEqual(result.metrics['InjectedFault|notifier.afterWebhook'] ?? 0);
    // Poison messages end in their DLQs, for the reason the checker reads from the body.
    expect(result.report.deadLettered).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ queue: 'payments', reason: expect.stringMatching(/^poison/) }),
        expect.objectContaining({ queue: 'events', reason: expect.stringMatching(/^poison/) }),
      ]),
    );
  }, 300_000);

  it('injected every fault kind across the seeds, and the layers absorbed the duplicates', () => {
    // Prepare
    const total = (key: string) => results.reduce((n, r) => n + (r.metrics[key] ?? 0), 0);
    const injected = (kind: keyof ChaosResult['injected']) => results.reduce((n, r) => n + r.injected[kind], 0);
    // Assess: each fault point fired at least once.
    for (const point of FAULT_POINTS) {
      expect(total(`InjectedFault|${point}`), point).toBeGreaterThan(0);
    }
    // The webhook answered 5xx and hung at least once each, and every duplicate kind was injected.
    expect(results.reduce((n, r) => n + r.webhook.failed, 0)).toBeGreaterThan(0);
    expect(results.reduce((n, r) => n + r.webhook.hung, 0)).toBeGreaterThan(0);
    for (const kind of ['api-retry', 'resend-in-window', 'resend-beyond-window', 'event-twice', 'poison-fifo', 'poison-standard'] as const) {
      expect(injected(kind), kind).toBeGreaterThan(0);
    }
    // The ledger marker and the notifier's idempotency reported the duplicates they skipped.
    expect(total('DuplicatesSkipped|ledger')).toBeGreaterThanOrEqual(injected('resend-beyond-window'));
    expect(total('DuplicatesSkipped|notifier')).toBeGreaterThan(0);
  });
});
