/** Account id of every local ARN (the one fauxqs and DynamoDB Local use). */
export const LOCAL_ACCOUNT_ID = '000000000000';
/** Partition of every local ARN. */
export const LOCAL_PARTITION = 'aws';
/** `AWS::URLSuffix`. */
export const LOCAL_URL_SUFFIX = 'amazonaws.com';
/**
 * Default ports of `npm start` (each overridable by flag or option): the API, the edge endpoint every SDK client uses
 * (like LocalStack's), and DynamoDB Local behind it (0 = a free port; fauxqs always gets a free one).
 */
export const DEFAULT_PORTS = { api: 3000, edge: 4566, dynamodb: 0 } as const;
/** Where the runtime writes outputs.json, env and the synthesized assembly. */
export const DEFAULT_OUT_DIR = '.local';
/** Lambda defaults when the template leaves them out. */
export const LAMBDA_DEFAULTS = { timeoutSeconds: 3, memorySize: 128 } as const;
/** Warm instances per function when the template sets no ReservedConcurrentExecutions. */
export const DEFAULT_FUNCTION_CONCURRENCY = 10;
