import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { deriveHandlerCalls } from './handler-calls.js';
import { iamActionsOf } from './iam-actions.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/sdk-calls/${name}.ts`, import.meta.url));
const operations = async (name: string) => (await deriveHandlerCalls(fixture(name))).calls.map((c) => `${c.from} ${c.operation}`).sort();

describe('deriveHandlerCalls (what the least-privilege test believes a handler sends)', () => {
  it('tells a DocumentClient command from the client command of the same name, and follows a paginator', async () => {
    expect(await operations('collisions')).toEqual([
      '@aws-sdk/client-dynamodb Query',
      '@aws-sdk/lib-dynamodb Query',
      '@aws-sdk/lib-dynamodb Scan',
    ]);
  });

  it('keeps only commands that survive tree-shaking (an imported helper that is never called sends nothing)', async () => {
    expect(await operations('unused')).toEqual(['@aws-sdk/client-dynamodb GetItem']);
  });

  it('counts the item kinds a transaction carries, as AWS authorizes them', async () => {
    const calls = await deriveHandlerCalls(fixture('transaction'));
    expect(calls.calls.map((c) => c.operation)).toEqual(['TransactWriteItems']);
    expect([...calls.transactWriteKinds].sort()).toEqual(['ConditionCheck', 'Delete']);
    expect(iamActionsOf('dynamodb', 'TransactWriteItems', calls.transactWriteKinds).sort()).toEqual([
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
    ]);
  });

  it('throws for an aggregated client, whose calls it cannot list', async () => {
    await expect(deriveHandlerCalls(fixture('aggregated'))).rejects.toThrow(/aggregated client DynamoDB .*use the bare client/);
  });

  it('maps batch and stream operations with the gateway\'s mapping (C1)', () => {
    const none = new Set<never>();
    expect(iamActionsOf('sqs', 'SendMessageBatch', none)).toEqual(['sqs:SendMessage']);
    expect(iamActionsOf('dynamodb', 'BatchGetItem', none)).toEqual(['dynamodb:BatchGetItem']);
    expect(() => iamActionsOf('dynamodb', 'TransactWriteItems', none)).toThrow(/no item kind/);
  });
});
