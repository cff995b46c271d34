import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { ENV } from '../../lambdas/shared/env.js';

/**
 * Bundle size and init time of each handler, the way the stack bundles it, against esbuild variants and against a
 * bare handler that only creates the same SDK clients (the floor any handler with those clients pays).
 */

/** One esbuild configuration compared by the benchmark. */
export interface BundleVariant {
  readonly name: string;
  readonly description: string;
  readonly options: BuildOptions;
}

const REQUIRE_SHIM = "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";

/**
 * The stack's options (lib/constructs/handler-function.ts `BUNDLING_DEFAULTS`: ESM, node24, minify, module-first main
 * fields, SDK bundled, require shim) translated to esbuild; source maps off here because they do not change the code
 * Lambda loads (the stack does not set --enable-source-maps).
 */
const STACK: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  minify: true,
  mainFields: ['module', 'main'],
  external: [],
  treeShaking: true,
  banner: { js: REQUIRE_SHIM },
  logLevel: 'silent',
};

/** The variants: the stack's choice first, then one change each. */
export const VARIANTS: readonly BundleVariant[] = [
  { name: 'stack', description: 'stack defaults: SDK bundled, minify, mainFields module-first, tree shaking', options: STACK },
  {
    name: 'sdk-external',
    description: "@aws-sdk/* external (NodejsFunction's default: the runtime's SDK)",
    options: { ...STACK, external: ['@aws-sdk/*'] },
  },
  { name: 'main-first', description: "esbuild's default main fields for node (main, module)", options: { ...STACK, mainFields: ['main', 'module'] } },
  { name: 'no-minify', description: 'not minified', options: { ...STACK, minify: false } },
  { name: 'no-tree-shaking', description: 'tree shaking off', options: { ...STACK, treeShaking: false } },
];

/** SDK client packages a handler may pull in, and how a bare handler creates the same client. */
const SDK_CLIENTS = [
  { pkg: '@aws-sdk/client-dynamodb', importLine: "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';", create: 'new DynamoDBClient({})' },
  { pkg: '@aws-sdk/client-sqs', importLine: "import { SQSClient } from '@aws-sdk/client-sqs';", create: 'new SQSClient({})' },
  {
    pkg: '@aws-sdk/lib-dynamodb',
    importLine: "import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';\nimport { DynamoDBClient as DocBase } from '@aws-sdk/client-dynamodb';",
    create: 'DynamoDBDocumentClient.from(new DocBase({}))',
  },
  {
    pkg: '@aws-sdk/client-dynamodb-streams',
    importLine: "import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';",
    create: 'new DynamoDBStreamsClient({})',
  },
] as const;

/** A built bundle. */
export interface BuiltBundle {
  readonly name: string;
  readonly variant: string;
  readonly path: string;
  readonly bytes: number;
  /** SDK client packages found in the bundle's inputs (or imports, when external). */
  readonly sdkClients: string[];
}

/** Handlers present in the checkout (`lambdas/<name>/handler.ts`). */
export function listHandlers(root: string): string[] {
  const dir = join(root, 'lambdas');
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'handler.ts')))
    .map((d) => d.name)
    .sort();
}

/** Bundles `entry` with `variant` into `outDir/<variant>/<name>/index.mjs`. */
export async function bundle(root: string, name: string, entry: string, variant: BundleVariant, outDir: string): Promise<BuiltBundle> {
  const dir = join(outDir, variant.name, name);
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, 'index.mjs');
  const result = await build({ ...variant.options, absWorkingDir: root, entryPoints: [entry], outfile, metafile: true, write: true });
  const output = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith('index.mjs'));
  if (output === undefined) throw new Error(`esbuild produced no index.mjs for ${name}`);
  return { name, variant: variant.name, path: outfile, bytes: output[1].bytes, sdkClients: sdkClientsOf(result.metafile) };
}

function sdkClientsOf(metafile: Metafile): string[] {
  const found = new Set<string>();
  const seen = [
    ...Object.keys(metafile.inputs),
    ...Object.values(metafile.outputs).flatMap((o) => o.imports.map((i) => i.path)),
  ];
  for (const client of SDK_CLIENTS) {
    if (seen.some((p) => p.includes(`${client.pkg}/`) || p === client.pkg)) found.add(client.pkg);
  }
  return [...found].sort();
}

