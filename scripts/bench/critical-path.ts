/**
 * Sequential DynamoDB round trips on an invocation's critical path, per strategy, batch shape and batch driver, and
 * the AWS latency model built on them (issue 14).
 *
 * Local throughput does not transfer (DynamoDB Local serialises transactions); what decides an invocation's duration
 * on AWS is how many DynamoDB calls it WAITS FOR one after another, and how long each kind of call takes there. This
 * module runs real ledger strategies against DynamoDB Local through an instrumented client that records the start and
 * end of every call and the message group it was made for, computes the longest chain of calls that had to wait for
 * each other, and prices that chain with published latencies measured from Lambda.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { Context, SQSRecord } from 'aws-lambda';
import { parseDelivery } from '../../lambdas/ledger/consumer.js';
import { PoisonMessageError } from '../../lambdas/ledger/errors.js';
import { loadLedgerStrategy } from '../../lambdas/ledger/strategies/index.js';
import type { LedgerStrategyName } from '../../lambdas/ledger/strategy.js';
import { MAX_FIFO_BATCH_GROUPS, processFifoBatch } from '../../lambdas/shared/fifo-batch.js';
import { accountKey } from '../../lambdas/shared/ledger-keys.js';
import { paymentIdFor, type PaymentMessage } from '../../lambdas/shared/payments-model.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.js';
import { PRICES } from './pricing.js';

/** One published latency figure (ms) for a kind of DynamoDB call, measured from Lambda. */
export interface CallLatency {
  readonly p50: number;
  readonly p99: number;
  /** What was measured, and where. */
  readonly source: string;
}

const DEBRIE = 'alexdebrie/dynamodb-performance-testing (put-batch-transaction-performance/README.md, Lambda in us-east-1, 2020)';

/**
 * Published latencies per call kind. Reads are priced like a single-item write: AWS states that most atomic operations
 * "such as GetItem and PutItem" average single-digit milliseconds (Knowledge Center, dynamodb-high-latency), and no
 * public side-by-side of GetItem/BatchGetItem percentiles from Lambda was found; a 2-item BatchGetItem is priced as
 * one call at that figure. The atomic strategy's transaction has 2 items: priced at the 5-item figure (pessimistic).
 */
export const AWS_LATENCY_MODEL: Readonly<Record<string, CallLatency>> = {
  PutItem: { p50: 7.55, p99: 16.2, source: `PutItem, ${DEBRIE}` },
  UpdateItem: { p50: 7.55, p99: 16.2, source: 'priced as PutItem (a single-item write)' },
  DeleteItem: { p50: 7.55, p99: 16.2, source: 'priced as PutItem (a single-item write)' },
  GetItem: {
    p50: 7.55,
    p99: 16.2,
    source: 'priced as PutItem: "GetItem and PutItem … single-digit millisecond" average (https://repost.aws/knowledge-center/dynamodb-high-latency)',
  },
  BatchGetItem: { p50: 7.55, p99: 16.2, source: 'priced as GetItem (2 keys in one request)' },
  Query: { p50: 7.55, p99: 16.2, source: 'priced as GetItem (one small item collection)' },
  BatchWriteItem: { p50: 8.14, p99: 25.5, source: `BatchWrite of 5 items, ${DEBRIE}` },
  TransactWriteItems: { p50: 25.3, p99: 92.5, source: `TransactWrite of 5 items, ${DEBRIE}` },
  TransactGetItems: { p50: 25.3, p99: 92.5, source: 'priced as TransactWriteItems (pessimistic)' },
};

/** Memory the model bills (the stack's ledger function size). */
export const MODEL_MEMORY_MB = 512;

/** One DynamoDB call as the client saw it. */
export interface CallSpan {
  readonly command: string;
  /** Message group of the record that made the call ('' outside a record). */
  readonly group: string;
  readonly start: number;
  readonly end: number;
}

/** Latency of a call kind in the model (unknown kinds at the single-item figure). */
export function modelLatency(command: string, percentile: 'p50' | 'p99'): number {
  const name = command.replace(/Command$/, '');
  return (AWS_LATENCY_MODEL[name] ?? AWS_LATENCY_MODEL.PutItem!)[percentile];
}

