/**
 * Conformance suite, what AWS rejects when the mapping is created (S1, S2, S3, S11, S12, S14, D1, D3, D7, D9):
 * `validateMappings` must throw naming the mapping's logical id and the rule, so the local runtime refuses to start
 * a template AWS would refuse to deploy.
 */
import { describe, expect, it } from 'vitest';
import { MappingValidationError, validateMappings, type ResolvedMapping, type ValidationContext } from '../../../local/esm/index.js';

const STANDARD = 'arn:aws:sqs:us-east-1:000000000000:payments';
const FIFO = 'arn:aws:sqs:us-east-1:000000000000:payments.fifo';
const STREAM = 'arn:aws:dynamodb:ddblocal:000000000000:table/Ledger/stream/2026-01-01T00:00:00.000';
const FN = 'arn:aws:lambda:us-east-1:000000000000:function:ledger';

const context: ValidationContext = {
  queueAttributesByArn: new Map<string, Record<string, string>>([
    [STANDARD, { VisibilityTimeout: '30' }],
    [FIFO, { VisibilityTimeout: '30', FifoQueue: 'true' }],
  ]),
  functionTimeoutByArn: new Map([[FN, 5]]),
};

const sqs = (props: Partial<ResolvedMapping> = {}): ResolvedMapping => ({
  logicalId: 'PaymentsMapping', functionRef: FN, eventSourceArn: STANDARD, ...props,
});
const stream = (props: Partial<ResolvedMapping> = {}): ResolvedMapping => ({
  logicalId: 'RelayMapping', functionRef: FN, eventSourceArn: STREAM, startingPosition: 'TRIM_HORIZON', ...props,
});

