import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { consumerNames, generateConsumer, type ConsumerSpec, type GeneratedConsumer } from '../../scripts/scaffold/index.js';

/** The project under test (this checkout). */
export const PROJECT_ROOT = resolve(import.meta.dirname, '../..');

/** The four variants issue 7 asks for, plus FIFO + external (Powertools' FIFO processor) so every template path runs. */
export const VARIANTS: readonly ConsumerSpec[] = [
  { name: 'fifo-ddb', queue: 'fifo', effect: 'dynamodb', outbox: false },
  { name: 'fifo-ddb-outbox', queue: 'fifo', effect: 'dynamodb', outbox: true },
  { name: 'std-external', queue: 'standard', effect: 'external', outbox: false },
  { name: 'fifo-external', queue: 'fifo', effect: 'external', outbox: false },
  { name: 'std-ddb', queue: 'standard', effect: 'dynamodb', outbox: false },
];

const SKIP = new Set(['node_modules', '.git', 'cdk.out', '.local', '.bench', '.chaos', 'coverage']);

/** A temporary copy of the project (without node_modules, which is symlinked), removed by `remove()`. */
export interface ProjectCopy {
  readonly root: string;
  remove(): void;
}

/**
 * Copies the project into a temporary folder and symlinks node_modules (fast: the repo without it is small). The
 * consumers this checkout registered with `npm run new` are unregistered in the copy (see
 * {@link unregisterCheckoutConsumers}).
 */
