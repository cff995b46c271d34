import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context } from 'aws-lambda';
import { faultPoint, zombiePoint } from '../../shared/faults.js';
import { eventIdFor, type PaymentMessage } from '../../shared/payments-model.js';
import type { LedgerOutcome, LedgerStrategy, PaymentDelivery } from '../strategy.js';
import { applyPaymentWithoutDedup, type PlainLedgerDeps } from './at-least-once.js';

/** Dependencies of the `powertools` strategy. */
export interface PowertoolsLedgerDeps extends PlainLedgerDeps {
  /** Powertools idempotency table (`IDEMPOTENCY_TABLE_NAME`; partition key `id`, TTL `expiration`). */
  readonly idempotencyTableName: string;
  /** Lifetime of an idempotency record, in seconds (`DEDUP_TTL_SECONDS`). @default 3600 */
  readonly expiresAfterSeconds?: number;
}

/** The `powertools` strategy, plus the hook that lets an INPROGRESS record expire with the invocation. */
export interface PowertoolsLedgerStrategy extends LedgerStrategy {
  /** Call once per invocation with the Lambda context (Powertools `registerLambdaContext`). */
  registerLambdaContext(context: Context): void;
}

/**
 * Powertools idempotency keyed by the producer's idempotency key, around the NON-transactional business write of
 * {@link applyPaymentWithoutDedup} (account update + outbox put, stable event id).
 *
 * This is the common pattern, kept as the chaos harness's second negative control: the idempotency record is a
 * separate item from the business write. Powertools puts an INPROGRESS record, runs the write, then marks the record
 * COMPLETED. A crash after the write and before COMPLETED either deletes the record (the function threw) or leaves it
 * INPROGRESS until it expires (the sandbox died): either way the next delivery runs the write AGAIN and the payment is
 * applied twice. The fault point `ledger.afterCommit` is checked inside the idempotent function, right after the
 * effect, to open exactly that window (and `ledger.beforeCommit` before it: the record is deleted, the retry is clean).
 * @see https://docs.powertools.aws.dev/lambda/typescript/latest/features/idempotency/
 */
export function createPowertoolsStrategy(deps: PowertoolsLedgerDeps): PowertoolsLedgerStrategy {
  const client = deps.dynamodb instanceof DynamoDBDocumentClient ? (deps.dynamodb as unknown as DynamoDBClient) : deps.dynamodb;
  const persistenceStore = new DynamoDBPersistenceLayer({ tableName: deps.idempotencyTableName, awsSdkV3Client: client });
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'idempotencyKey',
    expiresAfterSeconds: deps.expiresAfterSeconds ?? 3600,
    // Runs only when Powertools returns the stored response of an earlier delivery: report it as a duplicate.
    responseHook: (response) => ({ ...(response as object), status: 'duplicate' }),
  });
  let context: Context | undefined;
  const applyOnce = makeIdempotent(
    async (message: PaymentMessage): Promise<LedgerOutcome> => {
      faultPoint('ledger.beforeCommit');
      const outcome = await applyPaymentWithoutDedup(deps, message, eventIdFor(message.paymentId));
      faultPoint('ledger.afterCommit');
      return outcome;
    },
    { persistenceStore, config },
  );
  return {
    name: 'powertools',
    registerLambdaContext: (next) => {
      context = next;
      config.registerLambdaContext(next);
    },
    async apply(delivery: PaymentDelivery): Promise<LedgerOutcome> {
      await zombiePoint(context);
      return applyOnce(delivery.message);
    },
  };
}

export default createPowertoolsStrategy;
