import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';

/**
 * What a handler can send to AWS, derived from its code (not from a hand-kept list): the handler entry is bundled
 * with the local esbuild exactly as the stack bundles it (ESM, module-first resolution, tree-shaken, no Docker). The
 * bundle's binding of every SDK command class, paginator and aggregated client that survived tree-shaking is read
 * from the SDK's own modules (`var QueryCommand2 = class …` in lib-dynamodb's `commands/QueryCommand.js`), and every
 * other module that survived is searched for `new <binding>(` and `paginate…(`: a call is attributed to the module
 * that makes it, the two `QueryCommand`s of lib-dynamodb and client-dynamodb are told apart, and a DocumentClient
 * command is mapped to the low-level operation it sends by reading lib-dynamodb's own source. Third-party packages
 * (Powertools idempotency's persistence layer) are searched like first-party code: their calls come from their source
 * in node_modules. An aggregated client (`new DynamoDB().putItem(…)`) calls by method name: the derivation throws.
 *
 * The SDK's own internal commands (STS/SSO credential providers, DynamoDB endpoint discovery) are not searched:
 * the search stops at `@aws-sdk/*` and `@smithy/*`, which is where a handler's calls enter the SDK.
 */

/** One SDK command a module sends. */
export interface SdkCall {
  /** IAM service prefix of the client: `dynamodb`, `dynamodb-streams`, `sqs`, `secretsmanager`, `kms`, … */
  readonly service: string;
  /** The API operation sent on the wire (`BatchGetItem`, `SendMessageBatch`; a DocumentClient `PutCommand` → `PutItem`). */
  readonly operation: string;
  /** The command class as imported (`PutCommand`, `GetItemCommand`). */
  readonly command: string;
  /** The package it was imported from. */
  readonly from: string;
  /** The module (bundle input path, relative to the working directory) that constructs it. */
  readonly module: string;
}

/** The kinds of item a TransactWriteItems request can carry. */
export const TRANSACT_WRITE_KINDS = ['Put', 'Update', 'Delete', 'ConditionCheck'] as const;
/** One TransactWriteItems item kind. */
export type TransactWriteKind = (typeof TRANSACT_WRITE_KINDS)[number];

/** What one handler can call. */
export interface HandlerCalls {
  readonly entry: string;
  readonly calls: readonly SdkCall[];
  /**
   * Item kinds written in object literals (`{ Put: {…} }`) of the modules that survive tree-shaking: what a
   * TransactWriteItems of this handler can carry. Empty when no module builds transaction items.
   */
  readonly transactWriteKinds: ReadonlySet<TransactWriteKind>;
  /** Every bundled module (for messages). */
  readonly modules: readonly string[];
}

/** Options of {@link deriveHandlerCalls}. */
export interface DeriveOptions {
  /**
   * Decides, for each dynamic `import()` (path as written, importer path), whether it is part of this deployment.
   * Return false to leave it out (the ledger handler loads one strategy module chosen by an environment variable).
   * @default - every dynamic import is kept
   */
  readonly keepDynamicImport?: (specifier: string, importer: string) => boolean;
}

const SDK_BOUNDARY = /(^|\/)node_modules\/(@aws-sdk|@smithy|@aws-crypto)\//;

/** Client packages whose name is not their IAM service prefix (`client-secrets-manager` → `secretsmanager:`). */
const IAM_PREFIX_OF_CLIENT: Readonly<Record<string, string>> = {
  'secrets-manager': 'secretsmanager',
  'cloudwatch-logs': 'logs',
  'eventbridge': 'events',
  'sfn': 'states',
};

/** `@aws-sdk/client-<name>` → the IAM service prefix of its operations. */
function serviceOf(pkg: string): string | undefined {
  const match = /^@aws-sdk\/client-(.+)$/.exec(pkg);
  if (!match) return pkg === '@aws-sdk/lib-dynamodb' ? 'dynamodb' : undefined;
  return IAM_PREFIX_OF_CLIENT[match[1]] ?? match[1];
}

/**
 * Aggregated clients (`new DynamoDB().putItem(…)`, `DynamoDBDocument.from(…).put(…)`) call operations by method name:
 * nothing here can list those calls, so a handler that uses one fails the derivation instead of passing unchecked.
 */
const AGGREGATED_CLIENTS = /^(DynamoDB|DynamoDBDocument|DynamoDBStreams|SQS|SNS|KMS|SecretsManager|S3|EventBridge|Lambda|STS)$/;

const libDynamoDbOperations = new Map<string, string>();