export function copyProject(): ProjectCopy {
  const root = mkdtempSync(join(tmpdir(), 'scaffold-'));
  cpSync(PROJECT_ROOT, root, {
    recursive: true,
    filter: (source) => !SKIP.has(basename(source)) || source === PROJECT_ROOT,
  });
  symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  unregisterCheckoutConsumers(root);
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * Removes from a copy's registries (lib/consumers/index.ts, lambdas/relay/event-schemas.ts) the lines `npm run new`
 * added for the consumers already registered; their files stay, unused. The scaffold tests count the queues,
 * functions, grants and outputs of the variants they generate: a user's own consumer must not change those counts,
 * so that scaffolding one keeps `npm test` green (issue 12).
 */
export function unregisterCheckoutConsumers(root: string): void {
  const registryFile = join(root, 'lib/consumers/index.ts');
  const schemasFile = join(root, 'lambdas/relay/event-schemas.ts');
  let registry = readFileSync(registryFile, 'utf8');
  let schemas = readFileSync(schemasFile, 'utf8');
  const drop = (text: string, line: string) => text.split('\n').filter((l) => l !== line).join('\n');
  for (const [, name] of registry.matchAll(/^ {2}\{ name: '([a-z0-9-]+)', add: add\w+Consumer \},$/gm)) {
    const { Pascal, CONST } = consumerNames(name!);
    registry = drop(drop(registry, `import { add${Pascal}Consumer } from './${name}.js';`), `  { name: '${name}', add: add${Pascal}Consumer },`);
    schemas = drop(drop(schemas, `import { ${CONST}_OUTBOX_EVENTS } from '../${name}/events.js';`), `  ${CONST}_OUTBOX_EVENTS,`);
  }
  writeFileSync(registryFile, registry);
  writeFileSync(schemasFile, schemas);
}

/** Generates every spec into `root`. */
export function generateAll(root: string, specs: readonly ConsumerSpec[]): GeneratedConsumer[] {
  return specs.map((spec) => generateConsumer({ root, spec }));
}

/**
 * Writes a tsconfig that checks only the generated files (and what they import), so a teammate's half-written
 * module elsewhere cannot fail this test; strictness comes from the project's tsconfig.json.
 */
export function writeScaffoldTsconfig(root: string, generated: readonly GeneratedConsumer[]): string {
  const file = join(root, 'tsconfig.scaffold.json');
  writeFileSync(
    file,
    JSON.stringify({ extends: './tsconfig.json', include: [...generated.flatMap((g) => g.files), 'lib/consumers', 'test/support'] }),
  );
  return file;
}

/**
 * A vitest config for the copy that reuses THIS run's emulators (endpoints passed through the environment) instead of
 * starting a second DynamoDB Local.
 */
export function writeOuterEmulatorsConfig(root: string): string {
  writeFileSync(
    join(root, 'test/support/outer-emulators.ts'),
    `import type { TestProject } from 'vitest/node';
export default function setup(project: TestProject) {
  project.provide('ddbEndpoint', process.env['SCAFFOLD_DDB_ENDPOINT']!);
  project.provide('sqsEndpoint', process.env['SCAFFOLD_SQS_ENDPOINT']!);
}
`,
  );
  const file = join(root, 'vitest.scaffold.config.ts');
  writeFileSync(
    file,
    `import { defineConfig } from 'vitest/config';
export default defineConfig({
  test: { globalSetup: ['test/support/outer-emulators.ts'], include: ['test/lambdas/**/*.test.ts'], testTimeout: 60_000, maxWorkers: 2 },
});
`,
  );
  return file;
}

/** Result of a child process. */
export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a binary of node_modules/.bin in `cwd` (async, so the test's own event loop keeps serving). */
export function runBin(cwd: string, bin: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 80_000): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(join(PROJECT_ROOT, 'node_modules/.bin', bin), args, {
      cwd,
      env: { ...process.env, ...env, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/**
 * Writes `scaffold-app.ts` into the copy: a CDK app (context from CDK_CONTEXT_JSON, like the CDK CLI passes it) that
 * synthesizes, by SCAFFOLD_MODE (or context `scaffoldMode`):
 * - `consumers` (default): a stack with the shared tables and every registered consumer;
 * - `payments`: the real payments stack plus `addConsumers` (unless the stack already calls it);
 * - `only:<name>`: one consumer and its tables (for a real bundling run).
 * cdk-nag's AwsSolutions checks run in `consumers` mode (the template under test), as bin/app.ts runs them.
 */
export function writeScaffoldApp(root: string): string {
  const file = join(root, 'scaffold-app.ts');
  writeFileSync(
    file,
    `import { fileURLToPath } from 'node:url';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { addConsumers, CONSUMERS } from './lib/consumers/index.js';
import { HandlerFunction } from './lib/constructs/handler-function.js';
import { OutboxRelay } from './lib/constructs/outbox-relay.js';
import { IdempotencyTable, LedgerTable } from './lib/constructs/tables.js';

const app = new App();
const mode = process.env['SCAFFOLD_MODE'] ?? (app.node.tryGetContext('scaffoldMode') as string | undefined) ?? 'consumers';
const webhookUrl = app.node.tryGetContext('webhookUrl') as string | undefined;
if (mode === 'payments') {
  const { parseConfig } = await import('./lib/config.js');
  const { PaymentsStack } = await import('./lib/payments-stack.js');
  const config = parseConfig((key) => app.node.tryGetContext(key));
  const stack = new PaymentsStack(app, \`ExactlyOncePayments-\${config.stage}\`, { config });
  if (!stack.node.tryFindChild('Consumers')) {
    addConsumers(stack, {
      ledgerTable: stack.ledgerTable,
      idempotencyTable: stack.idempotencyTable,
      webhookUrl: config.webhookUrl,
      maxReceiveCount: config.maxReceiveCount,
      functionDefaults: { timeout: Duration.seconds(config.consumerTimeoutSeconds) },
    });
  }
} else {
  const stack = new Stack(app, 'ConsumersTest');
  const ledgerTable = new LedgerTable(stack, 'Ledger');
  // The one relay every --outbox consumer routes its events through (dropped again when no consumer added a route).
  const relayFn = new HandlerFunction(stack, 'Relay', { entry: fileURLToPath(new URL('./lambdas/relay/handler.ts', import.meta.url)) });
  const outboxRelay = new OutboxRelay(stack, 'OutboxRelay', { table: ledgerTable.table, handler: relayFn.function });
  const deps = { ledgerTable, idempotencyTable: new IdempotencyTable(stack, 'Idempotency'), webhookUrl, outboxRelay };
  if (mode.startsWith('only:')) {
    const consumer = CONSUMERS.find((c) => c.name === mode.slice(5));
    if (!consumer) throw new Error(\`no consumer \${mode.slice(5)}\`);
    consumer.add(stack, deps);
  } else {
    addConsumers(stack, deps);
  }
  if (outboxRelay.routes.length === 0) {
    stack.node.tryRemoveChild('OutboxRelay');
    stack.node.tryRemoveChild('Relay');
  }
}
// Nag runs where the template is under test; the runtime and bundling runs skip it for time (the checks are the same).
if (mode === 'consumers' || process.env['SCAFFOLD_NAG'] === '1') Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
`,
  );
  return file;
}

/** Synthesizes `scaffold-app.ts` in the copy into `outdir` (a child process with the copy as its working directory). */
export async function synthCopy(
  root: string,
  options: { mode?: string; context?: Record<string, unknown>; outdir: string },
): Promise<RunResult> {
  return runBin(root, 'tsx', ['scaffold-app.ts'], {
    SCAFFOLD_MODE: options.mode ?? 'consumers',
    CDK_OUTDIR: options.outdir,
    CDK_CONTEXT_JSON: JSON.stringify(options.context ?? {}),
  });
}
