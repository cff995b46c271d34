import { PRICES } from './pricing.js';
import type { StrategyRun } from './strategies.js';

/** One strategy at one duplicate rate, as published in the JSON (`strategies[]`). */
export interface StrategyResult {
  readonly name: string;
  readonly duplicateRate: number;
  /** Unique payments in the measured (backlog) phase. */
  readonly payments: number;
  /** Of which delivered twice. */
  readonly duplicateDeliveries: number;
  /** DynamoDB write units per unique payment (applied or rejected), AWS billing rules. */
  readonly writeUnitsPerPayment: number;
  readonly readUnitsPerPayment: number;
  readonly dynamodbRequestsPerPayment: number;
  /** Failed conditional writes / cancelled transactions per payment (charged). */
  readonly conditionFailuresPerPayment: number;
  /** SendMessage + non-empty ReceiveMessage + DeleteMessageBatch, per payment. */
  readonly sqsRequestsPerPayment: number;
  readonly lambdaInvocationsPerPayment: number;
  readonly dollarsPerMillion: number;
  readonly dollarsBreakdown: { dynamodb: number; sqs: number; lambdaRequests: number; lambdaCompute: number };
  /** Payments per second through the ledger consumer (local emulators; duplicates processed on the way). */
  readonly throughput: number;
  readonly throughputRatio: number;
  /**
   * CPU time per payment of the consumer process + DynamoDB Local's JVM (when its PID was found), in the throughput
   * phase: the load-independent cost on this machine. `cpuThroughput` = payments per CPU-second from it.
   */
  readonly cpuMsPerPayment: number;
  readonly consumerCpuMsPerPayment: number;
  readonly dynamodbCpuMsPerPayment: number | null;
  readonly cpuThroughput: number;
  readonly cpuThroughputRatio: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p50Ratio: number;
  readonly p99Ratio: number;
  /** Effects in the ledger per unique payment (1 = exactly once; 1 + duplicateRate = every duplicate applied). */
  readonly effectsPerPayment: number;
  /** Accounts whose balance differs from replaying each payment once. */
  readonly wrongBalances: number;
  /** Peak RSS of the consumer process under the workload (handler + poller). */
  readonly peakRssMb: number;
  /** RSS of the same process before it imported the handler (the poller's share). */
  readonly pollerRssMb: number;
  readonly meanInvocationMs: number;
  /** Records the handler reported failed (then retried), in both phases. */
  readonly failedRecords: number;
  readonly complete: boolean;
}

/** Lambda memory the compute estimate assumes (the stack's default, lib/constructs/handler-function.ts). */
export const ASSUMED_MEMORY_MB = 512;

/** Turns raw runs into per-payment figures and ratios to `at-least-once` at the same duplicate rate. */
export function summarizeStrategies(runs: readonly StrategyRun[]): StrategyResult[] {
  const partial = runs.map((run) => {
    const n = run.payments;
    const d = run.dynamodb;
    const s = run.sqs.requests;
    const ddbRequests = Object.values(d.requests).reduce((a, b) => a + b, 0);
    const nonEmptyReceives = (s.ReceiveMessage ?? 0) - run.sqs.emptyReceives;
    const sqsRequests = (s.SendMessage ?? 0) + (s.SendMessageBatch ?? 0) + nonEmptyReceives + (s.DeleteMessageBatch ?? 0) + (s.DeleteMessage ?? 0);
    const invocations = run.throughput.invocations;
    const computeGbS = run.throughput.durationsMs.reduce((a, b) => a + b, 0) / 1000 * (ASSUMED_MEMORY_MB / 1024);
    const perPayment = {
      dynamodb: d.writeUnits * PRICES.dynamodbWriteRequestUnit + d.readUnits * PRICES.dynamodbReadRequestUnit,
      sqs: sqsRequests * PRICES.sqsFifoRequest,
      lambdaRequests: invocations * PRICES.lambdaRequest,
      lambdaCompute: computeGbS * PRICES.lambdaArmGbSecond,
    };
    const million = (x: number) => round((x / n) * 1e6, 4);
    const breakdown = {
      dynamodb: million(perPayment.dynamodb),
      sqs: million(perPayment.sqs),
      lambdaRequests: million(perPayment.lambdaRequests),
      lambdaCompute: million(perPayment.lambdaCompute),
    };
    const elapsed = Math.max(1, run.throughput.finishedAt - run.throughput.startedAt) / 1000;
    return {
      name: run.strategy,
      duplicateRate: run.duplicateRate,
      payments: n,
      duplicateDeliveries: run.duplicateDeliveries,
      writeUnitsPerPayment: round(d.writeUnits / n, 3),
      readUnitsPerPayment: round(d.readUnits / n, 3),
      dynamodbRequestsPerPayment: round(ddbRequests / n, 3),
      conditionFailuresPerPayment: round(d.conditionFailures / n, 3),
      sqsRequestsPerPayment: round(sqsRequests / n, 3),
      lambdaInvocationsPerPayment: round(invocations / n, 3),
      dollarsPerMillion: round(Object.values(breakdown).reduce((a, b) => a + b, 0), 2),
      dollarsBreakdown: breakdown,
      throughput: round(run.throughput.uniqueDone / elapsed, 1),
      consumerCpuMsPerPayment: round(run.throughput.cpuMs / n, 2),
      dynamodbCpuMsPerPayment: run.dynamodbCpuMs === undefined ? null : round(run.dynamodbCpuMs / n, 2),
      cpuMsPerPayment: round((run.throughput.cpuMs + (run.dynamodbCpuMs ?? 0)) / n, 2),
      cpuThroughput: round(n / ((run.throughput.cpuMs + (run.dynamodbCpuMs ?? 0)) / 1000 || 1), 1),
      p50Ms: round(percentile(run.latency.latenciesMs, 50), 1),
      p99Ms: round(percentile(run.latency.latenciesMs, 99), 1),
      effectsPerPayment: round(run.ledger.effects / run.ledger.expectedEffects, 3),
      wrongBalances: run.ledger.wrongBalances,
      peakRssMb: round(run.peakRssBytes / 2 ** 20, 1),
      pollerRssMb: round(run.rssBeforeHandlerBytes / 2 ** 20, 1),
      meanInvocationMs: round(mean(run.throughput.durationsMs), 1),
      failedRecords: run.throughput.failedRecords + run.latency.failedRecords,
      complete: run.throughput.complete && run.latency.complete,
    };
  });
  return partial.map((r) => {
    const base = partial.find((b) => b.name === 'at-least-once' && b.duplicateRate === r.duplicateRate);
    const ratio = (x: number, y: number | undefined) => (y ? round(x / y, 2) : NaN);
    return {
      ...r,
      throughputRatio: ratio(r.throughput, base?.throughput),
      cpuThroughputRatio: ratio(r.cpuThroughput, base?.cpuThroughput),
      p50Ratio: ratio(r.p50Ms, base?.p50Ms),
      p99Ratio: ratio(r.p99Ms, base?.p99Ms),
    };
  });
}

/** Nearest-rank percentile; 0 for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Rounds to `digits` decimals. */
export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
