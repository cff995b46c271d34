/**
 * Errors shared by every handler. Each area adds its own subclasses in its own `errors.ts`; handlers map them with
 * `instanceof` and never serialise one into a response.
 */

/** Base class of every error this project throws on purpose. */
export class ExactlyOnceError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ExactlyOnceError';
  }
}

/**
 * An input that can never succeed (bad JSON, schema violation): retrying it is pointless, it must be rejected
 * (API: 4xx) or dead-lettered (queues: reported failed until maxReceiveCount).
 */
export class InvalidInputError extends ExactlyOnceError {
  /** Human-readable reasons, one per problem (for example one per schema field). */
  readonly reasons: readonly string[];

  constructor(message: string, reasons: readonly string[] = [], options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidInputError';
    this.reasons = reasons;
  }
}

/** A failure that may succeed when retried (throttling, transaction conflicts, a 5xx from a downstream). */
export class RetryableError extends ExactlyOnceError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RetryableError';
  }
}

/** Formats zod-style issues as `path: message` lines (the shape Powertools parser and zod both produce). */
export function formatIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string[] {
  return issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
}
