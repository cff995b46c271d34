/** The policy engine the gateway uses (the evaluator and the C1 action mapping), in one place. */
export { evaluate, requiredAuthorizations } from '../iam/index.js';
