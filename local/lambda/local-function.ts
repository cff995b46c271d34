import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { transformSync } from 'esbuild';
import { DEFAULT_FUNCTION_CONCURRENCY } from '../constants.js';
import type { FunctionDefinition } from './function-definitions.js';
import type { FunctionInvoker, InvokeResult } from './types.js';
import type { InitMessage, InitResultMessage, InvokeMessage, ResultMessage, WorkerSetup } from './worker.js';

/** Lambda's INIT phase limit for on-demand functions: module load beyond it counts against the first invocation. */
const INIT_PHASE_LIMIT_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Invocation counters of one function. */
export interface FunctionStats {
  readonly logicalId: string;
  readonly functionName: string;
  count: number;
  errors: number;
  timeouts: number;
  coldStarts: number;
  /** Duration of every invocation in ms, in completion order. */
  readonly durations: number[];
}

/** Options for {@link LocalFunction}. */
export interface LocalFunctionOptions {
  /** Environment of every instance (template variables + runtime variables), already merged. */
  readonly environment: Readonly<Record<string, string>>;
  /** Most instances running at once; more invocations wait. @default ReservedConcurrentExecutions, else 10 */
  readonly maxConcurrency?: number;
  /** Receives each line the function prints (already prefixed). @default - discarded */
  readonly output?: (line: string) => void;
  /** Where the Lambda-provided AWS SDK v3 is resolved from when a bundle leaves it external. @default - no fallback */
  readonly providedSdkDir?: string;
  /** Called after every invocation (for the one-line-per-invocation log). */
  readonly onInvoked?: (fn: LocalFunction, event: unknown, result: InvokeResult, cold: boolean) => void;
}

let workerSource: string | undefined;

/** The worker body compiled once to CommonJS (workers are evaluated from source: no loader hooks needed). */
function compiledWorker(): string {
  workerSource ??= transformSync(readFileSync(fileURLToPath(new URL('./worker.ts', import.meta.url)), 'utf8'), {
    loader: 'ts',
    format: 'cjs',
    target: 'node20',
  }).code;
  return workerSource;
}

/** One warm execution environment: a worker thread holding the function's loaded module. */
class Instance {
  public alive = true;
  private readonly worker: Worker;
  private pending: ((message: ResultMessage | Error) => void) | undefined;
  private pendingInit: ((message: InitResultMessage | Error) => void) | undefined;

  public constructor(setup: WorkerSetup, environment: Readonly<Record<string, string>>, output: ((line: string) => void) | undefined) {
    this.worker = new Worker(compiledWorker(), { eval: true, workerData: setup, env: { ...environment }, stdout: true, stderr: true });
    for (const stream of [this.worker.stdout, this.worker.stderr]) {
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      lines.on('line', (line) => output?.(line));
    }
    this.worker.on('message', (message: ResultMessage | InitResultMessage) => this.settle(message));
    this.worker.on('error', (error) => {
      this.alive = false;
      this.settle(error);
    });
    this.worker.on('exit', (code) => {
      this.alive = false;
      this.settle(new Error(`Runtime exited with error: exit status ${code}`));
    });
  }

  /**
   * Runs Lambda's INIT phase (module load) and resolves with its outcome, or 'timeout' after `limitMs` — the instance
   * is left running so a slow init can still finish, as AWS then retries it inside the first invocation.
   */
  public initialize(limitMs: number): Promise<InitResultMessage | Error | 'timeout'> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), limitMs);
      this.pendingInit = (outcome) => {
        clearTimeout(timer);
        resolve(outcome);
      };
      this.worker.postMessage({ type: 'init' } satisfies InitMessage);
    });
  }

  /** Waits for an INIT phase that outlived its budget (its time counts against the first invocation, as on AWS). */
  public initSettled(): Promise<InitResultMessage | Error> {
    return new Promise((resolve) => {
      this.pendingInit = resolve;
    });
  }

  public run(message: InvokeMessage, timeoutMs: number): Promise<ResultMessage | Error | 'timeout'> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        // As on AWS the environment is torn down; the next invocation starts cold.
        this.pending = undefined;
        this.terminate();
        resolve('timeout');
      }, timeoutMs);
      this.pending = (outcome) => {
        clearTimeout(timer);
        resolve(outcome);
      };
      this.worker.postMessage(message);
    });
  }

  public terminate(): Promise<number> {
    this.alive = false;
    return this.worker.terminate();
  }

  private settle(outcome: ResultMessage | InitResultMessage | Error): void {
    if ((outcome instanceof Error || outcome.type === 'initialized') && this.pendingInit) {
      const pendingInit = this.pendingInit;
      this.pendingInit = undefined;
      pendingInit(outcome as InitResultMessage | Error);
      if (!(outcome instanceof Error)) return;
    }
    if (!(outcome instanceof Error) && outcome.type === 'initialized') return;
    const pending = this.pending;
    this.pending = undefined;
    pending?.(outcome);
  }
}

/**
 * A Lambda function running locally from its bundled asset: a pool of warm worker-thread instances (one
 * invocation at a time each, module state kept between invocations), the Timeout enforced by terminating the
 * instance, and AWS-shaped results and errors.
 */
export class LocalFunction implements FunctionInvoker {
  public readonly functionName: string;
  public readonly arn: string;
  public readonly timeoutSeconds: number;
  public readonly stats: FunctionStats;
  private readonly idle: Instance[] = [];
  private readonly all = new Set<Instance>();
  private readonly waiters: Array<() => void> = [];
  private readonly maxConcurrency: number;
  private running = 0;
  private stopped = false;

