import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { BenchReport } from '../../scripts/bench/report.js';

/**
 * Smoke test of `npm run bench -- --quick` against the test run's emulators: the JSON has the published shape and
 * its counts agree with each other and with hand-computed values. No timing assertions: figures vary with the machine.
 */
let report: BenchReport;
let svg: string;
let stdout: string;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-quick-'));
  const jsonPath = join(dir, 'results.json');
  const svgPath = join(dir, 'chart.svg');
  stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'scripts/bench/cli.ts', '--quick', '--json', jsonPath, '--svg', svgPath,
        '--ddb-endpoint', inject('ddbEndpoint'), '--sqs-endpoint', inject('sqsEndpoint')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`bench --quick exited ${code}:\n${err.slice(-3000)}`))));
  });
  report = JSON.parse(readFileSync(jsonPath, 'utf8')) as BenchReport;
  svg = readFileSync(svgPath, 'utf8');
}, 600_000);

const STRATEGIES = ['at-least-once', 'powertools', 'atomic', 'watermark'];
const find = (name: string, rate: number) => report.strategies.find((s) => s.name === name && s.duplicateRate === rate)!;

describe('npm run bench -- --quick', () => {
  it('publishes every strategy at 0 % and 20 % duplicates with the documented fields', () => {
    expect(report.strategies.map((s) => `${s.name}@${s.duplicateRate}`).sort()).toEqual(
      STRATEGIES.flatMap((n) => [`${n}@0`, `${n}@0.2`]).sort(),
    );
    for (const s of report.strategies) {
      for (const field of ['writeUnitsPerPayment', 'readUnitsPerPayment', 'dynamodbRequestsPerPayment', 'sqsRequestsPerPayment',
        'lambdaInvocationsPerPayment', 'dollarsPerMillion', 'throughput', 'throughputRatio', 'p50Ms', 'p99Ms', 'duplicateRate'] as const) {
        expect(typeof s[field], `${s.name}.${field}`).toBe('number');
        expect(Number.isFinite(s[field]), `${s.name}.${field}`).toBe(true);
      }
      expect(s.complete, `${s.name}@${s.duplicateRate} drained`).toBe(true);
    }
  });

  it('charges the atomic strategy 2 transactional items × 2 WU = 4 per payment, and a duplicate one read, no write', () => {
    // The transaction writes the account and the outbox item that carries the dedup marker, each under 1 KB: 2 × 2 WU.
    // Every delivery first reads both items with one eventually consistent BatchGetItem: 0.5 + 0.5 RU (a missing item
    // still costs the minimum); a duplicate stops there.
    const clean = find('atomic', 0);
    expect(clean.writeUnitsPerPayment).toBe(4);
    expect(clean.readUnitsPerPayment).toBe(1);
    const dup = find('atomic', 0.2);
    expect(dup.duplicateDeliveries).toBeGreaterThan(0);
    expect(dup.writeUnitsPerPayment).toBe(4);
    expect(dup.readUnitsPerPayment).toBeCloseTo((dup.payments + dup.duplicateDeliveries) / dup.payments, 3);
  });

  it('charges the watermark strategy one write per payment, duplicates absorbed without a write', () => {
    expect(find('watermark', 0).writeUnitsPerPayment).toBe(1);
    expect(find('watermark', 0.2).writeUnitsPerPayment).toBe(1);
    expect(find('watermark', 0.2).dynamodbRequestsPerPayment).toBe(1);
  });

  it('shows duplicates as extra effects for at-least-once only (the ledger check can fail)', () => {
    const baseline = find('at-least-once', 0.2);
    expect(baseline.effectsPerPayment).toBeGreaterThan(1);
    for (const name of ['powertools', 'atomic', 'watermark']) {
      for (const rate of [0, 0.2]) {
        expect(find(name, rate).effectsPerPayment, `${name}@${rate}`).toBe(1);
        expect(find(name, rate).wrongBalances, `${name}@${rate}`).toBe(0);
      }
    }
  });

  it('keeps ratios and dollars consistent with the raw figures', () => {
    for (const rate of [0, 0.2]) expect(find('at-least-once', rate).throughputRatio).toBe(1);
    for (const s of report.strategies) {
      const base = find('at-least-once', s.duplicateRate);
      expect(s.throughputRatio).toBeCloseTo(s.throughput / base.throughput, 1);
      const parts = Object.values(s.dollarsBreakdown).reduce((a, b) => a + b, 0);
      expect(s.dollarsPerMillion).toBeCloseTo(parts, 1);
      // DynamoDB dollars = units × list price, per million payments.
      expect(s.dollarsBreakdown.dynamodb).toBeCloseTo(s.writeUnitsPerPayment * 0.625 + s.readUnitsPerPayment * 0.125, 1);
      // At least the producer's SendMessage and one receive share per payment.
      expect(s.sqsRequestsPerPayment).toBeGreaterThan(1);
    }
  });

  it('measures the ledger handler bundle against the bare SDK handler', () => {
    const ledger = report.handlers.find((h) => h.name === 'ledger' && h.variant === 'stack');
    expect(ledger).toBeDefined();
    expect(ledger!.bundleBytes).toBeGreaterThan(ledger!.bareBundleBytes);
    expect(ledger!.initMs).toBeGreaterThan(0);
    expect(ledger!.initRatio).toBeCloseTo(ledger!.initMs / ledger!.bareInitMs, 1);
    expect(ledger!.sdkClients).toContain('@aws-sdk/client-dynamodb');
  });

  it('adds the critical path per strategy, batch shape and driver, priced by the AWS latency model', () => {
    const cp = report.criticalPath!;
    expect(cp).toBeDefined();
    expect(cp.model.TransactWriteItems).toMatchObject({ p50: 25.3, p99: 92.5 });
    expect(cp.model.PutItem).toMatchObject({ p50: 7.55, p99: 16.2 });
    expect(cp.rows).toHaveLength(STRATEGIES.length * 3 * 3);
    for (const r of cp.rows) {
      for (const field of ['calls', 'criticalCalls', 'modelP50Ms', 'modelP99Ms', 'modelPaymentsPerSecond', 'gbSecondsPerMillion', 'lambdaDollarsPerMillion', 'localMs'] as const) {
        expect(Number.isFinite(r[field]), `${r.strategy}/${r.shape}/${r.driver}.${field}`).toBe(true);
      }
    }
    expect(cp.summary.tenGroupTargetMet).toBe(true);
    expect(cp.summary.sameEffects).toBe(true);
    expect(stdout).toMatch(/Critical path/);
  });

  it('prints the console table and writes an SVG chart', () => {
    expect(stdout).toMatch(/strategy\s+dup\s+WU/);
    expect(svg).toMatch(/^<svg[^>]+xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('watermark');
  });
});
