import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FunctionDefinition } from '../../local/lambda/function-definitions.js';
import { LocalFunction } from '../../local/lambda/local-function.js';

// The worker-thread Lambda instances on their own, with tiny hand-written task roots (no synthesis, no emulators).
const roots: string[] = [];
const functions: LocalFunction[] = [];

function taskRoot(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'task-root-'));
  roots.push(dir);
  for (const [name, source] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), source);
  }
  return dir;
}

function localFunction(codeDir: string, overrides: Partial<FunctionDefinition> = {}, maxConcurrency?: number, providedSdkDir?: string): LocalFunction {
  const fn = new LocalFunction(
    {
      logicalId: 'Fn',
      stackName: 'S',
      functionName: 'S-Fn',
      arn: 'arn:aws:lambda:us-east-1:000000000000:function:S-Fn',
      codeDir,
      handler: 'index.handler',
      runtime: 'nodejs24.x',
      timeoutSeconds: 3,
      memorySize: 128,
      environment: {},
      ...overrides,
    },
    { environment: { GREETING: 'hi' }, maxConcurrency, providedSdkDir },
  );
  functions.push(fn);
  return fn;
}

afterEach(async () => {
  await Promise.all(functions.splice(0).map((fn) => fn.stop()));
  roots.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true }));
});

