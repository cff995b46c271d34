import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCloudAssembly, type AssemblyStack } from './assembly/cloud-assembly.js';
import { synthesize } from './assembly/synthesize.js';
import type { RestApiDefinition } from './api/rest-api-definitions.js';
import { readRestApis } from './api/rest-api-definitions.js';
import { startRestApiServer, type RestApiServer } from './api/rest-api-server.js';
import { DEFAULT_OUT_DIR, DEFAULT_PORTS, LOCAL_ACCOUNT_ID, LOCAL_PARTITION, LOCAL_URL_SUFFIX } from './constants.js';
import { freePort, LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators, type Emulators } from './emulators.js';
import { LocalRuntimeError } from './errors.js';
import { startEventSourceMappings, validateMappings, type EventSourceMappings, type MappingStats, type ResolvedMapping } from './esm/index.js';
import { validateMappingPermissions } from './esm/validate-mappings.js';
import { writeAwsWrapper } from './aws-wrapper.js';
import { startLocalGateway, type LocalGateway } from './gateway/local-gateway.js';
import { createSecretsManagerHandler, SECRETS_FILE, SecretStore } from './secrets/index.js';
import type { GatewayCall } from './gateway/types.js';
import { PrincipalRegistry, type LocalPrincipal } from './iam/principals.js';
import { TemplatePolicies } from './iam/template-policies.js';
import type { PolicyDocument } from './iam/types.js';
import { buildUsageReport, writeUsageReport, type UsageReport } from './iam/usage-report.js';
import { readFunctions, type FunctionDefinition, type SkippedFunction } from './lambda/function-definitions.js';
import { LocalFunction, type FunctionStats } from './lambda/local-function.js';
import type { InvokeResult } from './lambda/types.js';
import { writeOutputFiles, type StackOutputs } from './output-files.js';
import { readEventSourceMappings } from './resources/event-source-mappings.js';
import { createQueues, type LocalQueue } from './resources/queues.js';
import { createTables, type LocalTable } from './resources/tables.js';
import { readSchedules, startSchedules, type LocalSchedules, type ScheduleDefinition } from './schedules/index.js';
import { TemplateResolver } from './template/resolver.js';
import { FlightRecorder, startRecording } from './recorder/index.js';

/** Root of this project (holds the node_modules the runtime itself runs from). */
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Options of {@link startLocalRuntime}. */
export interface LocalRuntimeOptions {
  /** App command, as `cdk --app`. @default - the `app` of cdk.json */
  readonly app?: string;
  /** An existing cloud assembly directory; skips synthesis. @default - synthesize the app */
  readonly assembly?: string;
  /** CDK context, as `-c key=value`. @default {} */
  readonly context?: Readonly<Record<string, string>>;
  /**
   * Ports; 0 picks a free one. `edge` is the one endpoint every SDK client uses (all services; `sqs` is its former
   * name and still accepted); `dynamodb` is DynamoDB Local's own port behind the gateway, fauxqs always gets a free one.
   * @default { api: 3000, edge: 4566, dynamodb: 0 }
   */
  readonly ports?: { readonly api?: number; readonly edge?: number; readonly dynamodb?: number; readonly sqs?: number };
  /**
   * Enforce IAM: verify SigV4 signatures and authorize every call with the template's policies. @default true
   */
  readonly iam?: boolean;
  /** The policy of the local caller (tests, `.local/env`, the AWS CLI). @default - {@link ADMIN_POLICY}: everything */
  readonly callerPolicy?: PolicyDocument;
  /** No invocation lines and no function output. @default false */
  readonly quiet?: boolean;
  /** Extra environment for every function (for example the fault plan); wins over the template's. @default {} */
  readonly functionEnv?: Readonly<Record<string, string>>;
  /** Where outputs.json, env and the synthesized assembly go. @default '.local' */
  readonly outDir?: string;
  /** Project directory (cdk.json, relative paths). @default process.cwd() */
  readonly projectDir?: string;
  /** Synthesize even when the app, context and sources are unchanged since the last run. @default false */
  readonly fresh?: boolean;
  /** Receives progress lines while starting. @default - silent */
  readonly onProgress?: (line: string) => void;
  /** Receives invocation lines and function output unless quiet. @default console.log */
  readonly log?: (line: string) => void;
  /** Events the flight recorder keeps (a ring; local/recorder); 0 turns recording and the inspector off. @default 100000 */
  readonly recordLimit?: number;
  /** Port of the inspector page (local/inspector); 0 picks a free one. @default 0 */
  readonly inspectorPort?: number;
  /**
   * Run the template's schedules (EventBridge rules, Scheduler schedules) on their timers; false: only
   * `schedules.trigger(id)` fires them. @default true
   */
  readonly scheduleTimers?: boolean;
}

