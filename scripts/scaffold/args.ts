import { ScaffoldUsageError } from './errors.js';

/** Queue type of a generated consumer. */
export type QueueKind = 'fifo' | 'standard';
/** Where the consumer's effect happens: a DynamoDB write (atomic core) or an external call (Powertools). */
export type EffectKind = 'dynamodb' | 'external';

/** What to generate. */
export interface ConsumerSpec {
  readonly name: string;
  readonly queue: QueueKind;
  readonly effect: EffectKind;
  /** Emit an outbox event in the same transaction (DynamoDB effect only). */
  readonly outbox: boolean;
}

/** Help text of `npm run new` (printed with every usage error). */
export const NEW_USAGE = `Usage: npm run new -- consumer <name> --queue fifo|standard --effect dynamodb|external [--outbox]

Generates an exactly-once consumer: lambdas/<name>/ (handler, domain, errors), test/lambdas/<name>/, and its
wiring in lib/consumers/<name>.ts, registered in lib/consumers/index.ts.

  <name>                   kebab-case, 2-40 characters, not a name the pipeline uses
  --queue fifo|standard    FIFO (order per message group) or standard queue
  --effect dynamodb        the effect is a DynamoDB write: marker + your items in ONE transaction (atomic core)
  --effect external        the effect is outside AWS (HTTP): Powertools idempotency per record
  --outbox                 also put an outbox event in the same transaction (needs --effect dynamodb)
  --root <dir>             project root (default: the current directory)
`;

/** Parsed command line of `npm run new`. */
export interface NewCommand {
  readonly spec: ConsumerSpec;
  readonly root?: string;
}

/**
 * Parses `consumer <name> --queue … --effect … [--outbox]`.
 * @throws ScaffoldUsageError naming the missing or wrong argument, with the usage text.
 */
export function parseNewArgs(argv: readonly string[]): NewCommand {
  const positional: string[] = [];
  const values: Record<string, string> = {};
  let outbox = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--outbox') {
      outbox = true;
    } else if (arg === '--help' || arg === '-h') {
      throw new ScaffoldUsageError(NEW_USAGE);
    } else if (arg.startsWith('--')) {
      const [flag, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      if (!['queue', 'effect', 'root'].includes(flag)) throw new ScaffoldUsageError(`Unknown option --${flag}\n\n${NEW_USAGE}`);
      const value = inline ?? argv[++i];
      if (value === undefined || value.startsWith('--')) throw new ScaffoldUsageError(`--${flag} needs a value\n\n${NEW_USAGE}`);
      values[flag] = value;
    } else {
      positional.push(arg);
    }
  }
  if (positional[0] !== 'consumer') {
    throw new ScaffoldUsageError(`Expected "consumer" as the first argument, got ${positional[0] ?? 'nothing'}\n\n${NEW_USAGE}`);
  }
  if (positional.length !== 2) {
    throw new ScaffoldUsageError(`Expected one consumer name, got ${positional.length - 1}\n\n${NEW_USAGE}`);
  }
  const queue = values['queue'];
  if (queue !== 'fifo' && queue !== 'standard') {
    throw new ScaffoldUsageError(`--queue must be fifo or standard, got ${queue ?? 'nothing'}\n\n${NEW_USAGE}`);
  }
  const effect = values['effect'];
  if (effect !== 'dynamodb' && effect !== 'external') {
    throw new ScaffoldUsageError(`--effect must be dynamodb or external, got ${effect ?? 'nothing'}\n\n${NEW_USAGE}`);
  }
  if (outbox && effect !== 'dynamodb') {
    throw new ScaffoldUsageError(
      '--outbox needs --effect dynamodb: the outbox item commits in the same transaction as the effect, so the effect must be a DynamoDB write',
    );
  }
  return { spec: { name: positional[1]!, queue, effect, outbox }, root: values['root'] };
}

/** The command that generates `spec` (written into the generated files). */
export function commandFor(spec: ConsumerSpec): string {
  return `npm run new -- consumer ${spec.name} --queue ${spec.queue} --effect ${spec.effect}${spec.outbox ? ' --outbox' : ''}`;
}
