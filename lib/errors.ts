/**
 * Errors raised while building the infrastructure (synth time). Every message names the value given and the fix.
 */

/** Base class of every error thrown by the stack, the constructs and the config parser. */
export class BlueprintError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BlueprintError';
  }
}

/** A CDK context value (stage, webhookUrl, …) is missing or invalid. */
export class ConfigError extends BlueprintError {
  /** The context key that is wrong. */
  readonly key: string;

  constructor(key: string, message: string, options?: ErrorOptions) {
    super(`Invalid context "${key}": ${message}`, options);
    this.name = 'ConfigError';
    this.key = key;
  }
}

/** A construct was given props that AWS would reject or that break the exactly-once guarantee. */
export class ConstructValidationError extends BlueprintError {
  /** Path of the construct in the tree, e.g. `ExactlyOncePayments-dev/Ledger`. */
  readonly constructPath: string;

  constructor(constructPath: string, message: string, options?: ErrorOptions) {
    super(`${constructPath}: ${message}`, options);
    this.name = 'ConstructValidationError';
    this.constructPath = constructPath;
  }
}

/** The stack would ship something that must never reach AWS (e.g. a fault-injection variable). */
export class UnsafeDeploymentError extends BlueprintError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UnsafeDeploymentError';
  }
}
