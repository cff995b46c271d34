/**
 * `npm run trace -- <key> [--outputs outputs.json]`: the journey of one message through a DEPLOYED stack, from its
 * CloudWatch Logs (the handlers' structured lines carry idempotencyKey, paymentId, eventId, messageId). The query and
 * the journey rules are local/recorder/trace.ts, shared with the local inspector and tested against the local
 * runtime's function output (test/local/recorder/trace.test.ts); this file only talks to CloudWatch Logs.
 *
 * Needs `@aws-sdk/client-cloudwatch-logs` (not a dependency yet: `npm install --save-dev @aws-sdk/client-cloudwatch-logs`)
 * and credentials allowed logs:DescribeLogGroups, logs:StartQuery and logs:GetQueryResults.
 */
import { readFileSync } from 'node:fs';
import { TraceError } from '../local/recorder/errors.js';
import { formatJourney } from '../local/recorder/journey.js';
import { traceJourney, type LogRow } from '../local/recorder/trace.js';

const USAGE = `Usage: npm run trace -- <key> [options]

The journey of one payment or event through a deployed stack, from its CloudWatch Logs (Logs Insights).
<key>: an Idempotency-Key, paymentId, eventId or SQS messageId.

Options:
  --outputs <file>     cdk deploy --outputs-file output (default outputs.json): names the stack(s) and the region
  --stack <name>       the stack, when the file holds several
  --log-group <name>   query this log group (repeatable) instead of the stack's (found by name prefix)
  --since <duration>   how far back to look: 30m, 6h, 2d (default 24h)
  --region <region>    default: the ApiUrl's region, else AWS_REGION
  --json               print the journey as JSON`;

interface TraceArgs {
  readonly key: string;
  readonly outputs: string;
  readonly stack?: string;
  readonly logGroups: readonly string[];
  readonly sinceMs: number;
  readonly region?: string;
  readonly json: boolean;
}

/** Parses the command line. @throws TraceError naming the bad argument. */
export function parseTraceArgs(argv: readonly string[]): TraceArgs | 'help' {
  const args = [...argv];
  let key: string | undefined;
  let outputs = 'outputs.json';
  let stack: string | undefined;
  const logGroups: string[] = [];
  let sinceMs = 24 * 3_600_000;
  let region: string | undefined;
  let json = false;
  while (args.length) {
    const arg = args.shift()!;
    const value = () => {
      const v = args.shift();
      if (v === undefined) throw new TraceError(`${arg} needs a value\n\n${USAGE}`);
      return v;
    };
    if (arg === '--help' || arg === '-h') return 'help';
    else if (arg === '--outputs') outputs = value();
    else if (arg === '--stack') stack = value();
    else if (arg === '--log-group') logGroups.push(value());
    else if (arg === '--region') region = value();
    else if (arg === '--json') json = true;
    else if (arg === '--since') {
      const v = value();
      const m = /^(\d+)(m|h|d)$/.exec(v);
      if (!m) throw new TraceError(`--since must be a duration like 30m, 6h or 2d, got "${v}"`);
      sinceMs = Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
    } else if (arg.startsWith('-')) throw new TraceError(`unknown option "${arg}"\n\n${USAGE}`);
    else if (key === undefined) key = arg;
    else throw new TraceError(`one key at a time, got "${key}" and "${arg}"`);
  }
  if (!key) throw new TraceError(`a key is required\n\n${USAGE}`);
  return { key, outputs, stack, logGroups, sinceMs, region, json };
}

/** The few CloudWatch Logs client shapes used here (the package is loaded only when present). */
interface LogsModule {
  CloudWatchLogsClient: new (config: { region?: string }) => { send(command: unknown): Promise<unknown>; destroy(): void };
  DescribeLogGroupsCommand: new (input: { logGroupNamePrefix: string; nextToken?: string }) => unknown;
  StartQueryCommand: new (input: { logGroupNames: string[]; startTime: number; endTime: number; queryString: string; limit: number }) => unknown;
  GetQueryResultsCommand: new (input: { queryId: string }) => unknown;
}

