/**
 * Errors of the redrive tool. Each sets `name`, accepts `ErrorOptions` (`cause`) and says what to change.
 */

/** Base class: anything the redrive tool refuses or cannot do. */
export class RedriveError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RedriveError';
  }
}

/** The command line is wrong (unknown flag, missing argument). */
export class RedriveUsageError extends RedriveError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RedriveUsageError';
  }
}

/** A queue (the DLQ or its source) could not be found or is ambiguous. */
export class QueueResolutionError extends RedriveError {
  constructor(
    message: string,
    readonly queue: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'QueueResolutionError';
  }
}