/** Writes the bare handler for a set of SDK clients and returns its entry path. */
export function writeBareHandler(outDir: string, sdkClients: readonly string[]): string {
  const chosen = SDK_CLIENTS.filter((c) => sdkClients.includes(c.pkg));
  const dir = join(outDir, 'bare-src');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `bare-${chosen.map((c) => c.pkg.replace('@aws-sdk/', '')).join('+') || 'none'}.ts`);
  const source = [
    '// Generated by scripts/bench: a handler that only creates the SDK clients (the init-time floor).',
    ...chosen.map((c) => c.importLine),
    `const clients = [${chosen.map((c) => c.create).join(', ')}];`,
    'export const handler = async () => ({ clients: clients.length });',
    '',
  ].join('\n');
  writeFileSync(file, source);
  return file;
}

/** Environment a handler needs at cold start (dummy values; no call is made during init). */
export function coldStartEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    [ENV.LEDGER_TABLE_NAME]: 'bench-ledger',
    [ENV.IDEMPOTENCY_TABLE_NAME]: 'bench-idempotency',
    [ENV.PAYMENTS_QUEUE_URL]: 'http://127.0.0.1:9/000000000000/payments.fifo',
    [ENV.EVENTS_QUEUE_URL]: 'http://127.0.0.1:9/000000000000/events',
    [ENV.WEBHOOK_URL]: 'http://127.0.0.1:9/webhook',
    [ENV.WEBHOOK_TIMEOUT_MS]: '5000',
    [ENV.DEDUP_TTL_SECONDS]: '1209600',
    [ENV.IDEMPOTENCY_TTL_SECONDS]: '3600',
    [ENV.LEDGER_STRATEGY]: 'atomic',
    POWERTOOLS_SERVICE_NAME: 'bench',
    POWERTOOLS_METRICS_NAMESPACE: 'Bench',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  };
}

/** One cold start's figures. */
export interface ColdStart {
  /** Wall-clock import time. */
  readonly initMs: number;
  /** CPU time (user + system) spent in the import: robust to other load on the machine. */
  readonly initCpuMs: number;
  readonly rssBytes: number;
}

/** One cold start: a fresh Node process imports the bundle; returns the import time and the process RSS after it. */
export async function measureColdStart(bundlePath: string): Promise<ColdStart> {
  const script =
    'const c0 = process.cpuUsage(); const t0 = performance.now(); const m = await import(process.argv[1]);' +
    'const t1 = performance.now(); const c = process.cpuUsage(c0);' +
    "if (typeof m.handler !== 'function') throw new Error('no handler export');" +
    'process.stdout.write(JSON.stringify({ initMs: t1 - t0, initCpuMs: (c.user + c.system) / 1000, rssBytes: process.memoryUsage().rss }));';
  return new Promise<ColdStart>((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, pathToFileURL(resolve(bundlePath)).href], {
      env: coldStartEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`cold start of ${bundlePath} failed (exit ${code}): ${err.slice(-600)}`));
      else resolvePromise(JSON.parse(out) as ColdStart);
    });
  });
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Bytes a package contributes to a bundle's output (first-party code grouped as `lambdas/*`). */
export interface PackageShare {
  readonly pkg: string;
  readonly bytes: number;
}

/**
 * What a handler's stack bundle is made of, by package, largest first: where init time goes beyond the SDK.
 */
export async function bundleComposition(root: string, name: string): Promise<PackageShare[]> {
  const result = await build({
    ...VARIANTS[0]!.options,
    absWorkingDir: root,
    entryPoints: [join('lambdas', name, 'handler.ts')],
    outfile: join(root, '.bench', 'composition', name, 'index.mjs'),
    metafile: true,
    write: false,
  });
  const totals = new Map<string, number>();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
      const pkg = match ? match[1]! : path.startsWith('lambdas/') ? 'lambdas/* (first-party)' : 'other';
      totals.set(pkg, (totals.get(pkg) ?? 0) + input.bytesInOutput);
    }
  }
  return [...totals.entries()].map(([pkg, bytes]) => ({ pkg, bytes })).sort((a, b) => b.bytes - a.bytes);
}
