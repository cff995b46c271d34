import { createHash } from 'node:crypto';

/** Longest physical name CloudFormation generates, by resource type. */
const MAX_LENGTH: Record<string, number> = {
  'AWS::SQS::Queue': 80,
  'AWS::Lambda::Function': 64,
  'AWS::IAM::Role': 64,
  'AWS::DynamoDB::Table': 255,
  'AWS::DynamoDB::GlobalTable': 255,
  'AWS::SNS::Topic': 256,
};

/**
 * A CloudFormation-like generated physical name: `<stack>-<logicalId>-<SUFFIX>`.
 *
 * The suffix is a hash of stack and logical id rather than random, so a restart gets the same names.
 * FIFO queues keep their mandatory `.fifo` ending.
 */
export function generatedPhysicalName(stackName: string, logicalId: string, type: string, fifo = false): string {
  const suffix = createHash('sha256').update(`${stackName}/${logicalId}`).digest('hex').slice(0, 12).toUpperCase();
  const ending = fifo ? '.fifo' : '';
  const max = (MAX_LENGTH[type] ?? 128) - ending.length;
  let stack = stackName;
  let logical = logicalId;
  // Trim the longer of the two parts first, as CloudFormation does, until the name fits.
  while (stack.length + logical.length + suffix.length + 2 > max) {
    if (stack.length >= logical.length) stack = stack.slice(0, -1);
    else logical = logical.slice(0, -1);
  }
  return `${stack}-${logical}-${suffix}${ending}`;
}

/** A short lowercase id like the ones API Gateway and other services generate (`a1b2c3d4e5`). */
export function generatedId(stackName: string, logicalId: string, length = 10): string {
  return createHash('sha256').update(`id/${stackName}/${logicalId}`).digest('hex').slice(0, length);
}
