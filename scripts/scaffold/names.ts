import { InvalidConsumerNameError } from './errors.js';

/**
 * Names the scaffold may not use: the pipeline's own functions and folders, and words that would shadow
 * generated identifiers or stack outputs.
 */
export const RESERVED_NAMES: readonly string[] = [
  'shared',
  'ledger',
  'relay',
  'notifier',
  'outbox-sweeper',
  'loyalty',
  'create-payment',
  'get-account',
  'payments',
  'events',
  'consumers',
  'index',
  'types',
  'constructs',
  'test',
  'fixtures',
];

/** Rule of a consumer name: kebab-case, 2–40 characters, starting with a letter. */
export const CONSUMER_NAME_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** Every spelling of a consumer name the templates need. */
export interface ConsumerNames {
  /** kebab-case: folder, file, dedup scope (`loyalty-points`). */
  readonly name: string;
  /** PascalCase: construct id, output prefix (`LoyaltyPoints`). */
  readonly Pascal: string;
  /** camelCase: functions, context key (`loyaltyPoints`). */
  readonly camel: string;
  /** CONSTANT_CASE: item prefixes, constants (`LOYALTY_POINTS`). */
  readonly CONST: string;
  /** snake_case: event ids (`loyalty_points`). */
  readonly snake: string;
}

/**
 * Validates a consumer name and derives its spellings.
 * @throws InvalidConsumerNameError naming the rule that failed and an example of a valid name.
 */
export function consumerNames(name: string): ConsumerNames {
  if (name.length < 2 || name.length > 40) {
    throw new InvalidConsumerNameError(name, `it has ${name.length} characters; use 2 to 40 (for example "loyalty-points")`);
  }
  if (!CONSUMER_NAME_PATTERN.test(name)) {
    throw new InvalidConsumerNameError(
      name,
      'use kebab-case: lowercase letters and digits in words joined by single hyphens, starting with a letter (for example "loyalty-points")',
    );
  }
  if (RESERVED_NAMES.includes(name)) {
    throw new InvalidConsumerNameError(name, `it is reserved (${RESERVED_NAMES.join(', ')}); choose another name`);
  }
  const words = name.split('-');
  const Pascal = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  return {
    name,
    Pascal,
    camel: Pascal[0]!.toLowerCase() + Pascal.slice(1),
    CONST: words.join('_').toUpperCase(),
    snake: words.join('_'),
  };
}
