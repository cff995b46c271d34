import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { EVENTS_PROFILE, IdempotencyAwareChecker, PAYMENTS_PROFILE, type DedupProfile } from './applied-checker.js';
import type { RedriveCliOptions } from './args.js';
import { findOutput, loadProjectConfig } from './project-config.js';
import { redriveMessages, type RedriveEntry, type RedriveReport } from './redrive-messages.js';
import { resolveQueue, resolveSourceQueue } from './resolve-queues.js';

/**
 * Dedup profile of a DLQ named by a stack output: the payments DLQ → the ledger's markers, the events DLQ → the
 * notifier's Powertools records (by eventId); a consumer added with `npm run new` publishes `<Name>DlqUrl` and dedups
 * under its kebab-case name (marker or Powertools keyPrefix).
 */
export function profileForOutputKey(outputKey: string | undefined): DedupProfile | undefined {
  if (!outputKey) return undefined;
  if (outputKey === 'PaymentsDlqUrl') return PAYMENTS_PROFILE;
  if (outputKey === 'EventsDlqUrl') return EVENTS_PROFILE;
  const match = /^([A-Z][A-Za-z0-9]*)DlqUrl$/.exec(outputKey);
  if (!match) return undefined;
  const scope = match[1]!.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
  return { scope, stores: ['marker', 'powertools'] };
}

/**
 * The whole `npm run redrive` job: config files, queue and table resolution, then {@link redriveMessages}.
 */
export async function runRedrive(
  cli: RedriveCliOptions,
  onEntry?: (entry: RedriveEntry) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RedriveReport> {
  const config = loadProjectConfig({ outputsFile: cli.outputsFile, envFile: cli.envFile }, env);
  // AWS_ENDPOINT_URL_SQS / _DYNAMODB (from .local/env) point the clients at the local runtime.
  // An explicit endpoint also stops the SQS client from using the QueueUrl's host (fauxqs answers with
  // `sqs.<region>.localhost` URLs, which do not resolve everywhere).
  const sqsEndpoint = env['AWS_ENDPOINT_URL_SQS'];
  const ddbEndpoint = env['AWS_ENDPOINT_URL_DYNAMODB'];
  const sqs = new SQSClient(sqsEndpoint ? { endpoint: sqsEndpoint } : {});
  const dynamodb = new DynamoDBClient(ddbEndpoint ? { endpoint: ddbEndpoint } : {});
  try {
    const dlq = await resolveQueue(sqs, cli.dlq, config.outputs, cli.stack);
    const source = await resolveSourceQueue(sqs, dlq, config.outputs, cli.to, cli.stack ?? dlq.stack);
    const stack = cli.stack ?? dlq.stack;
    const profile: DedupProfile | undefined = cli.scope
      ? { scope: cli.scope, stores: ['marker', 'powertools'] }
      : profileForOutputKey(dlq.outputKey);
    const checker = new IdempotencyAwareChecker({
      dynamodb,
      ledgerTable: cli.ledgerTable ?? env['LEDGER_TABLE_NAME'] ?? findOutput(config.outputs, 'LedgerTableName', stack),
      idempotencyTable:
        cli.idempotencyTable ?? env['IDEMPOTENCY_TABLE_NAME'] ?? findOutput(config.outputs, 'IdempotencyTableName', stack),
      profile,
    });
    return await redriveMessages({
      sqs,
      dlqUrl: dlq.url,
      sourceUrl: source.url,
      checker,
      dryRun: cli.dryRun,
      includeApplied: cli.includeApplied,
      keepApplied: cli.keepApplied,
      max: cli.max,
      visibilityTimeoutSeconds: cli.visibilityTimeoutSeconds,
      onEntry,
    });
  } finally {
    sqs.destroy();
    dynamodb.destroy();
  }
}
