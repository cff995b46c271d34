import { execFileSync } from 'node:child_process';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ACCOUNT_PREFIX, OUTBOX_PREFIX } from '../../lambdas/shared/ledger-keys.js';
import { PAYMENT_EVENT_TYPES, type PaymentEvent } from '../../lambdas/shared/payments-model.js';
import type { ObservedAccount } from './checker.js';

/**
 * What a chaos driver (the full-pipeline run, scripts/chaos/runner.ts, and the ledger long run,
 * scripts/chaos/long-run.ts) reads back and writes into its record: the run's accounts and payment events from the
 * ledger table, the commit that ran and the machine it ran on.
 */

/** The run's accounts and payment outbox events (ids prefixed by `runId`), read with a consistent Scan. */
export async function scanLedger(ddb: DynamoDBClient, tableName: string, runId: string): Promise<{ accounts: ObservedAccount[]; events: PaymentEvent[] }> {
  const mine = `${runId}-`;
  const doc = DynamoDBDocumentClient.from(ddb);
  const accounts: ObservedAccount[] = [];
  const events: PaymentEvent[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start, ConsistentRead: true }));
    for (const item of page.Items ?? []) {
      const pk = String(item.pk);
      if (pk.startsWith(`${ACCOUNT_PREFIX}${mine}`)) {
        accounts.push({
          accountId: pk.slice(ACCOUNT_PREFIX.length),
          balance: Number(item.balance ?? 0),
          applied: Number(item.applied ?? 0),
          rejected: Number(item.rejected ?? 0),
        });
      } else if (pk.startsWith(OUTBOX_PREFIX) && typeof item.event === 'string') {
        const event = JSON.parse(item.event) as PaymentEvent;
        // Other consumers' outbox events share the table (one outbox format): count the payment events only.
        if ((PAYMENT_EVENT_TYPES as readonly string[]).includes(event.eventType) && event.accountId.startsWith(mine)) events.push(event);
      }
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return { accounts, events };
}

/**
 * HEAD, marked "with uncommitted changes" when the code under `paths` differs from it. Read when the run STARTS: the
 * record must name the code that ran.
 */
export function gitState(paths: readonly string[]): string {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  const dirty = git('status', '--porcelain', '--untracked-files=no', '--', ...paths);
  return `${git('rev-parse', 'HEAD')}${dirty ? ' (with uncommitted changes)' : ''}`;
}

/** Cores, memory, OS, Node and the load average now: local rates mean little without the load they ran under. */
export function machineDescription(): string {
  return (
    `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${platform()} ${release()}, ` +
    `Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (1, 5, 15 min)`
  );
}