/**
 * The longest chain of calls in which each waited for the one before: an edge a → b when b started after a ended AND
 * `dependent(a, b)` (e.g. same message group, or any two calls when records run one at a time). Weighted by `weight`.
 * @returns the chain's length in calls and its weight.
 */
export function criticalPath(
  spans: readonly CallSpan[],
  weight: (span: CallSpan) => number,
  dependent: (a: CallSpan, b: CallSpan) => boolean,
): { calls: number; weight: number } {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  const best: Array<{ calls: number; weight: number }> = [];
  let top = { calls: 0, weight: 0 };
  for (const [i, span] of sorted.entries()) {
    let here = { calls: 1, weight: weight(span) };
    for (let j = 0; j < i; j++) {
      const before = sorted[j]!;
      if (before.end <= span.start && dependent(before, span)) {
        const candidate = { calls: best[j]!.calls + 1, weight: best[j]!.weight + weight(span) };
        if (candidate.weight > here.weight || (candidate.weight === here.weight && candidate.calls > here.calls)) here = candidate;
      }
    }
    best.push(here);
    if (here.weight > top.weight || (here.weight === top.weight && here.calls > top.calls)) top = here;
  }
  return top;
}

/** Batch shapes: records per message group. */
export const BATCH_SHAPES = {
  '1 group × 10': [10],
  '10 groups × 1': [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
  'mixed 4+3+2+1': [4, 3, 2, 1],
} as const satisfies Record<string, readonly number[]>;
export type BatchShape = keyof typeof BATCH_SHAPES;

/**
 * How a batch is driven: our processor one record at a time, our processor with every group in parallel (what the
 * ledger runs), or Powertools' `SqsFifoPartialProcessorAsync` with `skipGroupOnError` (one record at a time).
 */
export const DRIVERS = ['sequential', 'parallel', 'powertools-fifo'] as const;
export type Driver = (typeof DRIVERS)[number];

/** Measured and modelled figures of one strategy × shape × driver, averaged over the repeats. */
export interface CriticalPathRow {
  readonly strategy: LedgerStrategyName;
  readonly shape: BatchShape;
  readonly driver: Driver;
  readonly records: number;
  /** DynamoDB calls per batch. */
  readonly calls: number;
  /** Calls on the critical path (longest chain that had to wait, one after another). */
  readonly criticalCalls: number;
  /** The critical path priced with published p50 (p99) latencies: the batch's DynamoDB wait on AWS. */
  readonly modelP50Ms: number;
  readonly modelP99Ms: number;
  /** records / modelled p50 duration: payments per second one concurrent invocation sustains on AWS. */
  readonly modelPaymentsPerSecond: number;
  /** Lambda GB-seconds per million payments at {@link MODEL_MEMORY_MB} MB for the modelled p50 duration. */
  readonly gbSecondsPerMillion: number;
  /** Those GB-seconds at the arm64 price, in dollars. */
  readonly lambdaDollarsPerMillion: number;
  /** Wall time of the batch on DynamoDB Local (median of the repeats): a local figure. */
  readonly localMs: number;
  /** Account state after the batches, per group position: equal across drivers when effects do not change. */
  readonly effects: string;
}

/** Options of {@link measureCriticalPaths}. */
export interface CriticalPathOptions {
  readonly ddbEndpoint: string;
  /** A ledger table (pk/sk) and a Powertools idempotency table (id) that exist on that endpoint. */
  readonly ledgerTable: string;
  readonly idempotencyTable: string;
  readonly strategies: readonly LedgerStrategyName[];
  /** Batches per cell (fresh accounts each). @default 3 */
  readonly repeats?: number;
  /** Prefix of account ids, so runs never collide. */
  readonly prefix: string;
}

/** Amounts of one group's records in order: a credit, then debits of which one overdraws (a rejection). */
const AMOUNTS = [100, -30, -500, 40, -20, 60, -700, 10, -5, 25];

/** Runs every strategy × shape × driver and returns one row per cell. */
export async function measureCriticalPaths(options: CriticalPathOptions): Promise<CriticalPathRow[]> {
  const repeats = options.repeats ?? 3;
  const spans: CallSpan[] = [];
  const groupOf = new AsyncLocalStorage<string>();
  const client = new DynamoDBClient({ endpoint: options.ddbEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const start = performance.now();
      try {
        return await next(args);
      } finally {
        spans.push({ command: context.commandName ?? 'unknown', group: groupOf.getStore() ?? '', start, end: performance.now() });
      }
    },
    // Outside the retry middleware: a retried call is one longer wait on the critical path, as on AWS.
    { step: 'initialize', name: 'criticalPathRecorder', priority: 'high' },
  );
  const reader = new DynamoDBClient({ endpoint: options.ddbEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const rows: CriticalPathRow[] = [];
  try {
    for (const strategyName of options.strategies) {
      const strategy = await loadLedgerStrategy(strategyName, {
        client,
        tableName: options.ledgerTable,
        dedupTtlSeconds: 3600,
        idempotencyTableName: options.idempotencyTable,
      });
      for (const shape of Object.keys(BATCH_SHAPES) as BatchShape[]) {
        for (const driver of DRIVERS) {
          const cells: Array<{ calls: number; critical: { calls: number; p50: number; p99: number }; ms: number; effects: string }> = [];
          for (let repeat = 0; repeat < repeats; repeat++) {
            const accounts = BATCH_SHAPES[shape].map((_, g) => `${options.prefix}-${strategyName}-${shape.replace(/\W+/g, '')}-${driver}-${repeat}-g${g}`);
            const records = batchRecords(accounts, BATCH_SHAPES[shape]);
            const context = fakeContext();
            strategy.registerLambdaContext?.(context);
            const handle = (record: SQSRecord) =>
              groupOf.run(record.attributes.MessageGroupId ?? '', async () => {
                await strategy.apply(parseDelivery(record));
              });
            spans.length = 0;
            const started = performance.now();
            let failures: number;
            if (driver === 'powertools-fifo') {
              const processor = new SqsFifoPartialProcessorAsync();
              const response = await processPartialResponse({ Records: records }, handle, processor, {
                context,
                skipGroupOnError: true,
                throwOnFullBatchFailure: false,
              });
              failures = response.batchItemFailures.length;
            } else {
              const response = await processFifoBatch(records, handle, {
                groupConcurrency: driver === 'parallel' ? MAX_FIFO_BATCH_GROUPS : 1,
                isPermanent: (error) => error instanceof PoisonMessageError,
              });
              failures = response.batchItemFailures.length;
            }
            const ms = performance.now() - started;
            if (failures > 0) throw new Error(`${strategyName} / ${shape} / ${driver}: ${failures} records failed; the measurement needs a clean batch`);
            // Records of one group always wait for each other; across groups only when the driver runs one at a time.
            const dependent = (a: CallSpan, b: CallSpan) => driver !== 'parallel' || a.group === b.group;
            const p50 = criticalPath(spans, (s) => modelLatency(s.command, 'p50'), dependent);
            const p99 = criticalPath(spans, (s) => modelLatency(s.command, 'p99'), dependent);
            cells.push({ calls: spans.length, critical: { calls: p50.calls, p50: p50.weight, p99: p99.weight }, ms, effects: await effectsOf(reader, options.ledgerTable, accounts) });
          }
          const records = BATCH_SHAPES[shape].reduce((a, b) => a + b, 0);
          const mean = (f: (c: (typeof cells)[number]) => number) => round(cells.reduce((n, c) => n + f(c), 0) / cells.length);
          const modelP50Ms = mean((c) => c.critical.p50);
          const gbSeconds = (modelP50Ms / 1000) * (MODEL_MEMORY_MB / 1024) * (1e6 / records);
          rows.push({
            strategy: strategyName,
            shape,
            driver,
            records,
            calls: mean((c) => c.calls),
            criticalCalls: mean((c) => c.critical.calls),
            modelP50Ms,
            modelP99Ms: mean((c) => c.critical.p99),
            modelPaymentsPerSecond: round(records / (modelP50Ms / 1000)),
            gbSecondsPerMillion: round(gbSeconds),
            lambdaDollarsPerMillion: round(gbSeconds * PRICES.lambdaArmGbSecond, 4),
            localMs: round(median(cells.map((c) => c.ms))),
            effects: [...new Set(cells.map((c) => c.effects))].join(' | '),
          });
        }
      }
    }
  } finally {
    client.destroy();
    reader.destroy();
  }
  return rows;
}

/** Records of a batch, groups interleaved (g0, g1, …, g0, g1, …) with increasing sequence numbers. */
function batchRecords(accounts: readonly string[], sizes: readonly number[]): SQSRecord[] {
  const records: SQSRecord[] = [];
  let sequence = 10_000_000;
  const longest = Math.max(...sizes);
  for (let position = 0; position < longest; position++) {
    for (const [g, size] of sizes.entries()) {
      if (position >= size) continue;
      const key = `${accounts[g]}-p${position}`;
      const message: PaymentMessage = {
        accountId: accounts[g]!,
        amount: AMOUNTS[position % AMOUNTS.length]!,
        currency: 'EUR',
        paymentId: paymentIdFor(key),
        idempotencyKey: key,
        requestedAt: new Date().toISOString(),
      };
      sequence++;
      records.push({
        messageId: `m-${key}`,
        receiptHandle: `r-${key}`,
        body: JSON.stringify(message),
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: String(Date.now()),
          SenderId: 'bench',
          ApproximateFirstReceiveTimestamp: String(Date.now()),
          SequenceNumber: String(sequence).padStart(20, '0'),
          MessageGroupId: accounts[g]!,
          MessageDeduplicationId: key,
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:bench-payments.fifo',
        awsRegion: LOCAL_REGION,
      });
    }
  }
  return records;
}

/** Balance / applied / rejected of each account, by group position (account ids differ between cells). */
async function effectsOf(client: DynamoDBClient, table: string, accounts: readonly string[]): Promise<string> {
  const parts: string[] = [];
  for (const [g, accountId] of accounts.entries()) {
    const key = accountKey(accountId);
    const { Item } = await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: key.pk }, sk: { S: key.sk } }, ConsistentRead: true }));
    parts.push(`g${g}:${Item?.balance?.N ?? 0}/${Item?.applied?.N ?? 0}/${Item?.rejected?.N ?? 0}`);
  }
  return parts.join(',');
}

