/** Base class for errors raised by the local event source mappings. */
export class EventSourceMappingError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EventSourceMappingError';
  }
}

/**
 * A mapping AWS would reject at deploy time (CreateEventSourceMapping returns InvalidParameterValueException).
 * `problems` lists every rule broken, each naming the mapping's logical id and the rule ID.
 */
export class MappingValidationError extends EventSourceMappingError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], options?: ErrorOptions) {
    super(
      `${problems.length} event source mapping problem(s) that AWS rejects at deploy:\n  - ${problems.join('\n  - ')}`,
      options,
    );
    this.name = 'MappingValidationError';
    this.problems = problems;
  }
}

/** A FilterCriteria pattern that is not valid AWS event-filter syntax. */
export class FilterPatternError extends EventSourceMappingError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FilterPatternError';
  }
}

/** The in-process SQS emulator could not be brought to AWS's behaviour (an unchecked fauxqs version or shape). */
export class EmulatorPatchError extends EventSourceMappingError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EmulatorPatchError';
  }
}
