import { LocalRuntimeError } from '../errors.js';

/** The gateway was wired wrongly (a service mounted twice, a URL asked for before it listens). */
export class GatewaySetupError extends LocalRuntimeError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'GatewaySetupError';
  }
}
