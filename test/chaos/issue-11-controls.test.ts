/**
 * Issue 11, item 7: the chaos checker catches the ledger before the fixes on each new fault kind (negative control)
 * and passes this checkout's ledger — each kind as one deterministic scenario (`ledger-scenario.ts`): the real ledger
 * of either build, a real FIFO queue with AWS-shaped batches (fauxqs, S9) and its DLQ (RedrivePolicy, S13), DynamoDB
 * Local, the harness's ledger faults (`scripts/chaos/ledger-faults.ts`), the chaos checker. The interleaving a chaos
 * run reaches by chance is a step here. The same kinds end to end, two whole stacks: `npm run test:slow`.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CheckReport } from '../../scripts/chaos/checker.js';
import { table } from '../../scripts/chaos/report.js';
import type { IntendedPayment } from '../../scripts/chaos/workload.js';
import { localDynamoDb, localSqs } from '../fixtures/tables.js';
import { FIXED_BUILD, LedgerScenario, preFixBuild, scenarioPayments, type LedgerBuild } from './ledger-scenario.js';

let ddb: DynamoDBClient;
let sqs: SQSClient;
let preFix: ReturnType<typeof preFixBuild>;

beforeAll(() => {
  ddb = localDynamoDb(inject('ddbEndpoint'));
  sqs = localSqs(inject('sqsEndpoint'));
  preFix = preFixBuild();
});

afterAll(() => {
  ddb?.destroy();
  sqs?.destroy();
  preFix?.remove();
});

/** Prints the checker's verdict and the journeys of the payments the fault hit, as a chaos run does. */
function print(kind: string, scenario: LedgerScenario, report: CheckReport, focus: readonly IntendedPayment[]): void {
  console.log(
    [
      `--- ${kind}: the ledger ${scenario.build.label} — ${report.ok ? 'PASS' : 'FAIL'} ---`,
      table([['layer', 'expected', 'observed', 'lost', 'duplicated'], ...report.layers.map((l) => [l.layer, l.expected, l.observed, l.lost, l.duplicated])]),
      `lost ${report.lost} | duplicated ${report.duplicated} | out of order ${report.outOfOrder} | unexpected ${report.unexpected} | redriven ${report.redriven.length} | ` +
        `DLQ round trips: ${report.reorderedByRedrive} applied after newer ones, ${report.decisionsChangedByRedrive} decision(s) changed`,
      ...report.deadLettered.map((d) => `dead-lettered (${d.queue}) ×${d.count}: ${d.reason}`),
      ...report.findings.map((f) => `${f.kind} at the ${f.layer}: ${f.detail}`),
      scenario.journeys(focus),
    ].join('\n'),
  );
}

/**
 * Version skew (an older build judges p1 poison on the receive that also holds m2 and m3 of its account: the old poison
 * rule fails p1 alone and lets m2, m3 go on); p1's next receive reaches the current build, behind the sequence fence.
 */
async function versionSkew(build: LedgerBuild) {
  const scenario = await LedgerScenario.start(build, { ddb, sqs });
  const payments = scenarioPayments(scenario.runId, [['acct', 1000], ['acct', 50], ['acct', -600]]);
  const [p1] = payments as [IntendedPayment];
  for (const p of payments) await scenario.send(p);
  scenario.faults.versionSkew.add(p1.paymentId);
  const first = await scenario.invoke(await scenario.receive());
  // The AWS-shaped batch holds the group's three messages, and only p1 failed (the older build's verdict).
  expect(first).toEqual({ paymentIds: payments.map((p) => p.paymentId), failed: [p1.paymentId] });
  expect(scenario.faults.fired.versionSkew).toBe(1);
  await scenario.drain();
  await scenario.redrive();
  const report = await scenario.check(payments);
  print('version-skew', scenario, report, [p1]);
  return report;
}

/**
 * A payment on a foreign group (`<account>~producer-b`, sent after a1 and a2 of its account): two invocations in flight
 * at once, the first holding a1 (its group locked meanwhile), the second the foreign-group payment, which finishes
 * first.
 */
async function groupNotAccount(build: LedgerBuild) {
  const scenario = await LedgerScenario.start(build, { ddb, sqs });
  const payments = scenarioPayments(scenario.runId, [['acct', 100], ['acct', 100], ['acct', 1000]]);
  const [a1, a2, x] = payments as [IntendedPayment, IntendedPayment, IntendedPayment];
  await scenario.send(a1);
  await scenario.send(a2);
  await scenario.send(x, { group: `${x.request.accountId}~producer-b` });
  const held = await scenario.receive(1);
  const second = await scenario.receive();
  // a1; then x (the account's group is locked while a1 is in flight)
  expect([held, second].map((records) => records.map((r) => JSON.parse(r.body).paymentId))).toEqual([[a1.paymentId], [x.paymentId]]);
  await scenario.invoke(second);
  await scenario.invoke(held);
  await scenario.drain();
  await scenario.redrive();
  const report = await scenario.check(payments);
  print('group-not-account', scenario, report, [a1, a2, x]);
  return report;
}

