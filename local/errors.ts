/** Base class of every error the local runtime raises on purpose. */
export class LocalRuntimeError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LocalRuntimeError';
  }
}

/** The app could not be synthesized or the cloud assembly could not be read. */
export class AssemblyError extends LocalRuntimeError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AssemblyError';
  }
}

/** A template value could not be resolved locally; `path` names the resource and property. */
export class TemplateResolutionError extends LocalRuntimeError {
  public readonly path: string;
  public constructor(path: string, message: string, options?: ErrorOptions) {
    super(`${path}: ${message}`, options);
    this.name = 'TemplateResolutionError';
    this.path = path;
  }
}

/** A resource could not be created in the emulators. */
export class ProvisioningError extends LocalRuntimeError {
  public readonly logicalId: string;
  public constructor(logicalId: string, message: string, options?: ErrorOptions) {
    super(`${logicalId}: ${message}`, options);
    this.name = 'ProvisioningError';
    this.logicalId = logicalId;
  }
}
