import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.js';
import {
  FaultPlanError,
  InjectedFault,
  faultPoint,
  loadFaultPlan,
  setFaultPlanForTests,
  shouldFault,
  withFaults,
  zombiePoint,
} from '../../lambdas/shared/faults.js';

const table = `faults-${Date.now()}`;
const client = (maxAttempts?: number) =>
  new DynamoDBClient({ endpoint: inject('ddbEndpoint'), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts });

beforeAll(async () => {
  const ddb = client();
  await ddb.send(
    new CreateTableCommand({
      TableName: table,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  ddb.destroy();
});

afterEach(() => setFaultPlanForTests(null));

describe('fault plan', () => {
  it('is inert without a plan: no fault point fires and the client is returned untouched', async () => {
    // Prepare
    setFaultPlanForTests(null);
    const ddb = client();
    // Act
    const same = withFaults(ddb);
    faultPoint('ledger.beforeCommit');
    // Assess
    expect(same).toBe(ddb);
    expect(await zombiePoint()).toBe(false);
    expect(ddb.middlewareStack.identify().some((m) => m.includes('exactlyOnceFaultInjection'))).toBe(false);
    ddb.destroy();
  });

  it('throws when the plan is set outside the local runtime', () => {
    expect(() => loadFaultPlan({ EXACTLY_ONCE_FAULT_PLAN: '{"seed":1,"faults":{}}' })).toThrow(FaultPlanError);
    expect(() => loadFaultPlan({ EXACTLY_ONCE_FAULT_PLAN: '{"seed":1,"faults":{}}' })).toThrow(/outside the local runtime/);
  });

  it('rejects an unknown fault point or a probability outside 0-1', () => {
    const env = (faults: object) => ({
      EXACTLY_ONCE_LOCAL_RUNTIME: '1',
      EXACTLY_ONCE_FAULT_PLAN: JSON.stringify({ seed: 1, faults }),
    });
    expect(() => loadFaultPlan(env({ 'ledger.nope': 0.1 }))).toThrow(/Unknown fault point "ledger.nope"/);
    expect(() => loadFaultPlan(env({ 'ledger.zombie': 2 }))).toThrow(/between 0 and 1, got 2/);
    expect(loadFaultPlan(env({ 'ledger.zombie': 0.5 }))?.faults['ledger.zombie']).toBe(0.5);
  });

  it('fires every planned point at its first reach in coverage mode, then by probability only', () => {
    // Prepare: a probability so small the draw alone would practically never fire in 100 reaches.
    vi.spyOn(console, 'log').mockImplementation(() => {});
    setFaultPlanForTests({ seed: 3, faults: { 'ledger.midBatch': 1e-9, 'ledger.zombie': 0 }, fireOnFirstReach: true });
    // Act
    const fired = Array.from({ length: 100 }, () => shouldFault('ledger.midBatch')).filter(Boolean).length;
    // Assess: once for the first reach; a point the plan leaves at 0 never fires.
    expect(fired).toBe(1);
    expect(shouldFault('ledger.zombie')).toBe(false);
  });

  it('fires a fault point with its probability, reproducibly for a seed, and says so on stdout', () => {
    // Prepare
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const run = () => {
      setFaultPlanForTests({ seed: 42, faults: { 'ledger.afterCommit': 0.3 } });
      let fired = 0;
      for (let i = 0; i < 1000; i++) {
        try {
          faultPoint('ledger.afterCommit');
        } catch (error) {
          expect(error).toBeInstanceOf(InjectedFault);
          fired++;
        }
      }
      return fired;
    };
    // Act
    const first = run();
    const second = run();
    // Assess
    expect(first).toBe(second);
    expect(first).toBeGreaterThan(200);
    expect(first).toBeLessThan(400);
    expect(log).toHaveBeenCalledTimes(first * 2);
    expect(JSON.parse(String(log.mock.calls[0]![0]))).toMatchObject({ injectedFault: 'ledger.afterCommit' });
    log.mockRestore();
  });

  it('stalls a zombie for the planned delay, capped by the remaining time', async () => {
    setFaultPlanForTests({ seed: 1, faults: { 'ledger.zombie': 1 }, zombieDelayMs: 5000 });
    const started = Date.now();
    expect(await zombiePoint({ getRemainingTimeInMillis: () => 450 })).toBe(true);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(150);
    expect(waited).toBeLessThan(4000);
  });
});

describe('withFaults (DynamoDB Local)', () => {
  it('fails every call with a transient 500 once the SDK retries run out, and writes nothing', async () => {
    // Prepare
    setFaultPlanForTests({ seed: 7, faults: { 'ddb.transient': 1 } });
    const ddb = withFaults(client(2));
    // Act
    const attempt = ddb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'never' } } }));
    // Assess
    await expect(attempt).rejects.toMatchObject({ name: 'InternalServerError', $metadata: { attempts: 2 } });
    setFaultPlanForTests(null);
    const read = await client().send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'never' } } }));
    expect(read.Item).toBeUndefined();
    ddb.destroy();
  });

  it('throttles a fraction of document-client calls and the SDK retries them to success', async () => {
    // Prepare
    setFaultPlanForTests({ seed: 3, faults: { 'ddb.throttle': 0.3 } });
    const raw = client(10);
    const doc = withFaults(DynamoDBDocumentClient.from(raw));
    // Act
    const results = [];
    for (let i = 0; i < 10; i++) results.push(await doc.send(new PutCommand({ TableName: table, Item: { pk: `t${i}` } })));
    // Assess
    const retried = results.filter((r) => (r.$metadata.attempts ?? 1) > 1).length;
    expect(retried).toBeGreaterThan(0);
    setFaultPlanForTests(null);
    const read = await client().send(new GetItemCommand({ TableName: table, Key: { pk: { S: 't9' } } }));
    expect(read.Item?.pk?.S).toBe('t9');
    raw.destroy();
  }, 30_000);
});
