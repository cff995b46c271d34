import { InvalidInputError } from '../shared/errors.js';

/** A stream record that claims to carry an event but cannot be turned into one: reported failed, it ends up at the
 * mapping's on-failure destination once the bounded retries are spent. */
export class UnprocessableRecordError extends InvalidInputError {
  readonly sequenceNumber: string;

  constructor(sequenceNumber: string, reasons: readonly string[], options?: ErrorOptions) {
    super(`Stream record ${sequenceNumber} carries no valid payment event: ${reasons.join('; ')}`, reasons, options);
    this.name = 'UnprocessableRecordError';
    this.sequenceNumber = sequenceNumber;
  }
}
