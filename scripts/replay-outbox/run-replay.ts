import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { publishOutboxItems } from '../../lambdas/outbox-sweeper/sweeper.js';
import { OUTBOX_EVENTS } from '../../lambdas/relay/event-schemas.js';
import { dynamoDbOutboxMarks } from '../../lambdas/relay/outbox-marks.js';
import { findOutput, loadProjectConfig } from '../redrive/project-config.js';
import type { ReplayOptions } from './args.js';
import { routesFromOutputs, singleQueueRoute } from './routes.js';

/** What a replay did (or would do, in a dry run). */
export interface ReplayReport {
  readonly table: string;
  readonly dryRun: boolean;
  readonly found: number;
  readonly published: { readonly eventId: string; readonly eventType: string; readonly to: readonly string[] }[];
  readonly rejected: { readonly eventId?: string; readonly reasons: readonly string[] }[];
  readonly failed: { readonly eventId: string; readonly reason: string }[];
  /** Registered event types no queue output was found for. */
  readonly unroutedTypes: readonly string[];
}

/**
 * Selects outbox items by the options and publishes them with the stack's routes (or `--queue`), marking them
 * published; a dry run sends and marks nothing.
 */
export async function runReplay(options: ReplayOptions, clients: { dynamodb?: DynamoDBClient; sqs?: SQSClient } = {}): Promise<ReplayReport> {
  const config = loadProjectConfig({ outputsFile: options.outputsFile });
  const output = (key: string) => findOutput(config.outputs, key);
  const tableName = output(options.table) ?? options.table;
  const { routes, unrouted } = options.queue ? { routes: singleQueueRoute(options.queue, output), unrouted: [] } : routesFromOutputs(output);
  const dynamodb = clients.dynamodb ?? new DynamoDBClient({});
  const sqs = clients.sqs ?? new SQSClient({});
  try {
    const result = await publishOutboxItems(
      { dynamodb, sqs, tableName, routes, registry: OUTBOX_EVENTS, marks: dynamoDbOutboxMarks(dynamodb, tableName) },
      {
        dryRun: options.dryRun,
        filter: {
          unpublishedOnly: !options.includePublished,
          includeRejected: options.includeRejected,
          eventType: options.eventType,
          createdFrom: options.from,
          createdBefore: options.to,
        },
      },
    );
    return {
      table: tableName,
      dryRun: options.dryRun,
      found: result.found,
      published: result.published.map((e) => ({ eventId: e.eventId, eventType: e.eventType, to: e.destinations })),
      rejected: result.rejected,
      failed: result.failed,
      unroutedTypes: unrouted,
    };
  } finally {
    if (!clients.dynamodb) dynamodb.destroy();
    if (!clients.sqs) sqs.destroy();
  }
}
