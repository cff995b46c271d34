/**
 * `npm start`: runs the synthesized CDK app locally until Ctrl-C or SIGTERM (see {@link USAGE}).
 */
import { dirname, join, relative } from 'node:path';
import { DEFAULT_INSPECTOR_PORT, parseCliArgs, USAGE } from './cli-args.js';
import { LocalRuntimeError } from './errors.js';
import { prepareWebhookTarget, type WebhookTarget } from './first-run.js';
import { watchParent } from './parent-watch.js';
import { startLocalRuntime, type LocalRuntime, type RuntimeDescription } from './runtime.js';

function readyTable(description: RuntimeDescription, runtime: LocalRuntime): string {
  const rows: [string, string, string][] = [];
  for (const api of description.apis) rows.push(['API', api.logicalId, `${api.url}  (${api.routes.join(', ')})`]);
  for (const fn of description.functions) rows.push(['Function', fn.logicalId, `${fn.functionName}  timeout ${fn.timeoutSeconds}s, ${fn.memorySize} MB`]);
  for (const skipped of description.skippedFunctions) rows.push(['Function', skipped.logicalId, `not run: ${skipped.reason}`]);
  for (const queue of description.queues) rows.push(['Queue', queue.logicalId, queue.url]);
  for (const table of description.tables) rows.push(['Table', table.logicalId, `${table.name}${table.streamArn ? `  stream ${table.streamViewType}` : ''}`]);
  for (const mapping of description.mappings) {
    const fn = description.functions.find((f) => runtime.functions.get(f.logicalId)?.arn === mapping.functionRef);
    // Queue ARNs end in the queue name; stream ARNs hold `table/<name>/stream/<timestamp with colons>`.
    const source = /:(table\/[^/]+\/stream)\//.exec(mapping.eventSourceArn)?.[1] ?? mapping.eventSourceArn.split(':').pop();
    rows.push(['Mapping', fn?.logicalId ?? mapping.logicalId, `${source} → ${fn?.functionName ?? mapping.functionRef}`]);
  }
  rows.push(['Endpoint', 'AWS', `${runtime.endpoints.edge}  (DynamoDB, DynamoDB Streams, SQS; AWS_ENDPOINT_URL)`]);
  if (runtime.inspectorUrl) rows.push(['Inspector', 'page', `${runtime.inspectorUrl}  (live counters, a message's journey by any key, dead letters)`]);
  const widths = [0, 1].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map(([kind, id, where]) => `  ${kind.padEnd(widths[0]!)}  ${id.padEnd(widths[1]!)}  ${where}`).join('\n');
}

function iamLines(runtime: LocalRuntime): string {
  if (!runtime.iam.enforced) {
    return '  IAM: off (--no-iam): signatures are not verified and every call is allowed.';
  }
  const policy = JSON.stringify(runtime.iam.callerPolicy);
  return [
    '  IAM: enforced — each function calls AWS as its execution role; SigV4 verified; AWS_IAM API methods need execute-api:Invoke.',
    `  Outside callers (tests, .local/env, AWS CLI) are local-caller, policy: ${policy}`,
  ].join('\n');
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseCliArgs(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  if (args.command === 'help') {
    console.log(USAGE);
    return 0;
  }
  let runtime: LocalRuntime | undefined;
  let webhook: WebhookTarget | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping (mappings, API, functions, emulators)…`);
    await runtime?.stop();
    await webhook?.stop();
    console.log('stopped');
    process.exit(0);
  };
  // A closed stdout (the terminal or a pipe reader gone) must not crash the process before it has stopped the JVM.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // A signal sent to `npm start` reaches npm, not this process: stop when npm (or tsx, or the shell) goes away.
  watchParent((reason) => void stop(reason));
  try {
    webhook = await prepareWebhookTarget(args.options);
    runtime = await startLocalRuntime({ inspectorPort: DEFAULT_INSPECTOR_PORT, ...webhook.options, onProgress: (line) => console.log(`… ${line}`) });
    webhook.attach(runtime);
  } catch (error) {
    await webhook?.stop();
    console.error(error instanceof LocalRuntimeError || (error as Error).name?.endsWith('Error') ? `local runtime failed to start: ${(error as Error).message}` : error);
    return 1;
  }
  if (stopping) return 0;
  console.log(`\nReady in ${Math.round(runtime.readyMs)} ms — ${runtime.describe().stacks.join(', ')} — IAM: ${runtime.iam.enforced ? 'enforced' : 'off'}\n`);
  const webhookRow = webhook.row();
  console.log(readyTable(runtime.describe(), runtime) + (webhookRow ? `\n  ${webhookRow.join('  ')}` : ''));
  for (const note of runtime.describe().notes) console.log(`  note: ${note}`);
  console.log(`\n  outputs: ${relative(process.cwd(), runtime.files.outputs)}   env: ${relative(process.cwd(), runtime.files.env)}`);
  console.log(`  AWS CLI: ${relative(process.cwd(), runtime.files.outputs).replace(/outputs\.json$/, 'aws')} sqs list-queues (v1 ignores AWS_ENDPOINT_URL_*; the wrapper passes --endpoint-url)`);
  console.log(iamLines(runtime));
  const usage = relative(process.cwd(), join(dirname(runtime.files.outputs), 'iam-usage.json'));
  console.log(`  Ctrl-C stops (then writes ${usage} and .md: what each role used; check it with npm run iam-report${runtime.recorder ? `; and ${relative(process.cwd(), join(dirname(runtime.files.outputs), 'recording.jsonl'))}: the flight recording` : ''}).\n`);
  return new Promise<number>(() => {}); // runs until a signal
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
