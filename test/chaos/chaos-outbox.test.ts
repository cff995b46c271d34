import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatChaosReport } from '../../scripts/chaos/report.js';
import { runWorkload, startChaosStack, type ChaosStack } from '../../scripts/chaos/runner.js';

/**
 * Outbox recovery under chaos (issue 12): stream records that never reach the relay, and relay invocations failing
 * until a batch exhausts its retries. The sweeper, triggered once the pipeline is idle, must leave every webhook
 * delivery counted exactly once: nothing lost, nothing duplicated.
 */
let stack: ChaosStack;

beforeAll(async () => {
  stack = await startChaosStack({ consumer: 'atomic', faults: ['relay-drop-record', 'relay-exhausted'], seed: 11 });
}, 600_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

describe('chaos: the relay misses events, the sweeper recovers them', () => {
  it('delivers every event exactly once after the sweep, with both outbox faults injected', async () => {
    // Act
    const result = await runWorkload(stack, { messages: 20, seed: 303, idleTimeoutMs: 400_000 });
    console.log(formatChaosReport(result));

    // Assess: both faults fired (so the sweep had something to recover), and nothing was lost or duplicated
    expect(result.metrics['InjectedFault|relay.dropRecord'] ?? 0).toBeGreaterThan(0);
    expect(result.metrics['InjectedFault|relay.exhausted'] ?? 0).toBeGreaterThan(0);
    expect(result.report).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0 });
    expect(result.ok).toBe(true);
  }, 900_000);
});