  public constructor(
    public readonly definition: FunctionDefinition,
    private readonly options: LocalFunctionOptions,
  ) {
    this.functionName = definition.functionName;
    this.arn = definition.arn;
    this.timeoutSeconds = definition.timeoutSeconds;
    this.maxConcurrency = Math.max(1, options.maxConcurrency ?? definition.reservedConcurrency ?? DEFAULT_FUNCTION_CONCURRENCY);
    this.stats = { logicalId: definition.logicalId, functionName: definition.functionName, count: 0, errors: 0, timeouts: 0, coldStarts: 0, durations: [] };
  }

  /** Invocations running now. */
  public get active(): number {
    return this.running + this.waiters.length;
  }

  /** Invokes the function once; handler errors and timeouts are reported in the result, never thrown. */
  public async invoke(event: unknown): Promise<InvokeResult> {
    const requestId = randomUUID();
    if (this.stopped) return this.stoppedResult(requestId);
    while (this.running >= this.maxConcurrency) await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.stopped) return this.stoppedResult(requestId);
    this.running++;
    // An idle instance can have died meanwhile (an unhandled rejection from work left running after it returned).
    let instance = this.idle.pop();
    while (instance && !instance.alive) {
      this.all.delete(instance);
      instance = this.idle.pop();
    }
    const cold = instance === undefined;
    instance ??= this.spawn();
    const started = performance.now();
    let result: InvokeResult;
    try {
      // The INIT phase has its own budget (10 s on AWS) and does not count against the function's Timeout; an init
      // that outlives it goes on inside the first invocation, whose Timeout then covers the rest.
      let budgetMs = this.timeoutSeconds * 1000;
      let initFailure: InitResultMessage | Error | undefined;
      if (cold) {
        const initStarted = performance.now();
        let init = await instance.initialize(INIT_PHASE_LIMIT_MS);
        if (init === 'timeout') {
          const raced = await Promise.race([instance.initSettled(), sleep(budgetMs).then(() => 'timeout' as const)]);
          init = raced;
          budgetMs -= Math.max(0, performance.now() - initStarted - INIT_PHASE_LIMIT_MS);
        }
        if (init === 'timeout' || budgetMs <= 0) {
          await instance.terminate();
          return this.finish(this.toResult('timeout', requestId, performance.now() - started, instance), event, cold);
        }
        if (init instanceof Error || !init.ok) initFailure = init;
      }
      if (initFailure) {
        const error = initFailure instanceof Error ? { errorType: 'Runtime.ExitError', errorMessage: initFailure.message } : initFailure.error!;
        result = this.toResult({ type: 'result', requestId, ok: false, fatal: true, error }, requestId, performance.now() - started, instance);
      } else {
        const deadline = Date.now() + budgetMs;
        const outcome = await instance.run({ type: 'invoke', requestId, event, deadline }, budgetMs);
        result = this.toResult(outcome, requestId, performance.now() - started, instance);
      }
    } finally {
      this.running--;
      if (instance.alive && !this.stopped) this.idle.push(instance);
      else this.all.delete(instance);
      this.waiters.shift()?.();
    }
    return this.finish(result, event, cold);
  }

  private finish(result: InvokeResult, event: unknown, cold: boolean): InvokeResult {
    this.record(result, cold);
    this.options.onInvoked?.(this, event, result, cold);
    return result;
  }

  /** Terminates every instance; later invocations fail. */
  public async stop(): Promise<void> {
    this.stopped = true;
    this.waiters.splice(0).forEach((wake) => wake());
    await Promise.allSettled([...this.all].map((instance) => instance.terminate()));
    this.all.clear();
    this.idle.length = 0;
  }

  private spawn(): Instance {
    const { definition } = this;
    const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
    const setup: WorkerSetup = {
      codeDir: definition.codeDir,
      handler: definition.handler,
      functionName: definition.functionName,
      invokedFunctionArn: definition.arn,
      memorySize: definition.memorySize,
      logGroupName: `/aws/lambda/${definition.functionName}`,
      logStreamName: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
      providedSdkDir: this.options.providedSdkDir,
    };
    const instance = new Instance(setup, this.options.environment, this.options.output);
    this.all.add(instance);
    return instance;
  }

  private toResult(outcome: ResultMessage | Error | 'timeout', requestId: string, durationMs: number, instance: Instance): InvokeResult {
    if (outcome === 'timeout') {
      const errorMessage = `${new Date().toISOString()} ${requestId} Task timed out after ${this.timeoutSeconds.toFixed(2)} seconds`;
      return { ok: false, timedOut: true, durationMs, requestId, error: { errorType: 'Sandbox.Timedout', errorMessage } };
    }
    if (outcome instanceof Error) {
      void instance.terminate();
      return { ok: false, timedOut: false, durationMs, requestId, error: { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${requestId} Error: ${outcome.message}` } };
    }
    if (outcome.fatal) void instance.terminate();
    if (!outcome.ok) {
      const { errorType, errorMessage } = outcome.error ?? { errorType: 'Error', errorMessage: 'unknown error' };
      return { ok: false, timedOut: false, durationMs, requestId, error: { errorType, errorMessage } };
    }
    // AWS returns the JSON text "null" for a handler that returns nothing.
    return { ok: true, timedOut: false, durationMs, requestId, payload: outcome.payload === undefined ? null : JSON.parse(outcome.payload) };
  }

  private record(result: InvokeResult, cold: boolean): void {
    this.stats.count++;
    if (!result.ok) this.stats.errors++;
    if (result.timedOut) this.stats.timeouts++;
    if (cold) this.stats.coldStarts++;
    this.stats.durations.push(result.durationMs);
  }

  private stoppedResult(requestId: string): InvokeResult {
    return { ok: false, timedOut: false, durationMs: 0, requestId, error: { errorType: 'Runtime.Stopped', errorMessage: `${this.functionName}: the local runtime is stopping` } };
  }
}
