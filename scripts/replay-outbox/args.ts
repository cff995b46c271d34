import { ReplayUsageError } from './errors.js';

/** Options of `npm run replay-outbox`. */
export interface ReplayOptions {
  /** Only items created at or after this time. */
  readonly from?: Date;
  /** Only items created before this time. */
  readonly to?: Date;
  readonly eventType?: string;
  readonly dryRun: boolean;
  /** Also items already marked published (a downstream lost them). */
  readonly includePublished: boolean;
  /** Also items the relay rejected (after the cause is fixed). */
  readonly includeRejected: boolean;
  /** Send every selected event to this queue (URL or output key) instead of the stack's routes. */
  readonly queue?: string;
  /** Table name or output key. @default LedgerTableName */
  readonly table: string;
  readonly outputsFile?: string;
  readonly json: boolean;
}

export const REPLAY_USAGE = `Usage: npm run replay-outbox -- [options]
Re-publishes outbox events (the items the relay publishes) from the effects table. By default: the items never
published, of every type, over the whole table, to the queues the stack routes their types to.

  --from <iso>            only items created at or after this time (e.g. 2026-12-01T09:00:00Z)
  --to <iso>              only items created before this time
  --event-type <type>     only this event type (e.g. PaymentApplied)
  --include-published     also items already marked published (a downstream lost them; consumers dedup by event id)
  --include-rejected      also items the relay rejected (fix the schema, route or producer first)
  --queue <url|OutputKey> send every selected event to this queue instead of the stack's routes
  --table <name|OutputKey> the effects table (default: output LedgerTableName)
  --outputs <file>        a cdk deploy --outputs-file (default: .local/outputs.json and .local/env when present)
  --dry-run               list what would be published; write and send nothing
  --json                  print the report as JSON`;

/**
 * Parses the replay-outbox command line.
 * @throws ReplayUsageError naming the bad flag or value (its message is the usage for --help).
 */
export function parseReplayArgs(argv: readonly string[]): ReplayOptions {
  const out: { -readonly [K in keyof ReplayOptions]?: ReplayOptions[K] } = {
    dryRun: false,
    includePublished: false,
    includeRejected: false,
    table: 'LedgerTableName',
    json: false,
  };
  const value = (index: number, flag: string) => {
    const next = argv[index + 1];
    if (next === undefined || next.startsWith('--')) throw new ReplayUsageError(`${flag} needs a value\n\n${REPLAY_USAGE}`);
    return next;
  };
  const date = (text: string, flag: string) => {
    const parsed = new Date(text);
    if (Number.isNaN(parsed.getTime())) throw new ReplayUsageError(`${flag} "${text}" is not a date: pass ISO-8601, e.g. 2026-12-01T09:00:00Z`);
    return parsed;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    switch (arg) {
      case '--help':
        throw new ReplayUsageError(REPLAY_USAGE);
      case '--from':
        out.from = date(value(i, arg), arg);
        i++;
        break;
      case '--to':
        out.to = date(value(i, arg), arg);
        i++;
        break;
      case '--event-type':
        out.eventType = value(i, arg);
        i++;
        break;
      case '--queue':
        out.queue = value(i, arg);
        i++;
        break;
      case '--table':
        out.table = value(i, arg);
        i++;
        break;
      case '--outputs':
        out.outputsFile = value(i, arg);
        i++;
        break;
      case '--dry-run':
        out.dryRun = true;
        break;
      case '--include-published':
        out.includePublished = true;
        break;
      case '--include-rejected':
        out.includeRejected = true;
        break;
      case '--json':
        out.json = true;
        break;
      default:
        throw new ReplayUsageError(`unknown option "${arg}"\n\n${REPLAY_USAGE}`);
    }
  }
  if (out.from && out.to && out.from.getTime() >= out.to.getTime()) {
    throw new ReplayUsageError(`--from (${out.from.toISOString()}) must be before --to (${out.to.toISOString()})`);
  }
  return out as ReplayOptions;
}