/** An applied payment whose marker expired but is still present (TTL lag, F6), sent again by a late redrive. */
async function expiredMarker(build: LedgerBuild) {
  const scenario = await LedgerScenario.start(build, { ddb, sqs });
  const payments = scenarioPayments(scenario.runId, [['acct', 100], ['acct', 50]]);
  const [p] = payments as [IntendedPayment];
  for (const payment of payments) await scenario.send(payment);
  await scenario.drain();
  await scenario.expireMarker(p);
  await scenario.send(p, { deduplicationId: `redrive-late-${p.paymentId}` });
  await scenario.drain();
  const report = await scenario.check(payments);
  print('expired-marker', scenario, report, [p]);
  return report;
}

/**
 * A blocked group: its head fails retryably on every receive, so it and the message behind it in each batch (S10)
 * rise in lockstep to maxReceiveCount and dead-letter together (S13); newer payments of the account then apply, and
 * the redrive applies the blocked ones after them.
 */
async function dlqRoundTrip(build: LedgerBuild) {
  const scenario = await LedgerScenario.start(build, { ddb, sqs });
  const payments = scenarioPayments(scenario.runId, [['acct', 100], ['acct', 20], ['acct', -50], ['acct', 5]]);
  const [head, behind, newer1, newer2] = payments as [IntendedPayment, IntendedPayment, IntendedPayment, IntendedPayment];
  scenario.faults.blockedHeads.add(head.paymentId);
  await scenario.send(head);
  await scenario.send(behind);
  const blocked = await scenario.drain();
  expect(blocked.every((b) => b.failed.length === 2)).toBe(true);
  await scenario.send(newer1);
  await scenario.send(newer2);
  await scenario.drain();
  await scenario.redrive();
  const report = await scenario.check(payments);
  print('dlq-round-trip', scenario, report, [head, behind, newer1]);
  return report;
}

describe('issue 11 faults, negative control: the checker catches the ledger before the fixes', () => {
  it('fails version skew: p1, failed once by the older build, is acknowledged behind the fence after m2 applied: lost', async () => {
    const report = await versionSkew(preFix.build);
    expect(report.ok).toBe(false);
    expect(report.lost).toBeGreaterThan(0);
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'lost', layer: 'ledger', count: 1 }));
  });

  it('fails a payment on a foreign group: it moves the fence past a1 and a2, which are acknowledged unapplied: lost', async () => {
    const report = await groupNotAccount(preFix.build);
    expect(report.ok).toBe(false);
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'lost', layer: 'ledger', count: 2 }));
  });

  it('fails an expired-but-present marker with a late redrive: the payment is applied a second time', async () => {
    const report = await expiredMarker(preFix.build);
    expect(report.ok).toBe(false);
    expect(report.layers[0]).toMatchObject({ layer: expect.stringMatching(/ledger/), duplicated: 1 });
  });

  it('reports the DLQ round trip of a blocked group: the redriven payments applied after newer ones', async () => {
    const report = await dlqRoundTrip(preFix.build);
    expect(report.redriven).toHaveLength(2);
    expect(report.reorderedByRedrive).toBe(2);
    expect(report.decisionsChangedByRedrive).toBe(1);
  });
});

describe("issue 11 faults: the checker passes this checkout's ledger", () => {
  it('passes version skew: the fenced payment is dead-lettered at once, redriven and applied after the ones that overtook it', async () => {
    const report = await versionSkew(FIXED_BUILD);
    expect(report).toMatchObject({ ok: true, lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0, reorderedByRedrive: 1 });
    expect(report.deadLettered).toContainEqual(expect.objectContaining({ reason: expect.stringMatching(/^fenced without a marker/) }));
  });

  it('passes a payment on a foreign group: it is poison at once, redriven on the account\'s group', async () => {
    const report = await groupNotAccount(FIXED_BUILD);
    expect(report).toMatchObject({ ok: true, lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0, redriven: [expect.any(String)] });
    expect(report.deadLettered).toContainEqual(expect.objectContaining({ reason: expect.stringMatching(/MessageGroupId is not the account/) }));
  });

  it('passes an expired-but-present marker with a late redrive: a duplicate, nothing applied again', async () => {
    const report = await expiredMarker(FIXED_BUILD);
    expect(report).toMatchObject({ ok: true, lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0 });
  });

  it('passes the DLQ round trip of a blocked group: nothing lost or doubled; the reordering is reported', async () => {
    const report = await dlqRoundTrip(FIXED_BUILD);
    expect(report).toMatchObject({ ok: true, lost: 0, duplicated: 0, outOfOrder: 0, reorderedByRedrive: 2, decisionsChangedByRedrive: 1 });
  });
});