/** What runs where, for the ready table. */
export interface RuntimeDescription {
  readonly stacks: readonly string[];
  readonly functions: readonly { logicalId: string; functionName: string; timeoutSeconds: number; memorySize: number }[];
  readonly skippedFunctions: readonly SkippedFunction[];
  readonly queues: readonly LocalQueue[];
  readonly tables: readonly LocalTable[];
  readonly apis: readonly { logicalId: string; url: string; routes: readonly string[] }[];
  readonly mappings: readonly ResolvedMapping[];
  readonly notes: readonly string[];
}

/** A running local stack (see {@link startLocalRuntime}). */
export interface LocalRuntime {
  /** Stack name → output key → value, as `cdk deploy --outputs-file` writes it (ApiUrl points at the local API). */
  readonly outputs: StackOutputs;
  /**
   * Base URLs: `api` (origin of the first REST API, '' when none), `edge` (the gateway: every AWS service), and
   * `dynamodb` / `sqs` (the same gateway origin, kept for clients configured per service).
   */
  readonly endpoints: { readonly api: string; readonly edge: string; readonly dynamodb: string; readonly sqs: string };
  /** Whether IAM is enforced (`iam` option, `--no-iam`). */
  readonly iam: { readonly enforced: boolean; readonly callerPolicy: PolicyDocument; readonly notes: readonly string[] };
  /** AWS_ENDPOINT_URL_* / AWS_REGION / dummy credentials an SDK or the CLI needs (also written to `<outDir>/env`). */
  readonly env: Readonly<Record<string, string>>;
  /** Functions by logical id (each is a FunctionInvoker). */
  /** The template's Secrets Manager secrets (served on the edge endpoint; generated values kept in `<outDir>/secrets.json`). */
  readonly secrets: SecretStore;
  readonly functions: ReadonlyMap<string, LocalFunction>;
  /** Queues and tables by logical id. */
  readonly queues: ReadonlyMap<string, LocalQueue>;
  readonly tables: ReadonlyMap<string, LocalTable>;
  /** Milliseconds from the call to ready. */
  readonly readyMs: number;
  /** Paths of the files written. */
  readonly files: { readonly outputs: string; readonly env: string; readonly assembly: string };
  /** The flight recorder (undefined when `recordLimit` is 0) and the inspector page's URL ('' without it). */
  readonly recorder?: FlightRecorder;
  readonly inspectorUrl: string;
  /** What runs where. */
  describe(): RuntimeDescription;
  /**
   * Resolves when no queue with a mapping has visible, delayed or in-flight messages, every stream is read to its
   * end and no invocation runs (checked ten times in a row, 100 ms apart: quiet for a second).
   * @throws LocalRuntimeError naming what is still busy after `timeoutMs` (default 60000).
   */
  waitForIdle(options?: { timeoutMs?: number }): Promise<void>;
  /** Invocations per function, by logical id. */
  stats(): Record<string, FunctionStats>;
  /** Counters per event source mapping. */
  mappingStats(): MappingStats[];
  /** Subscribes to every call through the gateway (principal, service, operation, actions, decision, status, duration). */
  onCall(listener: (call: GatewayCall) => void): () => void;
  /** Which actions each function role used on which resources, compared with what the template grants. */
  iamUsage(): UsageReport;
  /** The credentials of a function (its own access key, mapped to its execution role), by logical id. */
  functionCredentials(logicalId: string): { accessKeyId: string; secretAccessKey: string; roleArn: string } | undefined;
  /** Stops mappings, API servers, function instances, the gateway and emulators, then writes `<outDir>/iam-usage.json`; idempotent. */
  /** The template's schedules: `list()`, and `trigger(logicalId)` to fire one now (tests). */
  readonly schedules: LocalSchedules;
  /** Stops mappings, API servers, function instances and emulators; idempotent. */
  stop(): Promise<void>;
}