describe('validateMappings', () => {
  it('S1/S3/S11/D1/D3/D7/D9: accepts valid SQS, FIFO and stream mappings with every setting at its limit', () => {
    expect(() => validateMappings([
      sqs({ batchSize: 10_000, maximumBatchingWindowSeconds: 300, maximumConcurrency: 1000, functionResponseTypes: ['ReportBatchItemFailures'] }),
      sqs({ eventSourceArn: FIFO, batchSize: 10, maximumConcurrency: 2 }),
      stream({ batchSize: 10_000, maximumRetryAttempts: 10_000, maximumRecordAgeInSeconds: 604_800, parallelizationFactor: 10, bisectBatchOnFunctionError: true }),
      stream({ startingPosition: 'LATEST', maximumRetryAttempts: -1, maximumRecordAgeInSeconds: -1 }),
    ], context)).not.toThrow();
  });

  const rejected: [string, ResolvedMapping, RegExp][] = [
    ['S1: rejects BatchSize 0', sqs({ batchSize: 0 }), /PaymentsMapping \(S1\): BatchSize 0 is outside 1–10000/],
    ['S1: rejects BatchSize above 10,000 on a standard queue', sqs({ batchSize: 10_001, maximumBatchingWindowSeconds: 1 }), /PaymentsMapping \(S1\)/],
    ['S1: rejects BatchSize above 10 on a FIFO queue', sqs({ eventSourceArn: FIFO, batchSize: 11 }), /PaymentsMapping \(S1\): BatchSize 11 is outside 1–10 for a FIFO queue/],
    ['S2: rejects BatchSize above 10 without a batching window', sqs({ batchSize: 11 }), /PaymentsMapping \(S2\): BatchSize 11 > 10 requires MaximumBatchingWindowInSeconds ≥ 1 \(got 0\)/],
    ['S3: rejects a batching window above 300 s', sqs({ maximumBatchingWindowSeconds: 301 }), /PaymentsMapping \(S3\): MaximumBatchingWindowInSeconds 301/],
    ['S3: rejects a batching window on a FIFO queue', sqs({ eventSourceArn: FIFO, maximumBatchingWindowSeconds: 1 }), /PaymentsMapping \(S3\): .*not supported for FIFO/],
    ['S11: rejects MaximumConcurrency 1', sqs({ maximumConcurrency: 1 }), /PaymentsMapping \(S11\): ScalingConfig.MaximumConcurrency 1 is outside 2–1000/],
    ['S11: rejects MaximumConcurrency 1001', sqs({ maximumConcurrency: 1001 }), /PaymentsMapping \(S11\)/],
    ['S11: rejects MaximumConcurrency on a stream', stream({ maximumConcurrency: 5 }), /RelayMapping \(S11\)/],
    ['S14: rejects more than 5 filters', sqs({ filterPatterns: Array.from({ length: 6 }, () => ({ body: { a: ['x'] } })) }), /PaymentsMapping \(S14\): FilterCriteria has 6 filters/],
    ['S14: rejects an invalid filter pattern', sqs({ filterPatterns: [{ body: { a: 'x' } }] }), /PaymentsMapping \(S14\): Filter pattern field "body.a"/],
    ['D3: rejects stream-only settings (MaximumRetryAttempts) on an SQS mapping', sqs({ maximumRetryAttempts: 2 }), /PaymentsMapping \(CreateEventSourceMapping\): MaximumRetryAttempts is not supported for SQS/],
    ['D1: rejects a stream mapping without StartingPosition', stream({ startingPosition: undefined }), /RelayMapping \(D1\): StartingPosition is required/],
    ['D1: rejects AT_TIMESTAMP on a DynamoDB stream', stream({ startingPosition: 'AT_TIMESTAMP' }), /RelayMapping \(D1\): StartingPosition AT_TIMESTAMP/],
    ['D1: rejects stream BatchSize above 10,000', stream({ batchSize: 10_001 }), /RelayMapping \(D1\): BatchSize 10001/],
    ['D3: rejects MaximumRetryAttempts below -1', stream({ maximumRetryAttempts: -2 }), /RelayMapping \(D3\)/],
    ['D7: rejects MaximumRecordAgeInSeconds 59', stream({ maximumRecordAgeInSeconds: 59 }), /RelayMapping \(D7\): MaximumRecordAgeInSeconds 59 must be −1 \(infinite\) or 60–604800/],
    ['D7: rejects MaximumRecordAgeInSeconds above 604,800', stream({ maximumRecordAgeInSeconds: 604_801 }), /RelayMapping \(D7\)/],
    ['D9: rejects ParallelizationFactor 11', stream({ parallelizationFactor: 11 }), /RelayMapping \(D9\): ParallelizationFactor 11 is outside 1–10/],
    ['D9: rejects ParallelizationFactor 0', stream({ parallelizationFactor: 0 }), /RelayMapping \(D9\)/],
  ];
  for (const [label, mapping, message] of rejected) {
    it(label, () => {
      expect(() => validateMappings([mapping], context)).toThrow(message);
    });
  }

  it('S12: rejects a function timeout above the queue visibility timeout, naming both and the fix', () => {
    // GIVEN a 60 s function on a queue whose messages are hidden for 30 s
    const ctx: ValidationContext = { ...context, functionTimeoutByArn: { [FN]: 60 } };
    // WHEN / THEN
    expect(() => validateMappings([sqs()], ctx)).toThrow(
      /PaymentsMapping \(S12\): function timeout \(60 s\) exceeds the queue visibility timeout \(30 s\); set the visibility timeout to at least 60 s/,
    );
  });

  it('S12: accepts a function timeout equal to the visibility timeout, and finds a function referenced by name', () => {
    const ctx: ValidationContext = { ...context, functionTimeoutByArn: { [FN]: 30 } };
    expect(() => validateMappings([sqs({ functionRef: 'ledger' })], ctx)).not.toThrow();
    expect(() => validateMappings([sqs({ functionRef: 'ledger' })], { ...ctx, functionTimeoutByArn: { [FN]: 31 } })).toThrow(/S12/);
  });

  it('S12: rejects a mapping whose queue is not in the template (its visibility timeout cannot be checked)', () => {
    expect(() => validateMappings([sqs({ eventSourceArn: 'arn:aws:sqs:us-east-1:000000000000:missing' })], context)).toThrow(
      /PaymentsMapping \(CreateEventSourceMapping\): .*missing is not a queue of the template/,
    );
  });

  it('S2/D7/D9: throws one MappingValidationError listing every problem of every mapping', () => {
    try {
      validateMappings([sqs({ batchSize: 11 }), stream({ parallelizationFactor: 11, maximumRecordAgeInSeconds: 10 })], context);
      expect.unreachable('validateMappings should have thrown');
    } catch (error) {
      expect(error).toBeInstanceOf(MappingValidationError);
      expect((error as MappingValidationError).problems.map((p) => p.split(':')[0])).toEqual([
        'PaymentsMapping (S2)', 'RelayMapping (D7)', 'RelayMapping (D9)',
      ]);
    }
  });

  it('S1/D1: skips event sources other than SQS and DynamoDB Streams (Kinesis) instead of rejecting them', () => {
    expect(() => validateMappings([sqs({ eventSourceArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/s', batchSize: 0 })], context)).not.toThrow();
  });
});
