import { LocalRuntimeError } from '../errors.js';

/** Base class of the errors the IAM evaluator and the action mapping raise. */
export class IamError extends LocalRuntimeError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'IamError';
  }
}

/**
 * A policy statement cannot be evaluated (an unknown condition operator, a malformed value, a statement without
 * Action). AWS would have refused the policy when it was created; locally the evaluator fails closed: the request
 * is denied with this error's message as the reason (AWS: "If the enforcement code encounters an error at any point
 * during the evaluation, then it generates an exception and closes").
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 */
export class PolicyEvaluationError extends IamError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PolicyEvaluationError';
  }
}

/**
 * An API request lacks what its authorization needs (e.g. SendMessage without QueueUrl). The gateway answers it the
 * way the service answers a missing required parameter (DynamoDB: ValidationException; SQS: MissingParameter).
 */
export class RequestMappingError extends IamError {
  public readonly operation: string;
  public readonly field: string;
  public constructor(operation: string, field: string, message: string, options?: ErrorOptions) {
    super(`${operation}: ${message}`, options);
    this.name = 'RequestMappingError';
    this.operation = operation;
    this.field = field;
  }
}