async function loadLogsSdk(): Promise<LogsModule> {
  const name = '@aws-sdk/client-cloudwatch-logs';
  try {
    return (await import(name)) as LogsModule;
  } catch (error) {
    throw new TraceError(`${name} is not installed: npm install --save-dev ${name}`, { cause: error });
  }
}

async function main(): Promise<number> {
  const parsed = parseTraceArgs(process.argv.slice(2));
  if (parsed === 'help') {
    console.log(USAGE);
    return 0;
  }
  let file: Record<string, Record<string, string>>;
  try {
    file = JSON.parse(readFileSync(parsed.outputs, 'utf8')) as Record<string, Record<string, string>>;
  } catch (error) {
    throw new TraceError(`cannot read the outputs file ${parsed.outputs} (${(error as Error).message}): deploy with --outputs-file ${parsed.outputs}, or pass --outputs <file>`);
  }
  const stacks = Object.keys(file);
  const stack = parsed.stack ?? (stacks.length === 1 ? stacks[0] : undefined);
  if (!stack || !file[stack]) throw new TraceError(`${parsed.outputs} holds ${stacks.length ? stacks.join(', ') : 'no stack'}: pass --stack <name>`);
  const region = parsed.region ?? /execute-api\.([a-z0-9-]+)\.amazonaws/.exec(file[stack].ApiUrl ?? '')?.[1] ?? process.env.AWS_REGION;
  const sdk = await loadLogsSdk();
  const client = new sdk.CloudWatchLogsClient({ region });
  try {
    const logGroups = parsed.logGroups.length ? [...parsed.logGroups] : await stackLogGroups(sdk, client, stack);
    if (logGroups.length === 0) throw new TraceError(`no log group starts with "${stack}": pass --log-group <name> (the functions' log groups)`);
    const endTime = Date.now();
    const run = async (query: string): Promise<LogRow[]> => runQuery(sdk, client, logGroups.slice(0, 50), query, endTime - parsed.sinceMs, endTime);
    const { journey, queries, rows } = await traceJourney(parsed.key, run);
    if (parsed.json) console.log(JSON.stringify(journey, null, 2));
    else console.log(`${formatJourney(journey)}\n(${rows} log lines from ${logGroups.length} log group(s), ${queries} Logs Insights quer${queries === 1 ? 'y' : 'ies'})`);
    return journey.hops.length ? 0 : 1;
  } finally {
    client.destroy();
  }
}

async function stackLogGroups(sdk: LogsModule, client: InstanceType<LogsModule['CloudWatchLogsClient']>, stack: string): Promise<string[]> {
  const names: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = (await client.send(new sdk.DescribeLogGroupsCommand({ logGroupNamePrefix: stack, nextToken }))) as { logGroups?: { logGroupName?: string }[]; nextToken?: string };
    for (const group of page.logGroups ?? []) if (group.logGroupName) names.push(group.logGroupName);
    nextToken = page.nextToken;
  } while (nextToken);
  return names;
}

async function runQuery(sdk: LogsModule, client: InstanceType<LogsModule['CloudWatchLogsClient']>, logGroupNames: string[], queryString: string, fromMs: number, toMs: number): Promise<LogRow[]> {
  const { queryId } = (await client.send(new sdk.StartQueryCommand({ logGroupNames, startTime: Math.floor(fromMs / 1000), endTime: Math.ceil(toMs / 1000), queryString, limit: 10_000 }))) as { queryId?: string };
  if (!queryId) throw new TraceError('StartQuery returned no queryId');
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const answer = (await client.send(new sdk.GetQueryResultsCommand({ queryId }))) as { status?: string; results?: { field?: string; value?: string }[][] };
    if (answer.status === 'Running' || answer.status === 'Scheduled') continue;
    if (answer.status !== 'Complete') throw new TraceError(`Logs Insights query ${queryId} ended ${answer.status}`);
    return (answer.results ?? []).map((fields) => {
      const get = (name: string) => fields.find((f) => f.field === name)?.value ?? '';
      // @timestamp is "YYYY-MM-DD HH:MM:SS.mmm" in UTC.
      return { timestamp: Date.parse(`${get('@timestamp').replace(' ', 'T')}Z`), logGroup: get('@log'), message: get('@message') };
    });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof TraceError ? error.message : error);
    process.exit(error instanceof TraceError ? 2 : 1);
  },
);
