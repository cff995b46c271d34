import { afterAll, describe, expect, it } from 'vitest';
import { runWorkload, startChaosStack, type ChaosStack } from '../../scripts/chaos/runner.js';

/**
 * Negative control of issue 15: with a consumer that is NOT exactly-once, the checker finds duplicated effects and
 * the run prints each such payment's journey from the flight recording — where the duplicate came from, hop by hop.
 */
let stack: ChaosStack | undefined;

afterAll(async () => {
  await stack?.stop();
}, 60_000);

describe('chaos findings with journeys', () => {
  it('fails with the at-least-once consumer and prints the journey of a duplicated payment: redelivered, written twice', async () => {
    // Prepare: redeliveries after a crash that follows the commit, and no dedup in the consumer.
    stack = await startChaosStack({ consumer: 'at-least-once', faults: ['crash-after-commit'], seed: 7, faultScale: 4, log: (line) => console.info(`[chaos] ${line}`) });
    const lines: string[] = [];

    // Act
    const result = await runWorkload(stack, { messages: 8, seed: 515, idleTimeoutMs: 480_000, log: (line) => (lines.push(line), console.info(`[chaos] ${line.split('\n')[0]}`)) });
    const output = lines.find((line) => line.startsWith('journeys of the payments found lost or duplicated')) ?? '';
    console.log(output);

    // Assess
    expect(result.ok).toBe(false);
    expect(result.report.duplicated).toBeGreaterThan(0);
    const duplicated = result.report.findings.find((f) => f.kind === 'duplicated' && f.paymentId)!;
    expect(output).toContain(`journey of ${duplicated.paymentId}`);
    // The first journey printed shows where the duplicate came from: the message delivered again after a failed
    // attempt, and the ledger table written more than once for the same payment.
    const firstJourney = output.split(/\n(?=duplicated at|lost at)/)[1] ?? '';
    expect(firstJourney).toMatch(/redelivery #2/);
    expect(firstJourney.match(/dynamodb \w+ LedgerTable → 200/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
  }, 900_000);
});
