import { RedriveUsageError } from './errors.js';

/** Options of `npm run redrive -- <dlq> [flags]`, as parsed from the command line. */
export interface RedriveCliOptions {
  /** DLQ URL, queue name, or a stack output key such as `PaymentsDlqUrl`. */
  readonly dlq: string;
  /** Source queue (URL, name or output key). @default - found from the outputs file or the queues' redrive policies */
  readonly to?: string;
  /** Report only; move nothing. @default false */
  readonly dryRun: boolean;
  /** Resend messages that were already applied too (the consumer skips them again). @default false */
  readonly includeApplied: boolean;
  /** Leave already-applied messages in the DLQ instead of deleting them. @default false */
  readonly keepApplied: boolean;
  /** Ledger table for dedup markers. @default - `LEDGER_TABLE_NAME` env, then the `LedgerTableName` output */
  readonly ledgerTable?: string;
  /** Powertools idempotency table. @default - `IDEMPOTENCY_TABLE_NAME` env, then the `IdempotencyTableName` output */
  readonly idempotencyTable?: string;
  /** Dedup scope (consumer name) to check markers and Powertools records under. @default - inferred from the DLQ */
  readonly scope?: string;
  /** Outputs file in `cdk deploy --outputs-file` format. @default `.local/outputs.json` when it exists */
  readonly outputsFile?: string;
  /** Env file with AWS_ENDPOINT_URL_* (the local runtime's). @default `.local/env` when the outputs file is the local one */
  readonly envFile?: string | false;
  /** Stack whose outputs to use when the file holds several. @default - the only stack, or the one holding the key */
  readonly stack?: string;
  /** Stop after this many messages. @default 1000 */
  readonly max: number;
  /** Visibility timeout (s) that hides a message while it is examined. @default 120 */
  readonly visibilityTimeoutSeconds: number;
  /** Print the report as JSON. @default false */
  readonly json: boolean;
}

/** Help text of `npm run redrive` (printed with every usage error). */
export const REDRIVE_USAGE = `Usage: npm run redrive -- <dlq-url|queue-name|OutputKey> [options]

Moves dead-lettered messages back to their source queue (Receive/Send/Delete; FIFO keeps the group and gets a new
deduplication id) and reports, per message, whether its effect was already applied.

Options:
  --to <queue>               source queue (URL, name or output key); default: from the outputs or redrive policies
  --dry-run                  report only, move nothing
  --include-applied          resend already-applied messages too (the consumer skips them again)
  --keep-applied             leave already-applied messages in the DLQ (default: delete them, their effect is done)
  --scope <name>             dedup scope (consumer name) of the markers / Powertools records
  --ledger-table <name>      table holding DEDUP# markers (default: $LEDGER_TABLE_NAME or output LedgerTableName)
  --idempotency-table <name> Powertools table (default: $IDEMPOTENCY_TABLE_NAME or output IdempotencyTableName)
  --outputs <file>           cdk --outputs-file JSON (default: .local/outputs.json when present)
  --env-file <file>          KEY=value file loaded into the environment (default: .local/env with the local outputs)
  --no-env-file              do not load an env file (talk to AWS with the ambient credentials)
  --stack <name>             stack in the outputs file
  --max <n>                  stop after n messages (default 1000)
  --visibility <seconds>     how long a message stays hidden while examined (default 120)
  --json                     print the report as JSON
`;

/**
 * Parses `redrive` arguments.
 * @throws RedriveUsageError naming the flag when an argument is unknown, missing or not a number.
 */
export function parseRedriveArgs(argv: readonly string[]): RedriveCliOptions {
  const positional: string[] = [];
  const values: Record<string, string> = {};
  const flags = new Set<string>();
  const withValue = new Set([
    'to', 'ledger-table', 'idempotency-table', 'scope', 'outputs', 'env-file', 'stack', 'max', 'visibility',
  ]);
  const boolean = new Set(['dry-run', 'include-applied', 'keep-applied', 'no-env-file', 'json', 'help']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [rawName, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (boolean.has(rawName)) {
      flags.add(rawName);
    } else if (withValue.has(rawName)) {
      const value = inline ?? argv[++i];
      if (value === undefined || value.startsWith('--')) throw new RedriveUsageError(`--${rawName} needs a value`);
      values[rawName] = value;
    } else {
      throw new RedriveUsageError(`Unknown option --${rawName}\n\n${REDRIVE_USAGE}`);
    }
  }
  if (flags.has('help')) throw new RedriveUsageError(REDRIVE_USAGE);
  if (positional.length !== 1) {
    throw new RedriveUsageError(
      `Expected exactly one DLQ (URL, name or output key), got ${positional.length}: ${positional.join(' ') || '(none)'}\n\n${REDRIVE_USAGE}`,
    );
  }
  if (flags.has('include-applied') && flags.has('keep-applied')) {
    throw new RedriveUsageError('--include-applied resends applied messages and --keep-applied keeps them: choose one');
  }
  return {
    dlq: positional[0]!,
    to: values['to'],
    dryRun: flags.has('dry-run'),
    includeApplied: flags.has('include-applied'),
    keepApplied: flags.has('keep-applied'),
    ledgerTable: values['ledger-table'],
    idempotencyTable: values['idempotency-table'],
    scope: values['scope'],
    outputsFile: values['outputs'],
    envFile: flags.has('no-env-file') ? false : values['env-file'],
    stack: values['stack'],
    max: positiveInt('max', values['max'], 1000),
    visibilityTimeoutSeconds: positiveInt('visibility', values['visibility'], 120),
    json: flags.has('json'),
  };
}

function positiveInt(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new RedriveUsageError(`--${flag} must be a positive integer, got "${raw}"`);
  return n;
}
