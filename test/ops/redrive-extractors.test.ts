import { PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { dedupKey } from '../../lambdas/shared/ledger-keys.js';
import { IdempotencyAwareChecker } from '../../scripts/redrive/applied-checker.js';
import { extractKey, registerKeyExtractor } from '../../scripts/redrive/key-extractors.js';
import { profileForOutputKey } from '../../scripts/redrive/run-redrive.js';
import { createLedgerTable, localDynamoDb } from '../fixtures/tables.js';

let ddb: DynamoDBClient;
let table: string;
beforeAll(async () => {
  ddb = localDynamoDb(inject('ddbEndpoint'));
  table = await createLedgerTable(ddb);
});

describe('redrive: the key comes from the consumer\'s registered extractor', () => {
  it('reads the loyalty consumer\'s markers by the payment event\'s eventId (its extractor), not body.idempotencyKey', async () => {
    // Prepare: a loyalty dead letter (a payment event) whose award was applied: marker DEDUP#loyalty#<eventId>
    const body = { eventId: 'evt_redrive_1', eventType: 'PaymentApplied', idempotencyKey: 'the-payment-key', accountId: 'a', amount: 500 };
    const marker = dedupKey('loyalty', body.eventId);
    await ddb.send(
      new PutItemCommand({ TableName: table, Item: { pk: { S: marker.pk }, sk: { S: marker.sk }, expiresAt: { N: String(Math.floor(Date.now() / 1000) + 3600) } } }),
    );
    const profile = profileForOutputKey('LoyaltyDlqUrl');
    const checker = new IdempotencyAwareChecker({ dynamodb: ddb, ledgerTable: table, profile });

    // Act
    const verdict = await checker.check(JSON.stringify(body));
    const missing = await checker.check(JSON.stringify({ idempotencyKey: 'k' }));

    // Assess
    expect(profile?.scope).toBe('loyalty');
    expect(verdict).toMatchObject({ status: 'applied', key: 'evt_redrive_1' });
    expect(missing).toMatchObject({ status: 'unknown', reason: expect.stringMatching(/no key for the loyalty extractor/) });
  });

  it('uses a registered extractor for a hand-wired consumer, and idempotencyKey for a scope with none', () => {
    registerKeyExtractor('orders', (body) => (body as { order?: { id?: string } }).order?.id);
    expect(extractKey('orders', { order: { id: 'o-1' } }).key).toBe('o-1');
    expect(extractKey('reserve-stock', { idempotencyKey: 'k-1' })).toEqual({ key: 'k-1', source: '"idempotencyKey"' });
    expect(extractKey('notifier', { eventId: 'e-1', idempotencyKey: 'k' }).key).toBe('e-1');
  });
});
