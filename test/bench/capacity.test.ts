import { describe, expect, it } from 'vitest';
import { chargeRequest, ItemSizeBook, itemSize, readUnits, writeUnits, type WireItem } from '../../scripts/bench/capacity.js';

const TABLE = 'ledger';

function book(): ItemSizeBook {
  const b = new ItemSizeBook();
  b.setKeySchema(TABLE, ['pk', 'sk']);
  return b;
}

/** An item of exactly `bytes` bytes: pk "p" (2+1... computed below) padded with a string attribute. */
function itemOfSize(pk: string, bytes: number): WireItem {
  const base: WireItem = { pk: { S: pk }, sk: { S: 'X' }, pad: { S: '' } };
  const pad = bytes - itemSize(base);
  return { ...base, pad: { S: 'a'.repeat(pad) } };
}

describe('DynamoDB item sizes (AWS rules)', () => {
  it('sums attribute names and values: strings by UTF-8 bytes, numbers by significant digits', () => {
    // pk(2)+"ACCOUNT#a"(9) + balance(7)+N"12345"(3 digits-pairs +1 = 4) + ok(2)+BOOL(1)
    expect(itemSize({ pk: { S: 'ACCOUNT#a' }, balance: { N: '12345' }, ok: { BOOL: true } })).toBe(2 + 9 + 7 + 4 + 2 + 1);
    expect(itemSize({ s: { S: 'é' } })).toBe(1 + 2);
    expect(itemSize({ l: { L: [{ S: 'ab' }, { N: '1' }] } })).toBe(1 + 3 + (1 + 2) + (1 + 2));
  });

  it('builds test items of an exact size', () => {
    expect(itemSize(itemOfSize('a', 1500))).toBe(1500);
  });
});

describe('capacity units (AWS rules)', () => {
  it('charges 1 WU per started KB, 2 per KB in a transaction, and 0.5/1 RU per 4 KB', () => {
    expect(writeUnits(1)).toBe(1);
    expect(writeUnits(1024)).toBe(1);
    expect(writeUnits(1025)).toBe(2);
    expect(writeUnits(1025, true)).toBe(4);
    expect(readUnits(4096, { consistent: true })).toBe(1);
    expect(readUnits(4097, { consistent: false })).toBe(1);
    expect(readUnits(10, { consistent: true, transactional: true })).toBe(2);
  });

  it('charges a TransactWriteItems of three items of known sizes 2 WU per KB per item', () => {
    // GIVEN a marker (200 B), an account update (1.5 KB after) and an outbox put (900 B)
    const b = book();
    const account = itemOfSize('ACCOUNT#1', 1500);
    const request = {
      TransactItems: [
        { Put: { TableName: TABLE, Item: itemOfSize('DEDUP#k', 200) } },
        { Update: { TableName: TABLE, Key: { pk: account.pk, sk: account.sk } } },
        { Put: { TableName: TABLE, Item: itemOfSize('OUTBOX#e', 900) } },
      ],
    };
    // WHEN it commits
    const charge = chargeRequest('TransactWriteItems', request, { body: {}, afterImages: [{ table: TABLE, item: account }] }, b);
    // THEN 2 + 4 + 2 write units
    expect(charge.writeUnits).toBe(8);
    expect(b.get(TABLE, account)).toBe(1500);
  });

  it('charges a cancelled transaction the same write units (duplicate detected by the marker)', () => {
    const b = book();
    const marker = itemOfSize('DEDUP#k', 200);
    b.set(TABLE, marker, 200);
    const request = {
      TransactItems: [
        { Put: { TableName: TABLE, Item: marker } },
        { Put: { TableName: TABLE, Item: itemOfSize('OUTBOX#e', 300) } },
      ],
    };
    const charge = chargeRequest('TransactWriteItems', request, { errorType: 'TransactionCanceledException', body: {} }, b);
    expect(charge).toMatchObject({ writeUnits: 4, conditionFailed: true });
  });

  it('charges a failed conditional write the existing item size, minimum 1', () => {
    const b = book();
    const existing = itemOfSize('ACCOUNT#2', 2100);
    b.set(TABLE, existing, 2100);
    const failed = chargeRequest(
      'UpdateItem',
      { TableName: TABLE, Key: { pk: existing.pk, sk: existing.sk } },
      { errorType: 'ConditionalCheckFailedException', body: {} },
      b,
    );
    expect(failed).toMatchObject({ writeUnits: 3, conditionFailed: true });
    const missing = chargeRequest(
      'PutItem',
      { TableName: TABLE, Item: itemOfSize('NEW#1', 100) },
      { errorType: 'ConditionalCheckFailedException', body: {} },
      b,
    );
    expect(missing.writeUnits).toBe(1);
  });

  it('charges an update the larger of the item before and after', () => {
    const b = book();
    const before = itemOfSize('ACCOUNT#3', 1100);
    b.set(TABLE, before, 1100);
    const after = itemOfSize('ACCOUNT#3', 900);
    const charge = chargeRequest(
      'UpdateItem',
      { TableName: TABLE, Key: { pk: before.pk, sk: before.sk } },
      { body: {}, afterImages: [{ table: TABLE, item: after }] },
      b,
    );
    expect(charge.writeUnits).toBe(2);
    expect(b.get(TABLE, after)).toBe(900);
  });

  it('charges a BatchGetItem per key, a missing item at the minimum', () => {
    // GIVEN an eventually consistent read of an existing 5 KB item and a missing one
    const b = book();
    const big = itemOfSize('ACCOUNT#4', 5000);
    const request = { RequestItems: { [TABLE]: { Keys: [{ pk: big.pk, sk: big.sk }, { pk: { S: 'OUTBOX#none' }, sk: { S: 'X' } }] } } };
    // WHEN charged
    const charge = chargeRequest('BatchGetItem', request, { body: { Responses: { [TABLE]: [big] } } }, b);
    // THEN 2 blocks of 4 KB at 0.5 + the minimum 0.5
    expect(charge.readUnits).toBe(1.5);
  });

  it('does not charge errors other than failed conditions (throttling, validation)', () => {
    const charge = chargeRequest(
      'PutItem',
      { TableName: TABLE, Item: itemOfSize('A#1', 100) },
      { errorType: 'ProvisionedThroughputExceededException', body: {} },
      book(),
    );
    expect(charge.writeUnits).toBe(0);
  });

  it('throws on an attribute type it cannot size', () => {
    expect(() => itemSize({ x: { Z: 'nope' } })).toThrow(/Unknown DynamoDB attribute type Z/);
  });
});
