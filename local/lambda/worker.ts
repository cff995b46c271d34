/**
 * Body of one warm Lambda instance. Runs inside a worker_threads Worker (compiled to CommonJS and evaluated by
 * local-function.ts): loads the function's bundled asset once, then serves invocations one at a time, keeping
 * module-scope state between them as a warm Lambda execution environment does.
 */
import { existsSync, readFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

/** Fixed data of the instance, passed as workerData. */
export interface WorkerSetup {
  readonly codeDir: string;
  readonly handler: string;
  readonly functionName: string;
  readonly invokedFunctionArn: string;
  readonly memorySize: number;
  readonly logGroupName: string;
  readonly logStreamName: string;
  /**
   * A directory whose node_modules stands in for the AWS SDK v3 that Lambda's Node.js runtime provides: bundles that
   * leave `@aws-sdk/*` external (NodejsFunction's default) resolve it there when their own location has none.
   */
  readonly providedSdkDir?: string;
}

/** Message from the runtime: run one invocation. */
export interface InvokeMessage {
  readonly type: 'invoke';
  readonly requestId: string;
  readonly event: unknown;
  /** Epoch ms at which the invocation times out. */
  readonly deadline: number;
}

/** Message from the runtime: load the handler module (the INIT phase), before the first invocation. */
export interface InitMessage {
  readonly type: 'init';
}

/** Message to the runtime: the outcome of the INIT phase. */
export interface InitResultMessage {
  readonly type: 'initialized';
  readonly ok: boolean;
  readonly error?: { errorType: string; errorMessage: string; stack?: string };
}

/** Message to the runtime: the outcome of one invocation. */
export interface ResultMessage {
  readonly type: 'result';
  readonly requestId: string;
  readonly ok: boolean;
  /** JSON text of the handler's result (undefined when it returned nothing). */
  readonly payload?: string;
  readonly error?: { errorType: string; errorMessage: string; stack?: string };
  /** true when the instance cannot serve again (init failure): the runtime discards it. */
  readonly fatal?: boolean;
}

class RuntimeError extends Error {
  public constructor(public readonly errorType: string, message: string) {
    super(message);
    this.name = errorType;
  }
}

type Handler = (event: unknown, context: unknown, callback?: (error?: unknown, result?: unknown) => void) => unknown;

const setup = workerData as WorkerSetup;
let handler: Handler | undefined;

if (setup.providedSdkDir && typeof Module.registerHooks === 'function') {
  const fallbackParent = pathToFileURL(join(setup.providedSdkDir, 'lambda-runtime.js')).href;
  Module.registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context);
      } catch (error) {
        if (!specifier.startsWith('@aws-sdk/')) throw error;
        return nextResolve(specifier, { ...context, parentURL: fallbackParent });
      }
    },
  });
}