/** The low-level operation a lib-dynamodb command sends, read from lib-dynamodb's own source. */
function libDynamoDbOperation(command: string, resolveDir: string): string {
  const cached = libDynamoDbOperations.get(command);
  if (cached) return cached;
  let dir = resolveDir;
  let file: string | undefined;
  while (!file) {
    const candidate = path.join(dir, 'node_modules', '@aws-sdk', 'lib-dynamodb', 'dist-es', 'commands', `${command}.js`);
    if (existsSync(candidate)) file = candidate;
    else if (path.dirname(dir) === dir) throw new Error(`lib-dynamodb has no ${command}: cannot tell what it sends`);
    else dir = path.dirname(dir);
  }
  const match = /import\s*\{\s*(\w+)Command\s+as\s+__\w+\s*\}\s*from\s*["']@aws-sdk\/client-dynamodb["']/.exec(readFileSync(file, 'utf8'));
  if (!match) throw new Error(`${file} imports no client-dynamodb command: cannot tell what ${command} sends`);
  libDynamoDbOperations.set(command, match[1]);
  return match[1];
}

/**
 * Bundles `entry` and lists the SDK commands its tree-shaken code constructs.
 * @param entry absolute path of the handler's TypeScript entry
 */
export async function deriveHandlerCalls(entry: string, options: DeriveOptions = {}): Promise<HandlerCalls> {
  const cwd = process.cwd();
  const keep = options.keepDynamicImport;
  const result = await esbuild.build({
    entryPoints: [entry],
    absWorkingDir: cwd,
    bundle: true,
    write: false,
    metafile: true,
    // Not minified: esbuild then heads each module's code with a `// <path>` comment, which attributes each
    // `new XxxCommand(` to the module that constructs it.
    minify: false,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    mainFields: ['module', 'main'],
    outdir: path.join(cwd, '.derive-handler-calls'),
    logLevel: 'silent',
    plugins: keep
      ? [
          {
            name: 'select-dynamic-imports',
            setup(build) {
              build.onResolve({ filter: /.*/ }, (args) =>
                args.kind === 'dynamic-import' && !keep(args.path, args.importer)
                  ? { path: args.path, namespace: 'left-out' }
                  : undefined,
              );
              build.onLoad({ filter: /.*/, namespace: 'left-out' }, () => ({ contents: 'export {};', loader: 'js' }));
            },
          },
        ]
      : [],
  });
  const output = result.outputFiles.find((f) => f.path.endsWith('.js'));
  if (!output) throw new Error(`esbuild produced no JavaScript for ${entry}`);
  const inputs = new Set(Object.keys(result.metafile.inputs));
  // Split the bundle at the module headers esbuild writes (`// lambdas/ledger/ledger.ts`).
  const parts = output.text.split(/^\/\/ (\S+)$/m);
  const calls: SdkCall[] = [];
  const kinds = new Set<TransactWriteKind>();
  const chunks: { module: string; code: string }[] = [];
  for (let i = 1; i < parts.length; i += 2) {
    // `left-out:` modules are the dynamic imports this deployment does not load.
    if (inputs.has(parts[i]) && !parts[i].startsWith('left-out:')) chunks.push({ module: parts[i], code: parts[i + 1] });
  }
  // The bundle's binding of every SDK command class, paginator and aggregated client that survived tree-shaking, read
  // from the SDK's own modules: `var QueryCommand2 = class extends …` in lib-dynamodb's commands/QueryCommand.js (no
  // `var` when esbuild wraps a lazily loaded module: `QueryCommand2 = class …` inside its `__esm` initialiser).
  const bindings = new Map<string, { pkg: string; command: string; kind: 'command' | 'paginator' | 'aggregated' }>();
  for (const { module, code } of chunks) {
    const sdk = /node_modules\/(@aws-sdk\/[^/]+)\/dist-es\/(?:(commands)\/(\w+Command)|(pagination)\/(\w+)Paginator|(\w+))\.js$/.exec(module);
    if (!sdk) continue;
    const [, pkg, commands, command, pagination, paginated, top] = sdk;
    if (commands) {
      const binding = /\b([\w$]+)\s*=\s*class\b|\bclass\s+([\w$]+)\s+extends\b/.exec(code);
      if (binding) bindings.set(binding[1] ?? binding[2], { pkg, command, kind: 'command' });
    } else if (pagination) {
      const binding = /\b(paginate[\w$]*)\s*=/.exec(code);
      if (binding) bindings.set(binding[1], { pkg, command: `${paginated}Command`, kind: 'paginator' });
    } else if (top && AGGREGATED_CLIENTS.test(top)) {
      const binding = /\b([\w$]+)\s*=\s*class\b|\bclass\s+([\w$]+)\s+extends\b/.exec(code);
      if (binding) bindings.set(binding[1] ?? binding[2], { pkg, command: top, kind: 'aggregated' });
    }
  }
  for (const { module, code } of chunks) {
    if (SDK_BOUNDARY.test(`/${module}`)) continue;
    const used = new Set<string>();
    for (const [, name] of code.matchAll(/\bnew\s+([\w$]+)\s*\(/g)) used.add(name);
    for (const [, name] of code.matchAll(/(?<![.\w$])([\w$]+)(?:\.from)?\s*\(/g)) if (bindings.get(name)?.kind !== 'command') used.add(name);
    for (const name of used) {
      const binding = bindings.get(name);
      if (!binding) continue;
      const { pkg, command, kind } = binding;
      if (kind === 'aggregated') {
        throw new Error(
          `${module} uses the aggregated client ${command} from ${pkg}: its calls are method names the least-privilege ` +
            'check cannot list; use the bare client and send commands (new XxxCommand(...))',
        );
      }
      const service = serviceOf(pkg);
      if (!service) throw new Error(`${module} sends ${command} from ${pkg}: unknown SDK package`);
      const operation =
        pkg === '@aws-sdk/lib-dynamodb' ? libDynamoDbOperation(command, path.dirname(path.resolve(cwd, module))) : command.replace(/Command$/, '');
      calls.push({ service, operation, command: kind === 'paginator' ? `paginate${operation}` : command, from: pkg, module });
    }
    for (const [, kind] of code.matchAll(/\b(Put|Update|Delete|ConditionCheck)\s*:\s*\{/g)) kinds.add(kind as TransactWriteKind);
  }
  const sendsTransaction = calls.some((c) => c.service === 'dynamodb' && c.operation === 'TransactWriteItems');
  return {
    entry,
    calls,
    transactWriteKinds: sendsTransaction ? kinds : new Set(),
    modules: [...inputs].filter((m) => !m.startsWith('left-out:')),
  };
}
