/** Base class of the flight recorder's and the journey tools' errors. */
export class RecorderError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RecorderError';
  }
}

/** A recorder option is out of range; the message names the value and the allowed range. */
export class RecorderOptionError extends RecorderError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RecorderOptionError';
  }
}

/** `npm run trace` could not run: a bad argument, a missing outputs file or SDK, or a failed query. */
export class TraceError extends RecorderError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TraceError';
  }
}
