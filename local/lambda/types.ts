/**
 * Contracts between the local Lambda runtime (local/lambda/**) and its callers
 * (event-source-mapping pollers in local/esm/**, the API Gateway emulator, tests).
 */

/** Outcome of one local Lambda invocation, shaped like the Invoke API's result. */
export interface InvokeResult {
  /** true when the handler returned (or resolved) without throwing and did not time out. */
  ok: boolean;
  /** The handler's return value (JSON round-tripped), when `ok`. */
  payload?: unknown;
  /** The error as AWS reports it (`{errorType, errorMessage}`), when not `ok`. */
  error?: { errorType: string; errorMessage: string };
  /** true when the invocation ran past the function's Timeout (`Task timed out after N seconds`). */
  timedOut: boolean;
  /** Wall-clock duration of the invocation in milliseconds. */
  durationMs: number;
  /** The awsRequestId given to the handler's context. */
  requestId: string;
}

/** A function that can be invoked locally; one per AWS::Lambda::Function of the template. */
export interface FunctionInvoker {
  /** Physical function name (FunctionName property or a CDK-like generated name). */
  readonly functionName: string;
  /** Local function ARN (`arn:aws:lambda:<region>:<account>:function:<name>`). */
  readonly arn: string;
  /** The function's Timeout in seconds (default 3, as on AWS). */
  readonly timeoutSeconds: number;
  /** Invoke once; never rejects for handler errors or timeouts (they are reported in the result). */
  invoke(event: unknown): Promise<InvokeResult>;
}
