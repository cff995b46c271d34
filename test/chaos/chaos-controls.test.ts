import { afterAll, describe, expect, it } from 'vitest';
import { formatChaosReport } from '../../scripts/chaos/report.js';
import { runWorkload, startChaosStack, type ChaosStack } from '../../scripts/chaos/runner.js';

/**
 * Negative controls of issue 4: the same harness and checker with consumers that are NOT exactly-once must report
 * it. If these passed clean, the checker could not fail.
 */
const stacks: ChaosStack[] = [];
let assembly: string | undefined;

afterAll(async () => {
  for (const stack of stacks) await stack.stop();
}, 60_000);

describe('chaos negative controls', () => {
  it('fails open with the Powertools-only consumer in the crash-after-effect window: duplicated effects', async () => {
    // Prepare: the ledger crashes after its business write, before the idempotency record completes, often.
    const stack = await startChaosStack({ consumer: 'powertools', faults: ['crash-after-commit'], seed: 5, faultScale: 6 });
    stacks.push(stack);
    assembly = stack.assembly;
    // Act
    const result = await runWorkload(stack, { messages: 20, seed: 303, idleTimeoutMs: 240_000 });
    console.log(formatChaosReport(result));
    // Assess: each re-run applied the payment again (balance and counters), while the outbox item was overwritten
    // under its stable event id, so the webhook saw each event once: the double effect is invisible downstream.
    expect(result.metrics['InjectedFault|ledger.afterCommit']).toBeGreaterThan(0);
    expect(result.ok).toBe(false);
    expect(result.report.layers[0]).toMatchObject({ layer: 'ledger effects', lost: 0 });
    expect(result.report.layers[0]!.duplicated).toBeGreaterThan(0);
    expect(result.report.layers[2]).toMatchObject({ layer: 'webhook deliveries', duplicated: 0 });
  }, 400_000);

  it('fails with the at-least-once consumer: duplicates reach the ledger, the outbox and the webhook', async () => {
    // Prepare: redeliveries (crash after commit) and re-sends beyond the FIFO window, no dedup in the consumer.
    const stack = await startChaosStack({
      consumer: 'at-least-once',
      faults: ['crash-after-commit', 'resend-beyond-window'],
      seed: 6,
      faultScale: 3,
      assembly,
    });
    stacks.push(stack);
    // Act
    const result = await runWorkload(stack, { messages: 20, seed: 404, idleTimeoutMs: 240_000 });
    console.log(formatChaosReport(result));
    // Assess
    expect(result.ok).toBe(false);
    expect(result.report.duplicated).toBeGreaterThan(0);
    for (const layer of result.report.layers) expect(layer.duplicated, layer.layer).toBeGreaterThan(0);
  }, 400_000);
});
