/**
 * us-east-1 list prices used for "dollars per million payments". Free tiers are ignored (they do not scale).
 * Check the sources before quoting a figure; prices change.
 */
export const PRICES = {
  /** On-demand write request unit. https://aws.amazon.com/dynamodb/pricing/on-demand/ ($0.625 per million WRU) */
  dynamodbWriteRequestUnit: 0.625 / 1e6,
  /** On-demand read request unit. https://aws.amazon.com/dynamodb/pricing/on-demand/ ($0.125 per million RRU) */
  dynamodbReadRequestUnit: 0.125 / 1e6,
  /**
   * DynamoDB Streams GetRecords made by a Lambda trigger are free.
   * https://aws.amazon.com/dynamodb/pricing/on-demand/ ("Change data capture for AWS Lambda triggers")
   */
  dynamodbStreamsReadByLambda: 0,
  /** SQS FIFO request (per 64 KB chunk). https://aws.amazon.com/sqs/pricing/ ($0.50 per million) */
  sqsFifoRequest: 0.5 / 1e6,
  /** SQS standard request (per 64 KB chunk). https://aws.amazon.com/sqs/pricing/ ($0.40 per million) */
  sqsStandardRequest: 0.4 / 1e6,
  /** Lambda request. https://aws.amazon.com/lambda/pricing/ ($0.20 per million) */
  lambdaRequest: 0.2 / 1e6,
  /** Lambda duration, arm64, per GB-second (first pricing tier). https://aws.amazon.com/lambda/pricing/ */
  lambdaArmGbSecond: 0.0000133334,
} as const;

/** Price sources, printed in BENCHMARKS.md. */
export const PRICE_SOURCES = [
  'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  'https://aws.amazon.com/sqs/pricing/',
  'https://aws.amazon.com/lambda/pricing/',
] as const;
