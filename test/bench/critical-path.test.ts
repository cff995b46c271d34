import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.js';
import {
  criticalPath,
  measureCriticalPaths,
  modelLatency,
  summarizeCriticalPaths,
  type CallSpan,
  type CriticalPathRow,
} from '../../scripts/bench/critical-path.js';
import { createTables } from '../../scripts/bench/strategies.js';

const span = (command: string, group: string, start: number, end: number): CallSpan => ({ command, group, start, end });
const p50 = (s: CallSpan) => modelLatency(s.command, 'p50');

describe('criticalPath', () => {
  it('counts calls that waited for each other, not calls that overlapped', () => {
    // Prepare: two groups, each read then transaction; group b's calls overlap group a's.
    const spans = [span('BatchGetItem', 'a', 0, 10), span('BatchGetItem', 'b', 1, 11), span('TransactWriteItems', 'a', 10, 40), span('TransactWriteItems', 'b', 12, 42)];
    // Act
    const parallel = criticalPath(spans, p50, (x, y) => x.group === y.group);
    const anyOrder = criticalPath(spans, p50, () => true);
    // Assess: one read + one transaction per group; a cross-group edge (a's read → b's transaction) only when allowed.
    expect(parallel).toEqual({ calls: 2, weight: 7.55 + 25.3 });
    expect(anyOrder.calls).toBe(2);
  });

  it('chains every call of a sequential batch', () => {
    const spans = [span('GetItem', 'a', 0, 5), span('PutItem', 'a', 5, 9), span('GetItem', 'b', 9, 12), span('PutItem', 'b', 12, 20)];
    expect(criticalPath(spans, p50, () => true)).toEqual({ calls: 4, weight: 4 * 7.55 });
  });

  it('prices unknown call kinds at the single-item figure and TransactWriteItems at the published 5-item one', () => {
    expect(modelLatency('SomethingNewCommand', 'p50')).toBe(7.55);
    expect(modelLatency('TransactWriteItemsCommand', 'p99')).toBe(92.5);
  });
});

describe('measureCriticalPaths on DynamoDB Local', () => {
  let rows: CriticalPathRow[];
  beforeAll(async () => {
    const endpoint = inject('ddbEndpoint');
    const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const suffix = Date.now().toString(36);
    await createTables(client, `cp-${suffix}-ledger`, `cp-${suffix}-idem`);
    client.destroy();
    rows = await measureCriticalPaths({
      ddbEndpoint: endpoint,
      ledgerTable: `cp-${suffix}-ledger`,
      idempotencyTable: `cp-${suffix}-idem`,
      strategies: ['at-least-once', 'powertools', 'atomic', 'watermark'],
      repeats: 1,
      prefix: `cp${suffix}`,
    });
  }, 180_000);
  const row = (strategy: string, shape: string, driver: string) => rows.find((r) => r.strategy === strategy && r.shape === shape && r.driver === driver)!;

  it('cuts a 10-group batch critical path to at most 0.25 × the sequential one, for every strategy (issue 14 target)', () => {
    const summary = summarizeCriticalPaths(rows);
    expect(summary.tenGroupTargetMet).toBe(true);
    // The atomic ledger: one BatchGetItem + one TransactWriteItems per record.
    expect(row('atomic', '10 groups × 1', 'sequential').criticalCalls).toBe(20);
    expect(row('atomic', '10 groups × 1', 'parallel').criticalCalls).toBe(2);
    expect(row('atomic', '10 groups × 1', 'powertools-fifo').criticalCalls).toBe(20);
  });

  it('leaves the same effects whichever driver ran the batch, and the effects FIFO order implies', () => {
    expect(summarizeCriticalPaths(rows).sameEffects).toBe(true);
    // 100, -30, -500 (overdraws: rejected), 40, -20, 60, -700 (rejected), 10, -5, 25 → 180, 8 applied, 2 rejected.
    for (const driver of ['sequential', 'parallel', 'powertools-fifo']) {
      expect(row('atomic', '1 group × 10', driver).effects).toBe('g0:180/8/2');
      expect(row('atomic', 'mixed 4+3+2+1', driver).effects).toBe('g0:110/3/1,g1:70/2/1,g2:70/2/0,g3:100/1/0');
    }
  });

  it('gains nothing on a single-group batch: its records still wait for each other', () => {
    for (const strategy of ['at-least-once', 'powertools', 'atomic', 'watermark']) {
      expect(row(strategy, '1 group × 10', 'parallel').criticalCalls).toBe(row(strategy, '1 group × 10', 'sequential').criticalCalls);
    }
  });

  it('prices each row consistently: payments/s and GB-seconds follow from the modelled duration', () => {
    for (const r of rows) {
      expect(r.modelPaymentsPerSecond).toBeCloseTo(r.records / (r.modelP50Ms / 1000), 0);
      expect(r.gbSecondsPerMillion).toBeCloseTo((r.modelP50Ms / 1000) * 0.5 * (1e6 / r.records), 0);
      expect(r.modelP99Ms).toBeGreaterThanOrEqual(r.modelP50Ms);
    }
  });
});
