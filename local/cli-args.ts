import { LocalRuntimeError } from './errors.js';
import type { LocalRuntimeOptions } from './runtime.js';

/** Usage text of `npm start`. */
export const USAGE = `Usage: npm start -- [options]

Runs the CDK app on this machine (DynamoDB Local + fauxqs + worker-thread Lambdas), no Docker, no AWS.

Options:
  --app "<command>"     CDK app command (default: "app" of cdk.json)
  --assembly <dir>      run an existing cloud assembly instead of synthesizing
  -c, --context k=v     CDK context, repeatable (as cdk -c)
  --api-port <n>        local API Gateway port (default 3000; 0 = any free port)
  --dynamodb-port <n>   DynamoDB Local port (default 8000)
  --sqs-port <n>        fauxqs (SQS) port (default 4566)
  --out-dir <dir>       where outputs.json, env and cdk.out go (default .local)
  --fresh               synthesize even if the app and its sources are unchanged since the last run
  --quiet               no per-invocation lines and no function output
  -h, --help            this text`;

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
  const ports: { api?: number; dynamodb?: number; sqs?: number } = {};
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
      case '--out-dir':
        options.outDir = value();
        break;
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
