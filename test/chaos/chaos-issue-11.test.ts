import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultKind } from '../../scripts/chaos/plans.js';
import { formatChaosReport } from '../../scripts/chaos/report.js';
import { runWorkload, startChaosStack, type ChaosResult, type ChaosStack } from '../../scripts/chaos/runner.js';

/**
 * Issue 11's faults end to end, on the emulators with AWS-shaped FIFO batches: the same harness and checker against
 * the ledger as it was before the fixes (the negative control: the app of commit {@link PRE_FIX_COMMIT}, run with
 * `appDir`) must report each loss or duplicate, and against this checkout's ledger must pass.
 *
 * One stack per code version, one small workload per fault kind (straight onto the queue, so the groups queue up and
 * FIFO batches hold several messages of a group, S9). Whether a fault hits depends on timing here; the deterministic
 * form of each negative control, in `npm test`, is `issue-11-controls.test.ts`.
 */
const PRE_FIX_COMMIT = '80144ce';
const KINDS: readonly FaultKind[] = ['version-skew', 'group-not-account', 'expired-marker', 'dlq-round-trip'];
const preFixDir = resolve(`.chaos/pre-issue-11-${process.pid}`);
const stacks: ChaosStack[] = [];
/**
 * No zombie here: the payments queue's visibility goes above the function timeout (10 s). With the chaos default of
 * 3 s, batches that ran longer on a loaded machine were received again meanwhile and cycled to the DLQ, so the pre-fix
 * ledger's fenced-and-acknowledged payment came back by redrive and its loss did not show.
 */
const VISIBILITY_SECONDS = 20;

async function run(stack: ChaosStack, kind: FaultKind, seed: number): Promise<ChaosResult> {
  // A blocked group dead-letters what its batches held (up to 10); more payments per account leave newer ones behind.
  const size = kind === 'dlq-round-trip' ? { messages: 40, accounts: 2 } : { messages: 30, accounts: 3 };
  const result = await runWorkload(stack, { ...size, seed, via: 'queue', faults: [kind], idleTimeoutMs: 240_000 });
  console.log(`--- ${kind} (${stack === stacks[0] ? 'pre-fix' : 'this checkout'}) ---\n${formatChaosReport(result)}`);
  // The ledger really ran: a stack whose ledger cannot work (denied, say) parks every payment in the DLQ, which the
  // checker leaves out of the expectation, and would "pass" having exercised nothing.
  expect(result.report.layers[0]!.observed).toBeGreaterThan(0);
  expect(result.report.parked).toEqual([]);
  return result;
}

beforeAll(() => {
  // The code before the fixes, as a checkout of its own (this project's node_modules linked in).
  mkdirSync(preFixDir, { recursive: true });
  execFileSync('sh', ['-c', `git archive ${PRE_FIX_COMMIT} | tar -x -C '${preFixDir}'`]);
  symlinkSync(resolve('node_modules'), join(preFixDir, 'node_modules'));
});

afterAll(async () => {
  for (const stack of stacks) await stack.stop();
  rmSync(preFixDir, { recursive: true, force: true });
}, 60_000);

describe('issue 11 faults, negative control: the ledger before the fixes', () => {
  let stack: ChaosStack;
  beforeAll(async () => {
    // IAM off: the pre-fix stack grants the ledger GetItem while its code reads with BatchGetItem (fixed later, with
    // the IAM work), so under enforcement every payment was denied and parked, and the control proved nothing.
    stack = await startChaosStack({ faults: KINDS, seed: 11, faultScale: 5, appDir: preFixDir, iam: false, paymentsVisibilityTimeoutSeconds: VISIBILITY_SECONDS });
    stacks.push(stack);
  }, 600_000);

  it('fails version skew: the payment judged poison once is fenced after a later one applied, and deleted: lost', async () => {
    const result = await run(stack, 'version-skew', 1101);
    expect(result.harnessFaults.versionSkew).toBeGreaterThan(0);
    expect(result.ok).toBe(false);
    expect(result.report.lost).toBeGreaterThan(0);
  }, 600_000);

  it('fails a payment on a foreign group: applied out of its account\'s order, or fenced and lost', async () => {
    const result = await run(stack, 'group-not-account', 1102);
    expect(result.harnessFaults.wrongGroupSends).toBeGreaterThan(0);
    expect(result.ok).toBe(false);
    expect(result.report.lost + result.report.outOfOrder).toBeGreaterThan(0);
  }, 600_000);

  it('fails an expired-but-present marker with a late redrive: the payment applied twice', async () => {
    const result = await run(stack, 'expired-marker', 1103);
    expect(result.harnessFaults.expiredMarkers).toBeGreaterThan(0);
    expect(result.ok).toBe(false);
    expect(result.report.layers[0]!.duplicated).toBeGreaterThan(0);
  }, 600_000);

  it('reports the DLQ round trip of a blocked group: redriven payments applied after newer ones', async () => {
    const result = await run(stack, 'dlq-round-trip', 1104);
    expect(result.harnessFaults.blockedReceives).toBeGreaterThan(0);
    expect(result.report.reorderedByRedrive).toBeGreaterThan(0);
  }, 600_000);
});

describe('issue 11 faults: this checkout\'s ledger', () => {
  let stack: ChaosStack;
  beforeAll(async () => {
    stack = await startChaosStack({ faults: KINDS, seed: 11, faultScale: 5, paymentsVisibilityTimeoutSeconds: VISIBILITY_SECONDS });
    stacks.push(stack);
  }, 600_000);

  for (const [index, kind] of KINDS.entries()) {
    it(`passes ${kind}: nothing lost, duplicated or out of order`, async () => {
      const result = await run(stack, kind, 1101 + index);
      expect(result.report).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0 });
      expect(result.ok).toBe(true);
      const fired = result.harnessFaults;
      expect(fired.versionSkew + fired.wrongGroupSends + fired.expiredMarkers + fired.blockedReceives).toBeGreaterThan(0);
    }, 600_000);
  }
});
