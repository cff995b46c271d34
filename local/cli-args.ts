import { readFileSync } from 'node:fs';
import { LocalRuntimeError } from './errors.js';
import type { PolicyDocument } from './iam/types.js';
import type { LocalRuntimeOptions } from './runtime.js';
import { MAX_RECORD_LIMIT } from './recorder/flight-recorder.js';

/** Usage text of `npm start`. */
export const USAGE = `Usage: npm start -- [options]

Runs the CDK app on this machine (DynamoDB Local + fauxqs + worker-thread Lambdas), no Docker, no AWS.

Options:
  --app "<command>"     CDK app command (default: "app" of cdk.json)
  --assembly <dir>      run an existing cloud assembly instead of synthesizing
  -c, --context k=v     CDK context, repeatable (as cdk -c)
  --api-port <n>        local API Gateway port (default 3000; 0 = any free port)
  --port <n>            the edge endpoint: DynamoDB, DynamoDB Streams and SQS on one port, like LocalStack
                        (default 4566; --sqs-port is the same flag)
  --dynamodb-port <n>   DynamoDB Local's own port behind the edge endpoint (default: any free port)
  --no-iam              do not enforce IAM (no signature checks, no authorization)
  --caller-policy FILE  IAM policy (JSON) of the local caller (tests, .local/env, AWS CLI); default: allow everything
  --out-dir <dir>       where outputs.json, env and cdk.out go (default .local)
  --fresh               synthesize even if the app and its sources are unchanged since the last run
  --quiet               no per-invocation lines and no function output
  --inspector-port <n>  the inspector page: live counters, message journeys, dead letters (default 4580; 0 = any free port)
  --record-limit <n>    events the flight recorder keeps, oldest dropped first (default 100000; 0 = no recording)
  -h, --help            this text`;

/** Port of the inspector page under `npm start` (the runtime's API defaults to a free port). */
export const DEFAULT_INSPECTOR_PORT = 4580;

/** Parsed command line of `local/cli.ts`. */
export interface CliArgs {
  readonly command: 'start' | 'help';
  readonly options: LocalRuntimeOptions;
}

/**
 * Parses `start [options]` (see {@link USAGE}).
 * @throws LocalRuntimeError naming the bad flag or value.
 */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  const args = [...argv];
  const command = args[0] && !args[0].startsWith('-') ? args.shift()! : 'start';
  if (command !== 'start' && command !== 'help') throw new LocalRuntimeError(`unknown command "${command}"; try: start`);
  const context: Record<string, string> = {};
  const ports: { api?: number; dynamodb?: number; sqs?: number; edge?: number } = {};
  const options: { -readonly [K in keyof LocalRuntimeOptions]: LocalRuntimeOptions[K] } = {};
  let help = command === 'help';
  while (args.length) {
    const raw = args.shift()!;
    const [flag, inline] = raw.startsWith('--') && raw.includes('=') ? [raw.slice(0, raw.indexOf('=')), raw.slice(raw.indexOf('=') + 1)] : [raw, undefined];
    const value = () => {
      const v = inline ?? args.shift();
      if (v === undefined) throw new LocalRuntimeError(`${flag} needs a value`);
      return v;
    };
    const port = () => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new LocalRuntimeError(`${flag} must be a port number 0–65535, got "${v}"`);
      return n;
    };
    switch (flag) {
      case '--app':
        options.app = value();
        break;
      case '--assembly':
        options.assembly = value();
        break;
      case '-c':
      case '--context': {
        const pair = value();
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new LocalRuntimeError(`${flag} expects key=value, got "${pair}"`);
        context[pair.slice(0, eq)] = pair.slice(eq + 1);
        break;
      }
      case '--api-port':
        ports.api = port();
        break;
      case '--dynamodb-port':
        ports.dynamodb = port();
        break;
      case '--sqs-port':
        ports.sqs = port();
        break;
      case '--port':
      case '--edge-port':
        ports.edge = port();
        break;
      case '--no-iam':
        options.iam = false;
        break;
      case '--caller-policy':
        options.callerPolicy = readPolicyFile(value(), flag);
        break;
      case '--out-dir':
        options.outDir = value();
        break;
      case '--inspector-port':
        options.inspectorPort = port();
        break;
      case '--record-limit': {
        const v = value();
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n > MAX_RECORD_LIMIT) throw new LocalRuntimeError(`${flag} must be a number of events 0–${MAX_RECORD_LIMIT} (0 = no recording), got "${v}"`);
        options.recordLimit = n;
        break;
      }
      case '--quiet':
        options.quiet = true;
        break;
      case '--fresh':
        options.fresh = true;
        break;
      case '-h':
      case '--help':
        help = true;
        break;
      default:
        throw new LocalRuntimeError(`unknown option "${raw}"\n\n${USAGE}`);
    }
  }
  return { command: help ? 'help' : 'start', options: { ...options, context, ports } };
}

/** Reads an IAM policy document from a JSON file. @throws LocalRuntimeError naming the file and what is wrong. */
function readPolicyFile(file: string, flag: string): PolicyDocument {
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new LocalRuntimeError(`${flag} ${file}: cannot read a JSON policy document (${(error as Error).message})`, { cause: error });
  }
  const statement = (document as { Statement?: unknown } | null)?.Statement;
  if (typeof document !== 'object' || document === null || statement === undefined || (typeof statement !== 'object')) {
    throw new LocalRuntimeError(`${flag} ${file}: not an IAM policy document (expected {"Version": "2012-10-17", "Statement": [...]})`);
  }
  return document as PolicyDocument;
}
