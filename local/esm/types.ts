import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { FunctionInvoker } from '../lambda/types.js';

export type { FunctionInvoker, InvokeResult } from '../lambda/types.js';

/** Where a stream mapping starts reading a shard. */
export type StartingPosition = 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';

/** One AWS event filter pattern, already parsed from its JSON string (`FilterCriteria.Filters[].Pattern`). */
export type FilterPattern = Record<string, unknown>;

/**
 * An `AWS::Lambda::EventSourceMapping` with its CloudFormation properties resolved to plain values.
 *
 * The runtime core (template reader) builds these; optional fields keep AWS's defaults when absent.
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-eventsourcemapping.html
 */
export interface ResolvedMapping {
  /** Logical id of the mapping in the template, used in errors and logs. */
  readonly logicalId: string;
  /** ARN of the target function (key into the invokers map). */
  readonly functionRef: string;
  /** ARN of the SQS queue or DynamoDB stream. */
  readonly eventSourceArn: string;
  /** @default 10 for SQS, 100 for streams (S1, D1) */
  readonly batchSize?: number;
  /** @default 0 (S3, D1) */
  readonly maximumBatchingWindowSeconds?: number;
  /** `['ReportBatchItemFailures']` turns partial batch responses on. @default [] */
  readonly functionResponseTypes?: readonly string[];
  /** `FilterCriteria.Filters[].Pattern`, parsed. Up to 5, OR-ed. @default - every record matches */
  readonly filterPatterns?: readonly FilterPattern[];
  /** `ScalingConfig.MaximumConcurrency` (SQS only, 2–1000). @default - no mapping-level cap (S11) */
  readonly maximumConcurrency?: number;
  /** Streams only, required there (D1). */
  readonly startingPosition?: StartingPosition;
  /** Streams only; `AT_TIMESTAMP` start, epoch seconds. */
  readonly startingPositionTimestamp?: number;
  /** Streams only; -1 = retry until the record expires. @default -1 (D3) */
  readonly maximumRetryAttempts?: number;
  /** Streams only; -1 or 60–604800. @default -1 (D7) */
  readonly maximumRecordAgeInSeconds?: number;
  /** Streams only. @default false (D4) */
  readonly bisectBatchOnFunctionError?: boolean;
  /** Streams only, 1–10. @default 1 (D9) */
  readonly parallelizationFactor?: number;
  /** `DestinationConfig.OnFailure.Destination`: an SQS queue ARN (SNS is not supported locally). @default - none (D6) */
  readonly onFailureDestination?: string;
  /** @default true */
  readonly enabled?: boolean;
}

/** What the ESM layer needs to know about a queue: its URL and its attributes (as GetQueueAttributes returns them). */
export interface QueueInfo {
  readonly url: string;
  /** e.g. `{ FifoQueue: 'true', VisibilityTimeout: '30' }` */
  readonly attributes: Readonly<Record<string, string>>;
}

/** Options for `startEventSourceMappings`. */
export interface EventSourceMappingsOptions {
  readonly mappings: readonly ResolvedMapping[];
  /** Function invokers keyed by function ARN (`ResolvedMapping.functionRef`). */
  readonly invokers: ReadonlyMap<string, FunctionInvoker>;
  readonly sqs: SQSClient;
  readonly streams: DynamoDBStreamsClient;
  /** Resolves a queue ARN (source or on-failure destination) to its URL and attributes; undefined if unknown. */
  readonly queueByArn: (arn: string) => QueueInfo | undefined;
  /** Lines for notable mapping events (invalid responses, bisection, discards, API errors). @default - silent */
  readonly log?: (line: string) => void;
  /**
   * Also log one line per invocation (function ← source, batch size, duration, outcome). Turn off when the function
   * runtime already logs every invocation.
   * @default true
   */
  readonly logInvocations?: boolean;
  readonly region: string;
  readonly accountId: string;
  /** Stream shard polling interval (D2: about 4 per second). @default 250 */
  readonly streamPollIntervalMs?: number;
  /** SQS long-poll wait per ReceiveMessage call, seconds (1–20). @default 1 */
  readonly sqsWaitTimeSeconds?: number;
  /**
   * Concurrent pollers for a standard queue without MaximumConcurrency (AWS starts at 5, S11).
   * @default 5
   */
  readonly defaultSqsConcurrency?: number;
  /**
   * Clock for record age (D7), epoch ms. Tests inject one so MaximumRecordAgeInSeconds (minimum 60 s) can be
   * exercised without waiting a minute.
   * @default Date.now
   */
  readonly clock?: () => number;
}

/** Counters of one mapping. */
export interface MappingStats {
  readonly logicalId: string;
  readonly functionName: string;
  readonly eventSourceArn: string;
  /** Function invocations made. */
  invocations: number;
  /** Batches taken from the source: SQS receives (a redelivered message is in a new batch), stream batches before retries. */
  batches: number;
  /** Records delivered across all invocations. */
  records: number;
  /** Invocations that failed (throw, timeout, or whole-batch failure response). */
  failures: number;
  /** Records reported in partial batch responses. */
  partialFailures: number;
  /** Records dropped by filter criteria. */
  filteredOut: number;
  /** Batches (streams) sent to the on-failure destination. */
  discarded: number;
}

/** Handle returned by `startEventSourceMappings`. */
export interface EventSourceMappings {
  /** Stops every poller and waits for running invocations to finish. */
  stop(): Promise<void>;
  /** True when no mapped queue has visible or in-flight messages, every shard is read to its end, and nothing runs. */
  idle(): boolean;
  /** Per-mapping counters. */
  stats(): MappingStats[];
}

/** Context for {@link validateMappings}: what AWS checks at mapping creation. */
export interface ValidationContext {
  /** Queue attributes by queue ARN (`FifoQueue`, `VisibilityTimeout`). */
  readonly queueAttributesByArn: ReadonlyMap<string, Readonly<Record<string, string>>> | Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Function timeout in seconds by function ARN. */
  readonly functionTimeoutByArn: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
}

export type { SQSClient, DynamoDBStreamsClient };
