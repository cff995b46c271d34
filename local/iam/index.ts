/**
 * IAM for the local runtime: AWS's policy evaluation logic and the IAM authorizations each API call needs (issue 10).
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 */
export * from './types.js';
export { evaluate, accessDeniedMessage, principalAccountOf } from './evaluate.js';
export { requiredAuthorizations, type ArnLookups, type ExecuteApiInvokeInput } from './actions.js';
export { CONDITION_OPERATORS, compileGlob, conditionsMatch, type ConditionContext, type ContextValue } from './conditions.js';
export { IamError, PolicyEvaluationError, RequestMappingError } from './errors.js';
