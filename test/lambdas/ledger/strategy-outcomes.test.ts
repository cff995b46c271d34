import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { fromAttributeMap } from '../../../lambdas/shared/attribute-values.js';
import { accountKey } from '../../../lambdas/shared/ledger-keys.js';
import type { CURRENCIES } from '../../../lambdas/shared/payments-model.js';
import { loadLedgerStrategy } from '../../../lambdas/ledger/strategies/index.js';
import { LEDGER_STRATEGIES, type LedgerStrategyName } from '../../../lambdas/ledger/strategy.js';
import { createIdempotencyTable, createLedgerTable, localDynamoDb, uniqueName } from '../../fixtures/tables.js';
import { lambdaContext, nextSequenceNumber, paymentMessage } from '../../fixtures/events.js';

/**
 * Issue 11 #4: every strategy must decide the same outcome for the same payments. One table of scenarios (one account
 * each, every payment delivered once, in order) runs through every registered strategy on DynamoDB Local; the
 * outcomes and the final account are compared with the table (which is the product's, `atomic`, behaviour).
 */
type Currency = (typeof CURRENCIES)[number];

interface Step {
  readonly amount: number;
  readonly currency: Currency;
  readonly expect: 'applied' | 'rejected';
}
interface Scenario {
  readonly name: string;
  readonly steps: readonly Step[];
  readonly account: { readonly balance: number; readonly applied: number; readonly rejected: number; readonly currency?: Currency };
}

const SCENARIOS: readonly Scenario[] = [
  {
    // The reproduction: the rejected first debit must not fix the account's currency.
    name: 'a rejected first debit in USD, then a credit in EUR',
    steps: [
      { amount: -100, currency: 'USD', expect: 'rejected' },
      { amount: 50, currency: 'EUR', expect: 'applied' },
    ],
    account: { balance: 50, applied: 1, rejected: 1, currency: 'EUR' },
  },
  {
    name: 'two rejected debits in EUR, then a credit in GBP, then a debit in EUR',
    steps: [
      { amount: -10, currency: 'EUR', expect: 'rejected' },
      { amount: -20, currency: 'EUR', expect: 'rejected' },
      { amount: 30, currency: 'GBP', expect: 'applied' },
      { amount: -5, currency: 'EUR', expect: 'rejected' },
    ],
    account: { balance: 30, applied: 1, rejected: 3, currency: 'GBP' },
  },
  {
    name: 'a credit, a covered debit, an exact debit to zero',
    steps: [
      { amount: 100, currency: 'EUR', expect: 'applied' },
      { amount: -30, currency: 'EUR', expect: 'applied' },
      { amount: -70, currency: 'EUR', expect: 'applied' },
    ],
    account: { balance: 0, applied: 3, rejected: 0, currency: 'EUR' },
  },
  {
    name: 'a credit, then an overdraft, then a credit in another currency',
    steps: [
      { amount: 100, currency: 'EUR', expect: 'applied' },
      { amount: -150, currency: 'EUR', expect: 'rejected' },
      { amount: 10, currency: 'USD', expect: 'rejected' },
    ],
    account: { balance: 100, applied: 1, rejected: 2, currency: 'EUR' },
  },
];

let client: DynamoDBClient;
let tableName: string;
let idempotencyTableName: string;

beforeAll(async () => {
  client = localDynamoDb(inject('ddbEndpoint'));
  tableName = await createLedgerTable(client);
  idempotencyTableName = await createIdempotencyTable(client);
});

async function runScenario(strategyName: LedgerStrategyName, scenario: Scenario) {
  const strategy = await loadLedgerStrategy(strategyName, { client, tableName, dedupTtlSeconds: 3600, idempotencyTableName });
  strategy.registerLambdaContext?.(lambdaContext());
  const accountId = uniqueName('acc');
  const outcomes: string[] = [];
  for (const step of scenario.steps) {
    const message = paymentMessage(uniqueName('key-table'), { accountId, amount: step.amount, currency: step.currency });
    const outcome = await strategy.apply({ message, messageId: uniqueName('m'), sequenceNumber: nextSequenceNumber(), receiveCount: 1 });
    outcomes.push(outcome.status);
  }
  const key = accountKey(accountId);
  const { Item } = await client.send(
    new GetItemCommand({ TableName: tableName, Key: { pk: { S: key.pk }, sk: { S: key.sk } }, ConsistentRead: true }),
  );
  const stored = fromAttributeMap(Item!);
  return {
    outcomes,
    account: {
      balance: stored.balance,
      applied: stored.applied,
      rejected: stored.rejected,
      ...(stored.currency === undefined ? {} : { currency: stored.currency }),
    },
  };
}

describe('ledger strategies against one scenario table (issue 11 #4, DynamoDB Local)', () => {
  it('every strategy decides the same outcomes and leaves the same account as the table', async () => {
    // Act: every scenario through every strategy, one fresh account each
    const actual: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    for (const strategyName of LEDGER_STRATEGIES) {
      for (const scenario of SCENARIOS) {
        actual[`${strategyName}: ${scenario.name}`] = await runScenario(strategyName, scenario);
        expected[`${strategyName}: ${scenario.name}`] = { outcomes: scenario.steps.map((s) => s.expect), account: scenario.account };
      }
    }

    // Assess: one comparison, so a diff names every strategy and scenario that decided otherwise
    expect(actual).toEqual(expected);
  });
});