/**
 * Runs a CDK app on this machine without Docker or AWS: synthesizes it (or reads `assembly`), starts DynamoDB Local
 * and fauxqs, creates the template's tables and queues, runs its Lambda functions from their bundled assets in
 * worker threads, its SQS and DynamoDB Streams event source mappings and its REST APIs, and writes
 * `<outDir>/outputs.json` and `<outDir>/env`.
 *
 * @throws AssemblyError, TemplateResolutionError, ProvisioningError or MappingValidationError naming the problem;
 *   everything started so far is stopped first.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const started = performance.now();
  const projectDir = resolve(options.projectDir ?? process.cwd());
  const outDir = resolve(projectDir, options.outDir ?? DEFAULT_OUT_DIR);
  const progress = options.onProgress ?? (() => {});
  const log = options.log ?? ((line: string) => console.log(line));
  const elapsed = () => `${Math.round(performance.now() - started)} ms`;
  const cleanup: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  };

  try {
    // Synthesis and the JVM start are the slow parts: run them side by side.
    const assemblyPromise = (async () => {
      if (options.assembly) return resolve(projectDir, options.assembly);
      progress('synthesizing the app unless unchanged since the last run (esbuild bundles the functions)…');
      const synthesis = await synthesize({
        projectDir,
        app: options.app,
        context: options.context,
        outDir: join(outDir, 'cdk.out'),
        region: LOCAL_REGION,
        reuse: !options.fresh,
      });
      progress(synthesis.reused ? `app and sources unchanged: reusing ${relative(projectDir, synthesis.directory)} (--fresh to resynthesize)` : `synthesized in ${elapsed()}`);
      return synthesis.directory;
    })();
    const ports = options.ports ?? {};
    const enforce = options.iam ?? true;
    const emulatorsPromise = (async () => {
      const emulators = await startEmulators({
        dynamodbPort: ports.dynamodb ?? DEFAULT_PORTS.dynamodb,
        // Behind the gateway: clients reach SQS on the edge port.
        sqsPort: await freePort(),
        sharedDb: true,
        fastJvmStartup: true,
        // A busy 2-core machine can take well over 30 s to start the JVM; failing early helps nobody.
        startTimeoutMs: 120_000,
      }).catch((error: NodeJS.ErrnoException) => {
        throw error.code === 'EADDRINUSE'
          ? new LocalRuntimeError(`port ${ports.dynamodb} for DynamoDB Local is taken: stop what uses it or pass --dynamodb-port <n> (0 = any free port)`, { cause: error })
          : error;
      });
      cleanup.push(() => emulators.stop());
      progress(`emulators up (DynamoDB Local ${emulators.dynamodbEndpoint}, fauxqs ${emulators.sqsEndpoint}) at ${elapsed()}`);
      return emulators;
    })();
    const [assemblyResult, emulatorsResult] = await Promise.allSettled([assemblyPromise, emulatorsPromise]);
    if (emulatorsResult.status === 'rejected') throw emulatorsResult.reason;
    if (assemblyResult.status === 'rejected') throw assemblyResult.reason;
    const assemblyDir = assemblyResult.value;
    const emulators: Emulators = emulatorsResult.value;

    // The edge endpoint: every SDK call (functions, pollers, outside callers) goes through it and is authorized.
    const principals = new PrincipalRegistry({ accountId: LOCAL_ACCOUNT_ID, partition: LOCAL_PARTITION, callerCredentials: LOCAL_CREDENTIALS, callerPolicy: options.callerPolicy });
    const policies = new TemplatePolicies();
    const edgePort = ports.edge ?? ports.sqs ?? DEFAULT_PORTS.edge;
    const secretStore = new SecretStore({ file: join(outDir, SECRETS_FILE) });
    const edge: LocalGateway = await startLocalGateway({
      port: edgePort,
      secrets: { store: secretStore, handler: createSecretsManagerHandler(secretStore) },
      enforce,
      principals,
      policies,
      dynamodbEndpoint: emulators.dynamodbEndpoint,
      sqsEndpoint: emulators.sqsEndpoint,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
      partition: LOCAL_PARTITION,
    }).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'EADDRINUSE'
        ? new LocalRuntimeError(`edge port ${edgePort} is taken: stop what uses it (LocalStack?) or pass --port <n> (0 = any free port)`, { cause: error })
        : error;
    });
    cleanup.push(() => edge.close());
    progress(`gateway on ${edge.url} (IAM ${enforce ? 'enforced' : 'off'}) at ${elapsed()}`);
    const stacks = readCloudAssembly(assemblyDir);

    // Provisioning (CloudFormation's part) talks to the emulators directly.
    const clientConfig = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    const sqs = new SQSClient({ ...clientConfig, endpoint: emulators.sqsEndpoint });
    const dynamodb = new DynamoDBClient({ ...clientConfig, endpoint: emulators.dynamodbEndpoint });
    const clients: { destroy(): void }[] = [sqs, dynamodb];
    cleanup.push(async () => clients.forEach((client) => client.destroy()));

    const env: Record<string, string> = {
      AWS_ENDPOINT_URL: edge.url,
      AWS_ENDPOINT_URL_SQS: edge.url,
      AWS_ENDPOINT_URL_DYNAMODB: edge.url,
      AWS_ENDPOINT_URL_DYNAMODB_STREAMS: edge.url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: edge.url,
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    };

    // execute-api URLs in outputs and environments are rewritten to the local servers.
    const localApis = new Map<string, string>();
    const localize = (value: string) =>
      value.replace(/https:\/\/([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/g, (match, apiId: string) => localApis.get(apiId) ?? match);

    const functions = new Map<string, LocalFunction>();
    const byArn = new Map<string, LocalFunction>();
    const queues = new Map<string, LocalQueue>();
    const tables = new Map<string, LocalTable>();
    const mappings: ResolvedMapping[] = [];
    const apiServers: { definition: RestApiDefinition; server: RestApiServer }[] = [];
    const skippedFunctions: SkippedFunction[] = [];
    const notes: string[] = [];
    const outputs: StackOutputs = {};
    const exportsByName = new Map<string, unknown>();
    const definitions: FunctionDefinition[] = [];
    const recorder = options.recordLimit === 0 ? undefined : new FlightRecorder({ limit: options.recordLimit, functionOfPrincipal: (arn) => {
      const name = principals.functions().find((p) => p.principal.arn === arn)?.functionName;
      return definitions.find((d) => d.functionName === name)?.logicalId ?? name;
    } });
    const scheduleDefinitions: ScheduleDefinition[] = [];

    for (const stack of stacks) {
      const resolver = new TemplateResolver(stack.template, {
        stackName: stack.stackName,
        region: LOCAL_REGION,
        accountId: LOCAL_ACCOUNT_ID,
        partition: LOCAL_PARTITION,
        urlSuffix: LOCAL_URL_SUFFIX,
        // Queue URLs point at the edge endpoint, so functions and outside callers use one origin.
        sqsEndpoint: edge.url,
        exports: exportsByName,
        localize,
      });
      const [stackQueues, stackTables] = await Promise.all([createQueues(resolver, sqs), createTables(resolver, dynamodb)]);
      stackQueues.forEach((queue, id) => queues.set(id, queue));
      stackTables.forEach((table, id) => tables.set(id, table));
      secretStore.addStack(stack.stackName, resolver, { region: LOCAL_REGION, accountId: LOCAL_ACCOUNT_ID, partition: LOCAL_PARTITION });
      progress(`${stack.stackName}: ${stackTables.size} table(s), ${stackQueues.size} queue(s) created at ${elapsed()}`);
      // After the tables: policies name the real stream ARNs.
      policies.read(resolver, stack.stackName);

      const { apis, notes: apiNotes } = readRestApis(resolver);
      notes.push(...apiNotes);
      for (const definition of apis) {
        const port = apiServers.length === 0 ? (options.ports?.api ?? DEFAULT_PORTS.api) : 0;
        const server = await startRestApiServer({
          api: definition,
          port,
          invoker: (arn) => byArn.get(arn),
          iam: enforce ? { principals, authorizer: edge.authorizer, region: LOCAL_REGION, accountId: LOCAL_ACCOUNT_ID, partition: LOCAL_PARTITION } : undefined,
        }).catch((error: NodeJS.ErrnoException) => {
          throw error.code === 'EADDRINUSE'
            ? new LocalRuntimeError(`port ${port} for the API of ${definition.logicalId} is taken: stop what uses it or pass --api-port <n> (0 = any free port)`, { cause: error })
            : error;
        });
        cleanup.push(() => server.close());
        localApis.set(definition.apiId, `http://127.0.0.1:${server.port}`);
        apiServers.push({ definition, server });
      }

      const read = readFunctions(stack, resolver);
      skippedFunctions.push(...read.skipped);
      for (const definition of read.functions) {
        definitions.push(definition);
        const roleArn = policies.functionRoles.get(definition.arn);
        if (!roleArn) notes.push(`${definition.logicalId}: no execution role found in the template; its calls are denied`);
        const principal = principals.addFunction({
          functionName: definition.functionName,
          functionArn: definition.arn,
          roleArn: roleArn ?? `arn:${LOCAL_PARTITION}:iam::${LOCAL_ACCOUNT_ID}:role/unknown-role-of-${definition.functionName}`,
          policies: [],
        });
        const fn = new LocalFunction(definition, {
          environment: functionEnvironment(definition, env, principal, options.functionEnv ?? {}),
          // This project's node_modules plays the SDK that Lambda's Node.js runtime provides.
          providedSdkDir: PROJECT_ROOT,
          output: options.quiet && !recorder ? undefined : (line) => (recorder?.recordLine(definition.logicalId, line), options.quiet || log(`  ${definition.logicalId} | ${line}`)),
          // Batches from event source mappings get their line (with the mapping's outcome) from the pollers.
          onInvoked: (f, event, result, cold) => (recorder?.recordInvocation(definition.logicalId, event, result, cold), options.quiet || isMappingBatch(event) || log(invocationLine(f, event, result, cold))),
        });
        cleanup.push(() => fn.stop());
        functions.set(definition.logicalId, fn);
        byArn.set(definition.arn, fn);
      }
      mappings.push(...readEventSourceMappings(resolver, read.functions));
      const scheduled = readSchedules(resolver, LOCAL_REGION, new Set(read.functions.map((f) => f.arn)));
      scheduleDefinitions.push(...scheduled.schedules);
      notes.push(...scheduled.skipped.map((s) => `schedule ${s.logicalId}: ${s.reason}`));
      resolveOutputs(stack, resolver, outputs, exportsByName, notes);
    }

    // Every stack is read: give each function principal its role's policies (a later stack may attach more).
    principals.refreshPolicies((roleArn) => policies.identityPolicies(roleArn));
    notes.push(...policies.notes);

    const queueByArn = new Map([...queues.values()].map((queue) => [queue.arn, queue]));
    validateMappings(mappings, {
      queueAttributesByArn: new Map([...queueByArn].map(([arn, queue]) => [arn, queue.attributes])),
      functionTimeoutByArn: new Map(definitions.map((d) => [d.arn, d.timeoutSeconds])),
    });
    if (enforce) {
      // C5: as CreateEventSourceMapping, with the template's policies.
      validateMappingPermissions(mappings, ({ mapping, action, resource }) => {
        const principal = principals.forFunction(mapping.functionRef);
        if (!principal) return undefined;
        const check = edge.authorizer.check(principal, { action, resource }, {}, false);
        return check.decision.decision === 'Allow' ? undefined : { roleArn: principal.principal.arn, reason: check.decision.reason };
      });
    }
    // Pollers call SQS and Streams as the function's role, through the gateway, like Lambda's pollers do.
    const esm: EventSourceMappings = startMappingsAsRoles(mappings, {
      edgeUrl: edge.url,
      principals,
      clients,
      invokers: byArn,
      queueByArn: (arn) => queueByArn.get(arn),
      log: options.quiet ? undefined : log,
    });
    cleanup.push(() => esm.stop());
    const recording = recorder
      ? await startRecording({
          recorder,
          onCall: (listener) => edge.gateway.onCall(listener, { bodies: true }),
          stacks: stacks.map((s) => s.stackName),
          functions: definitions,
          tables: [...tables.values()],
          queues: [...queues.values()],
          onFailureDestinations: mappings.flatMap((m) => (m.onFailureDestination ? [m.onFailureDestination] : [])),
          inspectQueue: (name) => emulators.sqsServer.inspectQueue(name),
          mappingStats: () => esm.stats(),
          inspectorPort: options.inspectorPort ?? 0,
          outDir,
        })
      : undefined;
    // Written last on stop (cleanup runs in reverse), once every function and poller has finished.
    if (recording) cleanup.unshift(() => recording.stop());
    const schedules = startSchedules({
      schedules: scheduleDefinitions,
      invokers: byArn,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
      timers: options.scheduleTimers ?? true,
      log: options.quiet ? undefined : log,
    });
    cleanup.push(async () => schedules.stop());

    const files = writeOutputFiles(outDir, outputs, env);
    const iamUsage = (): UsageReport =>
      buildUsageReport({
        recorder: edge.usage,
        policies,
        iam: enforce ? 'enforced' : 'off',
        roleArns: principals.functions().map((p) => p.principal.arn),
        labels: Object.fromEntries([
          ...[...queues.values()].map((q) => [q.arn, q.logicalId]),
          ...[...tables.values()].flatMap((t) => [[t.arn, t.logicalId], ...(t.streamArn ? [[t.streamArn, `${t.logicalId} stream`]] : [])]),
        ]),
        isGranted: (roleArn, action, resource) => {
          const principal = principals.functions().find((p) => p.principal.arn === roleArn);
          return principal !== undefined && edge.authorizer.check(principal, { action, resource }, {}, false).decision.decision === 'Allow';
        },
      });
    // Written last on stop, once every call is in.
    cleanup.unshift(async () => writeUsageReport(outDir, iamUsage()));
    writeAwsWrapper(outDir);
    const readyMs = performance.now() - started;
    progress(`ready in ${Math.round(readyMs)} ms`);

    const mappedQueueUrls = mappings.map((m) => queueByArn.get(m.eventSourceArn)?.url).filter((url): url is string => url !== undefined);
    const firstApi = apiServers[0];
    let stopped: Promise<void> | undefined;
    return {
      outputs,
      endpoints: { api: firstApi ? `http://127.0.0.1:${firstApi.server.port}` : '', edge: edge.url, dynamodb: edge.url, sqs: edge.url },
      iam: { enforced: enforce, callerPolicy: principals.caller.policies[0]!, notes: policies.notes },
      env,
      functions,
      secrets: secretStore,
      queues,
      tables,
      readyMs,
      files: { outputs: files.outputsFile, env: files.envFile, assembly: assemblyDir },
      recorder,
      inspectorUrl: recording?.inspectorUrl ?? '',
      describe: () => ({
        stacks: stacks.map((s) => s.stackName),
        functions: definitions.map(({ logicalId, functionName, timeoutSeconds, memorySize }) => ({ logicalId, functionName, timeoutSeconds, memorySize })),
        skippedFunctions,
        queues: [...queues.values()],
        tables: [...tables.values()],
        apis: apiServers.map(({ definition, server }) => ({
          logicalId: definition.logicalId,
          url: server.url,
          routes: definition.routes.map((route) => `${route.httpMethod} ${route.resourcePath}`),
        })),
        mappings,
        notes,
      }),
      waitForIdle: (waitOptions) => waitForIdle(waitOptions?.timeoutMs ?? 60_000, sqs, mappedQueueUrls, esm, functions),
      stats: () => Object.fromEntries([...functions].map(([id, fn]) => [id, { ...fn.stats, durations: [...fn.stats.durations] }])),
      mappingStats: () => esm.stats(),
      onCall: (listener) => edge.gateway.onCall(listener),
      iamUsage,
      functionCredentials: (logicalId) => {
        const fn = functions.get(logicalId);
        const principal = fn ? principals.forFunction(fn.arn) : undefined;
        return principal?.secretAccessKey ? { accessKeyId: principal.accessKeyId, secretAccessKey: principal.secretAccessKey, roleArn: principal.principal.arn } : undefined;
      },
      schedules,
      stop: () => (stopped ??= stopAll()),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function functionEnvironment(definition: FunctionDefinition, env: Record<string, string>, principal: LocalPrincipal, extra: Readonly<Record<string, string>>): Record<string, string> {
  return {
    // Only what a Lambda environment has: no variables of the developer's shell leak in.
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'en_US.UTF-8',
    ...definition.environment,
    ...env,
    // The function's own credentials, mapped to its execution role by the gateway (Lambda gives the role's session).
    AWS_ACCESS_KEY_ID: principal.accessKeyId,
    AWS_SECRET_ACCESS_KEY: principal.secretAccessKey ?? '',
    AWS_LAMBDA_FUNCTION_NAME: definition.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(definition.memorySize),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${definition.functionName}`,
    AWS_EXECUTION_ENV: `AWS_Lambda_${definition.runtime}`,
    LAMBDA_TASK_ROOT: definition.codeDir,
    _HANDLER: definition.handler,
    EXACTLY_ONCE_LOCAL_RUNTIME: '1',
    ...extra,
  };
}

function resolveOutputs(stack: AssemblyStack, resolver: TemplateResolver, outputs: StackOutputs, exportsByName: Map<string, unknown>, notes: string[]): void {
  const values: Record<string, string> = {};
  for (const [key, output] of Object.entries(stack.template.Outputs ?? {})) {
    if (output.Condition && !resolver.condition(output.Condition, `Outputs.${key}.Condition`)) continue;
    try {
      const value = resolver.resolve(output.Value, `Outputs.${key}.Value`);
      values[key] = typeof value === 'string' ? value : JSON.stringify(value);
      if (output.Export) exportsByName.set(String(resolver.resolve(output.Export.Name, `Outputs.${key}.Export.Name`)), value);
    } catch (error) {
      // One output that cannot be resolved locally must not stop the stack from running.
      notes.push(`${stack.stackName} output ${key} left out: ${(error as Error).message}`);
    }
  }
  outputs[stack.stackName] = values;
}

function isMappingBatch(event: unknown): boolean {
  const first = (event as { Records?: Array<{ eventSource?: string }> } | null)?.Records?.[0];
  return first?.eventSource === 'aws:sqs' || first?.eventSource === 'aws:dynamodb';
}

function invocationLine(fn: LocalFunction, event: unknown, result: InvokeResult, cold: boolean): string {
  const records = (event as { Records?: unknown[] } | null)?.Records;
  const api = event as { httpMethod?: string; path?: string } | null;
  const what = Array.isArray(records) ? `batch=${records.length}` : api?.httpMethod ? `${api.httpMethod} ${api.path}` : 'event';
  let outcome: string;
  if (result.timedOut) outcome = `TIMEOUT after ${fn.timeoutSeconds}s`;
  else if (!result.ok) outcome = `ERROR ${result.error?.errorType}: ${result.error?.errorMessage}`;
  else {
    const failures = (result.payload as { batchItemFailures?: unknown[] } | null)?.batchItemFailures;
    const status = (result.payload as { statusCode?: number } | null)?.statusCode;
    outcome = Array.isArray(failures) && failures.length ? `ok, ${failures.length} batch item failure(s)` : status ? `ok ${status}` : 'ok';
  }
  return `λ ${fn.definition.logicalId} ${what} ${Math.round(result.durationMs)}ms${cold ? ' (cold)' : ''} ${outcome}`;
}

async function waitForIdle(timeoutMs: number, sqs: SQSClient, queueUrls: readonly string[], esm: EventSourceMappings, functions: ReadonlyMap<string, LocalFunction>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Quiet for a whole second, not just an instant: a stream poller between two polls (or backing off after a read
  // error) holds no record yet still has some to read.
  const quietChecksNeeded = 10;
  let quietChecks = 0;
  let busy = '';
  while (quietChecks < quietChecksNeeded) {
    busy = await busyReason(sqs, queueUrls, esm, functions);
    quietChecks = busy ? 0 : quietChecks + 1;
    if (quietChecks >= quietChecksNeeded) return;
    if (Date.now() > deadline) throw new LocalRuntimeError(`not idle after ${timeoutMs} ms: ${busy}`);
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 100));
  }
}

async function busyReason(sqs: SQSClient, queueUrls: readonly string[], esm: EventSourceMappings, functions: ReadonlyMap<string, LocalFunction>): Promise<string> {
  for (const [id, fn] of functions) if (fn.active > 0) return `${id} has ${fn.active} invocation(s) running`;
  for (const url of queueUrls) {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    );
    const count = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'].reduce(
      (sum, key) => sum + Number(Attributes[key as keyof typeof Attributes] ?? 0),
      0,
    );
    if (count > 0) return `${url} has ${count} message(s) visible, delayed or in flight`;
  }
  if (!esm.idle()) return 'an event source mapping is still reading or invoking';
  return '';
}

/** Options of {@link startMappingsAsRoles}. */
interface MappingsAsRolesOptions {
  readonly edgeUrl: string;
  readonly principals: PrincipalRegistry;
  /** Clients created here are added, to be destroyed on stop. */
  readonly clients: { destroy(): void }[];
  readonly invokers: ReadonlyMap<string, LocalFunction>;
  readonly queueByArn: (arn: string) => LocalQueue | undefined;
  readonly log?: (line: string) => void;
}

