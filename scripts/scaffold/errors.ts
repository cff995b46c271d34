/** Errors of `npm run new`. Each sets `name`, accepts `ErrorOptions` and says what to do instead. */

/** Base class: the scaffold refused or could not generate a consumer. */
export class ScaffoldError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ScaffoldError';
  }
}

/** The command line is wrong (unknown flag, missing or bad value). */
export class ScaffoldUsageError extends ScaffoldError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ScaffoldUsageError';
  }
}

/** The consumer name breaks a naming rule. */
export class InvalidConsumerNameError extends ScaffoldError {
  constructor(
    readonly consumerName: string,
    reason: string,
  ) {
    super(`Invalid consumer name "${consumerName}": ${reason}`);
    this.name = 'InvalidConsumerNameError';
  }
}

/** A consumer (or any code) of that name already exists; nothing was written. */
export class ConsumerExistsError extends ScaffoldError {
  constructor(
    readonly consumerName: string,
    readonly existing: readonly string[],
  ) {
    super(
      `A consumer named "${consumerName}" already exists (${existing.join(', ')}); nothing was written. ` +
        'Pick another name, or delete those files (and its line in lib/consumers/index.ts) first.',
    );
    this.name = 'ConsumerExistsError';
  }
}
