import { LocalRuntimeError } from '../errors.js';

/** A schedule expression the local runtime cannot run (malformed, or a feature it does not emulate). */
export class ScheduleExpressionError extends LocalRuntimeError {
  public readonly expression: string;
  public constructor(expression: string, message: string, options?: ErrorOptions) {
    super(`schedule expression "${expression}": ${message}`, options);
    this.name = 'ScheduleExpressionError';
    this.expression = expression;
  }
}

/** `trigger(id)` named no schedule of the template. */
export class UnknownScheduleError extends LocalRuntimeError {
  public constructor(id: string, known: readonly string[]) {
    super(`no schedule "${id}" in the template; known: ${known.length ? known.join(', ') : '(none)'}`);
    this.name = 'UnknownScheduleError';
  }
}