/** Starts each function's mappings with SQS and Streams clients signed with that function's credentials. */
function startMappingsAsRoles(mappings: readonly ResolvedMapping[], options: MappingsAsRolesOptions): EventSourceMappings {
  const byFunction = new Map<string, ResolvedMapping[]>();
  for (const mapping of mappings) byFunction.set(mapping.functionRef, [...(byFunction.get(mapping.functionRef) ?? []), mapping]);
  const groups: EventSourceMappings[] = [];
  for (const [functionRef, group] of byFunction) {
    const principal = options.principals.forFunction(functionRef);
    const credentials = principal?.secretAccessKey ? { accessKeyId: principal.accessKeyId, secretAccessKey: principal.secretAccessKey } : LOCAL_CREDENTIALS;
    const config = { region: LOCAL_REGION, credentials, endpoint: options.edgeUrl };
    const sqs = new SQSClient(config);
    const streams = new DynamoDBStreamsClient(config);
    options.clients.push(sqs, streams);
    groups.push(
      startEventSourceMappings({
        mappings: group,
        invokers: options.invokers,
        sqs,
        streams,
        queueByArn: options.queueByArn,
        log: options.log,
        region: LOCAL_REGION,
        accountId: LOCAL_ACCOUNT_ID,
      }),
    );
  }
  return {
    stop: async () => {
      await Promise.allSettled(groups.map((group) => group.stop()));
    },
    idle: () => groups.every((group) => group.idle()),
    stats: () => groups.flatMap((group) => group.stats()),
  };
}

export { freePort };
