/** A Secrets Manager error, as the service names it (`__type` of the JSON answer). */
export class SecretsManagerError extends Error {
  /** The AWS error code, e.g. `ResourceNotFoundException`. */
  readonly code: string;
  /** HTTP status of the answer. */
  readonly statusCode: number;

  constructor(code: string, message: string, statusCode = 400, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SecretsManagerError';
    this.code = code;
    this.statusCode = statusCode;
  }
}

/** A template's secret cannot be served locally (an unsupported GenerateSecretString option, say). */
export class SecretProvisioningError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SecretProvisioningError';
  }
}