describe('LocalFunction', () => {
  it('runs an ESM handler from a nested path with the given environment', async () => {
    const fn = localFunction(taskRoot({ 'src/app.mjs': 'export const main = async (e) => ({ got: e, greeting: process.env.GREETING });' }), {
      handler: 'src/app.main',
    });
    expect(await fn.invoke({ a: 1 })).toMatchObject({ ok: true, timedOut: false, payload: { got: { a: 1 }, greeting: 'hi' } });
  });

  it('F8: keeps module load (the INIT phase) out of the Timeout: a 1.5 s init does not time out a 1 s function', async () => {
    // Prepare: top-level await stands in for a slow cold start (SDK clients, config) on a loaded machine.
    const fn = localFunction(
      taskRoot({ 'index.mjs': 'await new Promise((r) => setTimeout(r, 1500));\nexport const handler = async (e, ctx) => ({ left: ctx.getRemainingTimeInMillis() });' }),
      { timeoutSeconds: 1 },
    );
    // Act
    const result = await fn.invoke({});
    // Assess: the invocation got its whole second, as on AWS where INIT has its own 10 s budget.
    expect(result).toMatchObject({ ok: true, timedOut: false });
    expect((result.payload as { left: number }).left).toBeGreaterThan(500);
  });

  it('supports callback-style handlers and returns null for a handler that returns nothing', async () => {
    const fn = localFunction(taskRoot({ 'index.js': 'exports.handler = (e, ctx, cb) => { setTimeout(() => cb(null, { viaCallback: true }), 10); };' }));
    const silent = localFunction(taskRoot({ 'index.mjs': 'export const handler = async () => {};' }));
    expect(await fn.invoke({})).toMatchObject({ ok: true, payload: { viaCallback: true } });
    expect(await silent.invoke({})).toMatchObject({ ok: true, payload: null });
  });

  it('fails the invocation when the module throws at init, and retries the init cold next time', async () => {
    // Prepare: the module fails on its first load only (a marker file survives the discarded instance).
    const dir = taskRoot({});
    writeFileSync(
      join(dir, 'index.mjs'),
      `import { existsSync, writeFileSync } from 'node:fs';
       const marker = ${JSON.stringify(join(dir, 'loaded-once'))};
       if (!existsSync(marker)) { writeFileSync(marker, ''); throw new Error('Environment variable X is required'); }
       export const handler = async () => 'recovered';`,
    );
    const fn = localFunction(dir);
    // Act
    const first = await fn.invoke({});
    const second = await fn.invoke({});
    // Assess
    expect(first).toMatchObject({ ok: false, error: { errorType: 'Error', errorMessage: 'Environment variable X is required' } });
    expect(second).toMatchObject({ ok: true, payload: 'recovered' });
    expect(fn.stats.coldStarts).toBe(2);
  });

  it('fails with Runtime.HandlerNotFound and Runtime.ImportModuleError like the Lambda Node.js runtime', async () => {
    const missingExport = localFunction(taskRoot({ 'index.mjs': 'export const other = () => 1;' }));
    const missingFile = localFunction(taskRoot({}), { handler: 'nope.handler' });
    expect(await missingExport.invoke({})).toMatchObject({ ok: false, error: { errorType: 'Runtime.HandlerNotFound' } });
    expect(await missingFile.invoke({})).toMatchObject({ ok: false, error: { errorType: 'Runtime.ImportModuleError', errorMessage: "Error: Cannot find module 'nope'" } });
  });

  it('fails with Runtime.ExitError when the handler exits the process, and starts cold afterwards', async () => {
    const fn = localFunction(taskRoot({ 'index.mjs': 'let n = 0; export const handler = async (e) => { n++; if (e.exit) process.exit(7); return n; };' }));
    await fn.invoke({});
    const exited = await fn.invoke({ exit: true });
    const next = await fn.invoke({});
    expect(exited).toMatchObject({ ok: false, timedOut: false, error: { errorType: 'Runtime.ExitError' } });
    expect(exited.error?.errorMessage).toMatch(/exit status 7/);
    expect(next).toMatchObject({ ok: true, payload: 1 });
  });

  it('replaces an idle instance that crashed after returning (late unhandled rejection) with a cold one', async () => {
    // Prepare
    const fn = localFunction(
      taskRoot({ 'index.mjs': "export const handler = async (e) => { if (e.bomb) setTimeout(() => Promise.reject(new Error('late')), 20); return 'ok'; };" }),
      { timeoutSeconds: 2 },
    );
    await fn.invoke({ bomb: true });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Act
    const next = await fn.invoke({});
    // Assess
    expect(next).toMatchObject({ ok: true, timedOut: false, payload: 'ok' });
    expect(fn.stats.coldStarts).toBe(2);
  });

  it('fails with Runtime.UnhandledPromiseRejection when a rejection goes unhandled during the invocation', async () => {
    const fn = localFunction(
      taskRoot({ 'index.mjs': "export const handler = async () => { Promise.reject(new TypeError('nobody catches me')); await new Promise((r) => setTimeout(r, 200)); return 'late'; };" }),
    );
    const failed = await fn.invoke({});
    expect(failed).toMatchObject({ ok: false, timedOut: false, error: { errorType: 'Runtime.UnhandledPromiseRejection', errorMessage: 'TypeError: nobody catches me' } });
  });

  it('resolves an external @aws-sdk/* import from the provided SDK directory, as Lambda provides the SDK', async () => {
    // Prepare: a task root outside the project, so its own node_modules lookup finds no SDK.
    const source = "import { SQSClient } from '@aws-sdk/client-sqs'; export const handler = async () => typeof SQSClient;";
    const provided = localFunction(taskRoot({ 'index.mjs': source }), {}, undefined, process.cwd());
    const bare = localFunction(taskRoot({ 'index.mjs': source }));
    // Act
    const withSdk = await provided.invoke({});
    const withoutSdk = await bare.invoke({});
    // Assess
    expect(withSdk).toMatchObject({ ok: true, payload: 'function' });
    expect(withoutSdk).toMatchObject({ ok: false, error: { errorType: 'Runtime.ImportModuleError' } });
    expect(withoutSdk.error?.errorMessage).toMatch(/Cannot find package '@aws-sdk\/client-sqs'/);
  });

  it('runs at most maxConcurrency instances at once; more invocations wait for a free one (S11)', async () => {
    // Prepare
    const fn = localFunction(
      taskRoot({ 'index.mjs': 'let running = 0; export const handler = async () => { running++; const seen = running; await new Promise((r) => setTimeout(r, 100)); running--; return seen; };' }),
      {},
      2,
    );
    // Act
    const results = await Promise.all(Array.from({ length: 5 }, () => fn.invoke({})));
    // Assess: each instance runs one invocation at a time, and at most two instances exist.
    expect(results.every((r) => r.ok && r.payload === 1)).toBe(true);
    expect(fn.stats.coldStarts).toBe(2);
    expect(fn.stats.count).toBe(5);
  });
});
