import { InvalidInputError } from '../shared/errors.js';

/** A request the API refuses with a 4xx: status, a stable code, a message saying what is wrong, and details. */
export class RequestRejectedError extends InvalidInputError {
  readonly statusCode: number;
  readonly code: string;

  constructor(statusCode: number, code: string, message: string, details: readonly string[] = [], options?: ErrorOptions) {
    super(message, details, options);
    this.name = 'RequestRejectedError';
    this.statusCode = statusCode;
    this.code = code;
  }
}
