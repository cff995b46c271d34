/**
 * `npm run pay`: sends one payment (or reads one account) through the public API, SigV4-signed, from the command line.
 *
 *   npm run pay -- --account acc-1 --amount 1250 --currency EUR [--reference "invoice 42"] [--key <Idempotency-Key>]
 *   npm run pay -- --get acc-1
 *
 * The API URL comes from `--api-url`, else the `ApiUrl` output in `--outputs` (default `.local/outputs.json`, written by
 * `npm start`; pass `cdk deploy --outputs-file` output for AWS). Credentials: the AWS SDK's chain (local dummy ones
 * against 127.0.0.1). `PAYMENTS_API_KEY` (or `--api-key`) adds `x-api-key` for stacks deployed with `-c apiKey=true`.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { PaymentsApiClient } from './api-client.js';

/** Usage of `npm run pay`. */
export const PAY_USAGE = `Usage:
  npm run pay -- --account <id> --amount <minor units, negative = debit> --currency <EUR|USD|…> [--reference <text>] [--key <Idempotency-Key>]
  npm run pay -- --get <accountId>
Options: --api-url <url> | --outputs <file> (default .local/outputs.json), --api-key <key> (default $PAYMENTS_API_KEY)`;

/** Parsed `npm run pay` arguments. */
export interface PayArgs {
  readonly apiUrl?: string;
  readonly outputs: string;
  readonly apiKey?: string;
  readonly get?: string;
  readonly payment?: { readonly accountId: string; readonly amount: number; readonly currency: string; readonly reference?: string };
  readonly key: string;
}

/**
 * Parses the command line.
 * @throws Error naming the bad flag or value and showing the usage.
 */
export function parsePayArgs(argv: readonly string[]): PayArgs {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (!flag.startsWith('--')) throw new Error(`unexpected argument "${flag}"\n${PAY_USAGE}`);
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value\n${PAY_USAGE}`);
    flags.set(flag.slice(2), value);
    i++;
  }
  const known = ['api-url', 'outputs', 'api-key', 'get', 'account', 'amount', 'currency', 'reference', 'key'];
  for (const name of flags.keys()) if (!known.includes(name)) throw new Error(`unknown option --${name}\n${PAY_USAGE}`);
  const common = { apiUrl: flags.get('api-url'), outputs: flags.get('outputs') ?? '.local/outputs.json', apiKey: flags.get('api-key'), key: flags.get('key') ?? `pay-${randomUUID()}` };
  if (flags.has('get')) return { ...common, get: flags.get('get') };
  const accountId = flags.get('account');
  const amountText = flags.get('amount');
  const currency = flags.get('currency');
  if (!accountId || !amountText || !currency) throw new Error(`--account, --amount and --currency are required\n${PAY_USAGE}`);
  const amount = Number(amountText);
  if (!Number.isInteger(amount)) throw new Error(`--amount must be an integer number of minor units (1250 = 12.50), got "${amountText}"`);
  return { ...common, payment: { accountId, amount, currency, ...(flags.has('reference') ? { reference: flags.get('reference') } : {}) } };
}

/** The ApiUrl output of the first stack in a `cdk deploy --outputs-file` style file. */
export function apiUrlFromOutputs(file: string): string {
  if (!existsSync(file)) throw new Error(`${file} not found: run \`npm start\` first, or pass --api-url or --outputs <cdk deploy --outputs-file>`);
  const outputs = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  const url = Object.values(outputs).find((o) => o.ApiUrl)?.ApiUrl;
  if (!url) throw new Error(`${file} has no ApiUrl output`);
  return url;
}

async function main(): Promise<number> {
  let args: PayArgs;
  try {
    args = parsePayArgs(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const client = new PaymentsApiClient({ apiUrl: args.apiUrl ?? apiUrlFromOutputs(args.outputs), apiKey: args.apiKey });
  const response = args.get
    ? await client.getAccount(args.get)
    : await client.createPayment({ idempotencyKey: args.key, body: args.payment });
  if (!args.get) console.log(`Idempotency-Key: ${args.key}  (resend with --key ${args.key} to retry safely)`);
  console.log(`${response.status} ${response.text}`);
  return response.status < 400 ? 0 : 1;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error((error as Error).message);
      process.exit(1);
    },
  );
}
