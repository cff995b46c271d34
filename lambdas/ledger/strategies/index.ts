import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { UnknownLedgerStrategyError } from '../errors.js';
import { LEDGER_STRATEGIES, type LedgerStrategy, type LedgerStrategyName } from '../strategy.js';

/**
 * Everything a strategy may need. One object for all four factories: each takes the fields it knows
 * (atomic/watermark: `client`; at-least-once/powertools: `dynamodb`, …) and ignores the rest.
 */
export interface LedgerStrategyDeps {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Marker / idempotency-record lifetime, in seconds (`DEDUP_TTL_SECONDS`). */
  readonly dedupTtlSeconds: number;
  /** Powertools idempotency table, required by `powertools` only. */
  readonly idempotencyTableName?: string;
  /** Clock. @default () => new Date() */
  readonly now?: () => Date;
}

/** A loaded strategy; some also want the Lambda context of each invocation (Powertools, the zombie fault). */
export type LoadedLedgerStrategy = LedgerStrategy & { registerLambdaContext?(context: Context): void };

type Factory = (deps: never) => LoadedLedgerStrategy;

// Literal dynamic imports: esbuild bundles each file, and only the chosen one is evaluated at cold start.
const LOADERS: Record<LedgerStrategyName, () => Promise<Record<string, unknown>>> = {
  atomic: () => import('./atomic.js'),
  powertools: () => import('./powertools.js'),
  'at-least-once': () => import('./at-least-once.js'),
  watermark: () => import('./watermark.js'),
};

const FACTORY_EXPORTS: Record<LedgerStrategyName, string> = {
  atomic: 'createAtomicStrategy',
  powertools: 'createPowertoolsStrategy',
  'at-least-once': 'createAtLeastOnceStrategy',
  watermark: 'createWatermarkStrategy',
};

/** True when `name` is a registered strategy. */
export function isLedgerStrategyName(name: string): name is LedgerStrategyName {
  return (LEDGER_STRATEGIES as readonly string[]).includes(name);
}

/**
 * Loads the strategy named by `LEDGER_STRATEGY`.
 * @throws UnknownLedgerStrategyError when the name is not registered, its module cannot be loaded, or it exports no
 *   factory (`create<Name>Strategy` or a default export).
 * @throws Error `Environment variable IDEMPOTENCY_TABLE_NAME is required` for `powertools` without that table.
 */
export async function loadLedgerStrategy(name: string, deps: LedgerStrategyDeps): Promise<LoadedLedgerStrategy> {
  if (!isLedgerStrategyName(name)) throw new UnknownLedgerStrategyError(name, LEDGER_STRATEGIES);
  if (name === 'powertools' && !deps.idempotencyTableName) {
    throw new Error('Environment variable IDEMPOTENCY_TABLE_NAME is required');
  }
  let module: Record<string, unknown>;
  try {
    module = await LOADERS[name]();
  } catch (error) {
    throw new UnknownLedgerStrategyError(name, LEDGER_STRATEGIES, { cause: error });
  }
  const factory = (module[FACTORY_EXPORTS[name]] ?? module.default) as Factory | undefined;
  if (typeof factory !== 'function') throw new UnknownLedgerStrategyError(name, LEDGER_STRATEGIES);
  const now = deps.now ?? (() => new Date());
  const args = {
    ...deps,
    now,
    clock: now,
    dynamodb: deps.client,
    outboxTtlSeconds: deps.dedupTtlSeconds,
    expiresAfterSeconds: deps.dedupTtlSeconds,
  };
  return factory(args as never);
}
