import { ExactlyOnceError, InvalidInputError } from '../shared/errors.js';

/**
 * A stream record or outbox item that claims to carry an event but cannot be published: bad JSON, no schema
 * registered for its type, a payload that fails the schema, or no route for its type. Retrying cannot fix it, so the
 * relay does not retry it: the outbox item is marked `rejectedAt` with the reason, logged and counted
 * (`OutboxEventsRejected`), and the records behind it go on. `npm run replay-outbox -- --include-rejected` publishes it
 * once the cause is fixed.
 */
export class UnprocessableRecordError extends InvalidInputError {
  readonly sequenceNumber: string;
  /** The event id, when the item names one. */
  readonly eventId?: string;

  constructor(sequenceNumber: string, reasons: readonly string[], options?: ErrorOptions & { eventId?: string }) {
    super(`Stream record ${sequenceNumber}${options?.eventId ? ` (${options.eventId})` : ''} carries no publishable event: ${reasons.join('; ')}`, reasons, options);
    this.name = 'UnprocessableRecordError';
    this.sequenceNumber = sequenceNumber;
    this.eventId = options?.eventId;
  }
}

/** `OUTBOX_ROUTES` is missing or malformed: the relay cannot start (a cold-start failure, not a record failure). */
export class InvalidRoutesError extends ExactlyOnceError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidRoutesError';
  }
}