async function loadHandler(): Promise<Handler> {
  const dot = setup.handler.lastIndexOf('.');
  if (dot <= 0) throw new RuntimeError('Runtime.MalformedHandlerName', `Bad handler ${setup.handler}: expected <module>.<export>`);
  const modulePath = setup.handler.slice(0, dot);
  const exportPath = setup.handler.slice(dot + 1);
  // Lambda's Node.js runtime looks for .js, then .mjs, then .cjs.
  const file = ['.js', '.mjs', '.cjs'].map((ext) => join(setup.codeDir, modulePath + ext)).find((candidate) => existsSync(candidate));
  if (!file) throw new RuntimeError('Runtime.ImportModuleError', `Error: Cannot find module '${modulePath}'`);
  let exported: Record<string, unknown>;
  try {
    if (file.endsWith('.mjs') || (file.endsWith('.js') && taskRootIsModule())) {
      exported = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } else {
      exported = loadCommonJs(file);
    }
  } catch (error) {
    // As the Lambda runtime reports a missing dependency of the handler module.
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new RuntimeError('Runtime.ImportModuleError', `Error: ${(error as Error).message}`);
    }
    throw error;
  }
  const value = exported[exportPath] ?? (exported.default as Record<string, unknown> | undefined)?.[exportPath];
  if (typeof value !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${modulePath}.${exportPath} is undefined or not exported`);
  }
  return value as Handler;
}

/** As on Lambda, only a package.json in the task root decides whether .js is ESM (not the project's own one). */
function taskRootIsModule(): boolean {
  const packageJson = join(setup.codeDir, 'package.json');
  if (!existsSync(packageJson)) return false;
  try {
    return (JSON.parse(readFileSync(packageJson, 'utf8')) as { type?: string }).type === 'module';
  } catch {
    return false;
  }
}

function loadCommonJs(file: string): Record<string, unknown> {
  // Compiled by hand so an enclosing "type": "module" package.json (this project's) does not turn it into ESM.
  const internal = Module as unknown as { _nodeModulePaths(dir: string): string[] };
  const m = new Module(file) as Module & { _compile(source: string, filename: string): void };
  m.filename = file;
  m.paths = internal._nodeModulePaths(dirname(file));
  m._compile(readFileSync(file, 'utf8'), file);
  m.loaded = true;
  return m.exports as Record<string, unknown>;
}

function context(message: InvokeMessage) {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: setup.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: setup.invokedFunctionArn,
    memoryLimitInMB: String(setup.memorySize),
    awsRequestId: message.requestId,
    logGroupName: setup.logGroupName,
    logStreamName: setup.logStreamName,
    getRemainingTimeInMillis: () => Math.max(0, message.deadline - Date.now()),
  };
}

function call(fn: Handler, event: unknown, ctx: unknown): Promise<unknown> {
  if (fn.length < 3) return Promise.resolve(fn(event, ctx));
  // Callback-style handler: the first of callback or returned promise settles the invocation.
  return new Promise((resolve, reject) => {
    const returned = fn(event, ctx, (error, result) => (error ? reject(error) : resolve(result)));
    if (returned && typeof (returned as Promise<unknown>).then === 'function') (returned as Promise<unknown>).then(resolve, reject);
  });
}

function describe(error: unknown): { errorType: string; errorMessage: string; stack?: string } {
  if (error instanceof Error) {
    const errorType = error instanceof RuntimeError ? error.errorType : error.name || error.constructor.name;
    return { errorType, errorMessage: error.message, stack: error.stack };
  }
  return { errorType: typeof error, errorMessage: String(error) };
}

let current: string | undefined;

// As Lambda's Node.js runtime does: a rejection nobody handles fails the running invocation and ends the
// environment; the next invocation starts cold.
process.on('unhandledRejection', (reason) => {
  const errorMessage = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
  if (current) {
    const reply: ResultMessage = { type: 'result', requestId: current, ok: false, fatal: true, error: { errorType: 'Runtime.UnhandledPromiseRejection', errorMessage } };
    parentPort!.postMessage(reply);
  }
  process.exit(128);
});

parentPort!.on('message', async (message: InvokeMessage | InitMessage) => {
  if (message.type === 'init') {
    // Lambda's INIT phase: load the module before the first invocation, outside the invocation's timeout.
    let reply: InitResultMessage;
    try {
      handler ??= await loadHandler();
      reply = { type: 'initialized', ok: true };
    } catch (error) {
      reply = { type: 'initialized', ok: false, error: describe(error) };
    }
    parentPort!.postMessage(reply);
    return;
  }
  if (message.type !== 'invoke') return;
  current = message.requestId;
  let reply: ResultMessage;
  if (!handler) {
    try {
      handler = await loadHandler();
    } catch (error) {
      // An init failure (import error, a throw at module scope) fails this invocation; the next one starts cold.
      reply = { type: 'result', requestId: message.requestId, ok: false, fatal: true, error: describe(error) };
      current = undefined;
      parentPort!.postMessage(reply);
      return;
    }
  }
  try {
    const result = await call(handler, message.event, context(message));
    reply = { type: 'result', requestId: message.requestId, ok: true, payload: result === undefined ? undefined : JSON.stringify(result) };
  } catch (error) {
    reply = { type: 'result', requestId: message.requestId, ok: false, error: describe(error) };
  }
  current = undefined;
  parentPort!.postMessage(reply);
});