function fakeContext(): Context {
  const deadline = Date.now() + 30_000;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'bench-critical-path',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:bench-critical-path',
    memoryLimitInMB: String(MODEL_MEMORY_MB),
    awsRequestId: `req-${Math.random().toString(36).slice(2)}`,
    logGroupName: '/aws/lambda/bench-critical-path',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Ratios the report leads with, from the rows. */
export interface CriticalPathSummary {
  /** Per shape and driver: atomic's modelled p50 duration / at-least-once's. */
  readonly atomicVsAtLeastOnce: Array<{ shape: BatchShape; driver: Driver; ratio: number }>;
  /** Per strategy and shape: parallel critical path / sequential (in calls and in modelled p50 ms). */
  readonly parallelVsSequential: Array<{ strategy: LedgerStrategyName; shape: BatchShape; callsRatio: number; msRatio: number }>;
  /** True when every strategy's 10-group batch critical path is ≤ 0.25 × its sequential one (issue 14's target). */
  readonly tenGroupTargetMet: boolean;
  /** True when every strategy leaves the same effects whichever driver ran the batch. */
  readonly sameEffects: boolean;
}

/** Derives the ratios of {@link CriticalPathSummary}. */
export function summarizeCriticalPaths(rows: readonly CriticalPathRow[]): CriticalPathSummary {
  const find = (strategy: string, shape: string, driver: string) => rows.find((r) => r.strategy === strategy && r.shape === shape && r.driver === driver);
  const shapes = Object.keys(BATCH_SHAPES) as BatchShape[];
  const strategies = [...new Set(rows.map((r) => r.strategy))];
  const atomicVsAtLeastOnce = shapes.flatMap((shape) =>
    DRIVERS.flatMap((driver) => {
      const a = find('atomic', shape, driver);
      const b = find('at-least-once', shape, driver);
      return a && b ? [{ shape, driver, ratio: round(a.modelP50Ms / b.modelP50Ms) }] : [];
    }),
  );
  const parallelVsSequential = strategies.flatMap((strategy) =>
    shapes.flatMap((shape) => {
      const p = find(strategy, shape, 'parallel');
      const s = find(strategy, shape, 'sequential');
      return p && s ? [{ strategy, shape, callsRatio: round(p.criticalCalls / s.criticalCalls), msRatio: round(p.modelP50Ms / s.modelP50Ms) }] : [];
    }),
  );
  const ten = parallelVsSequential.filter((r) => r.shape === '10 groups × 1');
  const sameEffects = strategies.every((strategy) =>
    shapes.every((shape) => new Set(DRIVERS.map((driver) => find(strategy, shape, driver)?.effects)).size === 1),
  );
  return { atomicVsAtLeastOnce, parallelVsSequential, tenGroupTargetMet: ten.length > 0 && ten.every((r) => r.callsRatio <= 0.25 && r.msRatio <= 0.25), sameEffects };
}

/** The critical-path part of the bench report (`criticalPath` in the JSON). */
export interface CriticalPathReport {
  readonly memoryMb: number;
  readonly model: Readonly<Record<string, CallLatency>>;
  readonly rows: readonly CriticalPathRow[];
  readonly summary: CriticalPathSummary;
  /** Where the rows were measured (the local figures only; the model does not depend on it). */
  readonly measuredOn: string;
}

/** Builds the report part from measured rows. */
export function criticalPathReport(rows: readonly CriticalPathRow[], measuredOn: string): CriticalPathReport {
  return { memoryMb: MODEL_MEMORY_MB, model: AWS_LATENCY_MODEL, rows, summary: summarizeCriticalPaths(rows), measuredOn };
}

/** The section BENCHMARKS.md leads with. */
export function criticalPathMarkdown(report: CriticalPathReport): string[] {
  const { rows, summary } = report;
  const out: string[] = [];
  const row = (strategy: string, shape: string, driver: string) => rows.find((r) => r.strategy === strategy && r.shape === shape && r.driver === driver);
  const tenAtomic = (driver: Driver) => row('atomic', '10 groups × 1', driver);
  out.push('## On AWS\'s terms: sequential DynamoDB round trips and the latency model');
  out.push('');
  out.push('What decides a queue consumer\'s duration on AWS — and so its throughput per concurrent invocation and its Lambda');
  out.push('bill — is how many DynamoDB calls an invocation **waits for one after another**. The bench runs every strategy on');
  out.push('real batches through a DynamoDB client that records the start and end of each call and the message group it served,');
  out.push('takes the longest chain of calls that had to wait for each other (records of one group always do; records of');
  out.push('different groups only when the driver runs one record at a time), and prices that chain with latencies published');
  out.push(`from Lambda. Durations are DynamoDB wait only (no handler CPU, no cold start); GB-seconds at ${report.memoryMb} MB, arm64`);
  out.push(`price $${PRICES.lambdaArmGbSecond} per GB-s. The call counts are measured; the milliseconds are the model.`);
  out.push('');
  out.push('Latencies used (ms, measured from Lambda):');
  out.push('');
  out.push(md(['call', 'p50', 'p99', 'source'], Object.entries(report.model).map(([name, l]) => [name, l.p50, l.p99, l.source])));
  out.push('');
  const a = tenAtomic('sequential');
  const p = tenAtomic('parallel');
  const pt = tenAtomic('powertools-fifo');
  if (a && p && pt) {
    out.push(`**Headline.** A batch of 10 payments for 10 accounts on the atomic ledger waits for ${a.criticalCalls} DynamoDB calls in a row`);
    out.push(`when records run one at a time (ours sequential, or Powertools' \`SqsFifoPartialProcessorAsync\`: ${pt.criticalCalls}) and`);
    out.push(`${p.criticalCalls} with groups in parallel (the ledger's default): ${a.modelP50Ms} → ${p.modelP50Ms} ms at p50, so one concurrent`);
    out.push(`invocation sustains ${a.modelPaymentsPerSecond} → ${p.modelPaymentsPerSecond} payments/s and pays ${a.gbSecondsPerMillion} → ${p.gbSecondsPerMillion} GB-s per million payments.`);
    const base = row('at-least-once', '10 groups × 1', 'sequential');
    if (base) {
      out.push(`The transaction still costs about twice a plain write per record (atomic / at-least-once below), but across groups the`);
      out.push(`atomic ledger in parallel waits ${round(p.modelP50Ms / base.modelP50Ms)} × as long as at-least-once run one record at a time (${base.modelP50Ms} ms).`);
    }
    out.push(`Target (10-group critical path ≤ 0.25 × sequential, every strategy): **${summary.tenGroupTargetMet ? 'met' : 'missed'}**. Effects identical across`);
    out.push(`drivers (balances, applied and rejected counts per account): **${summary.sameEffects ? 'yes' : 'NO'}**.`);
    out.push('');
  }
  out.push('Ratios in the model (p50): atomic / at-least-once at the same shape and driver, and parallel / sequential for');
  out.push('the same strategy and shape (critical-path calls and milliseconds).');
  out.push('');
  const shapes = Object.keys(BATCH_SHAPES) as BatchShape[];
  out.push(
    md(
      ['shape', ...DRIVERS.map((d) => `atomic / at-least-once (${d})`)],
      shapes.map((shape) => [shape, ...DRIVERS.map((d) => summary.atomicVsAtLeastOnce.find((r) => r.shape === shape && r.driver === d)?.ratio ?? NaN)]),
    ),
  );
  out.push('');
  const strategies = [...new Set(rows.map((r) => r.strategy))];
  out.push(
    md(
      ['strategy', ...shapes.map((s) => `parallel / sequential, ${s} (calls · ms)`)],
      strategies.map((strategy) => [
        `\`${strategy}\``,
        ...shapes.map((shape) => {
          const r = summary.parallelVsSequential.find((x) => x.strategy === strategy && x.shape === shape);
          return r ? `${r.callsRatio} · ${r.msRatio}` : '–';
        }),
      ]),
    ),
  );
  out.push('');
  out.push(`Every cell (${report.measuredOn}; "local ms" is the batch's wall time on DynamoDB Local, for comparison only):`);
  out.push('');
  out.push(
    md(
      ['strategy', 'shape', 'driver', 'calls', 'critical calls', 'model p50 ms', 'model p99 ms', 'payments/s per invocation', 'GB-s per M payments', 'Lambda $ per M', 'local ms'],
      rows.map((r) => [`\`${r.strategy}\``, r.shape, r.driver, r.calls, r.criticalCalls, r.modelP50Ms, r.modelP99Ms, r.modelPaymentsPerSecond, r.gbSecondsPerMillion, r.lambdaDollarsPerMillion, r.localMs]),
    ),
  );
  out.push('');
  out.push('How to read the model. p99 sums each call\'s p99 along the chain: an upper bound (tails rarely line up). A single');
  out.push('group of 10 gains nothing — its records must wait for each other (FIFO order). Batches span several groups when');
  out.push('many accounts are active, which is when throughput matters. Powertools\' FIFO processor runs one record at a time');
  out.push('whatever the groups, so its critical path equals our sequential one.');
  out.push('');
  return out;
}

/** Console lines of the critical-path table. */
export function criticalPathConsole(report: CriticalPathReport): string[] {
  const lines = ['', 'Critical path (DynamoDB calls waited for in a row per batch; milliseconds from the AWS latency model)'];
  const headers = ['strategy', 'shape', 'driver', 'calls', 'critical', 'p50 ms', 'p99 ms', 'pay/s/inv', 'GB-s/M', 'local ms'];
  const cells = [headers, ...report.rows.map((r) => [r.strategy, r.shape, r.driver, r.calls, r.criticalCalls, r.modelP50Ms, r.modelP99Ms, r.modelPaymentsPerSecond, r.gbSecondsPerMillion, r.localMs].map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  for (const c of cells) lines.push(c.map((v, i) => (i < 3 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  '));
  lines.push(`10-group target (≤ 0.25 × sequential): ${report.summary.tenGroupTargetMet ? 'met' : 'MISSED'}; same effects across drivers: ${report.summary.sameEffects ? 'yes' : 'NO'}`);
  return lines;
}

function md(headers: string[], rows: Array<Array<string | number>>): string {
  const fmt = (c: string | number) => (typeof c === 'number' && Number.isNaN(c) ? '–' : String(c));
  return [`| ${headers.join(' | ')} |`, `|${headers.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.map(fmt).join(' | ')} |`)].join('\n');
}
