/**
 * Conformance suite, DynamoDB Streams against DynamoDB Local's stream API (rules D1–D10).
 * Deploy-time ranges (D1, D3, D7, D9) are in validate.test.ts; filter syntax (D8) in filters.test.ts.
 *
 * Not covered against the emulator, with the reason:
 * - D2 "parents before children" and "a batch never spans shards": DynamoDB Local keeps one shard per stream and
 *   never splits it, so the shard-split case is checked with a scripted stream client (the only fake in this suite).
 * - D3 "until the record expires (24 h)": the default −1 is checked as "retried and blocking"; 24 h expiry is not.
 * - D6 SNS destinations are not emulated (SQS destinations are).
 * - D7 uses an injected clock: the minimum MaximumRecordAgeInSeconds is 60 s, too long to wait for in a test.
 */
import { DeleteItemCommand, PutItemCommand, UpdateItemCommand, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { describe, expect, it } from 'vitest';
import { startEventSourceMappings, type StreamFailureRecord } from '../../../local/esm/index.js';
import {
  ACCOUNT_ID,
  clients,
  createQueue,
  createStreamTable,
  receiveAll,
  sleep,
  startForTest,
  streamMapping,
  jsFunction,
  uniqueName,
  waitFor,
  waitForIdle,
} from './support.js';

const { sqs, ddb } = clients();

const start = startForTest;

async function newTable(prefix: string, viewType?: Parameters<typeof createStreamTable>[2]) {
  const name = uniqueName(prefix);
  return { name, streamArn: await createStreamTable(ddb, name, viewType) };
}

async function put(table: string, pk: string, extra: Record<string, { S: string } | { N: string }> = {}) {
  await ddb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: pk }, ...extra } }));
}

const pkOf = (record: any) => record.dynamodb.Keys.pk.S as string;
const pks = (fn: { calls: { records: any[] }[] }) => fn.calls.flatMap((c) => c.records.map(pkOf));

describe.concurrent('DynamoDB Streams event source mapping', () => {
  it('D1: BatchSize defaults to 100 records', async (context) => {
    // Prepare
    const { name, streamArn } = await newTable('d1');
    for (let i = 0; i < 150; i++) await put(name, `k${String(i).padStart(3, '0')}`);
    const fn = jsFunction('d1', () => undefined);
    // Act
    start(context, [streamMapping(fn, streamArn)], [fn], []);
    await waitFor('150 records', () => pks(fn).length === 150);
    // Assess
    expect(fn.calls.map((c) => c.records.length)).toEqual([100, 50]);
  });

  it('D1: a stream batch also stops at the 6 MB synchronous payload limit (F8)', async (context) => {
    // Prepare: 17 items of 390 KB = 6.6 MB; 16 of them fit in 6 MB.
    const { name, streamArn } = await newTable('d1size', 'NEW_IMAGE');
    for (let i = 0; i < 17; i++) await put(name, `big-${String(i).padStart(2, '0')}`, { blob: { S: 'x'.repeat(390_000) } });
    const fn = jsFunction('d1size', () => undefined);
    // Act
    start(context, [streamMapping(fn, streamArn)], [fn], []);
    await waitFor('17 records', () => pks(fn).length === 17, 30_000);
    // Assess
    expect(fn.calls.map((c) => c.records.length)).toEqual([16, 1]);
  });

  it('D1: LATEST skips records written before the mapping started', async (context) => {
    // Prepare
    const { name, streamArn } = await newTable('d1latest');
    await put(name, 'old-1');
    await put(name, 'old-2');
    const fn = jsFunction('d1latest', () => undefined);
    const running = start(context, [streamMapping(fn, streamArn, { startingPosition: 'LATEST' })], [fn], []);
    await waitForIdle(running);
    // Act
    await put(name, 'new-1');
    await waitFor('the new record', () => pks(fn).length === 1);
    await waitForIdle(running);
    // Assess
    expect(pks(fn)).toEqual(['new-1']);
  });

  it('D1: with a batching window, records wait until the window ends', async (context) => {
    // Prepare
    const { name, streamArn } = await newTable('d1window');
    await put(name, 'a');
    await put(name, 'b');
    const fn = jsFunction('d1window', () => undefined);
    const startedAt = Date.now();
    // Act
    start(context, [streamMapping(fn, streamArn, { maximumBatchingWindowSeconds: 1 })], [fn], []);
    await waitFor('one call', () => fn.calls.length === 1);
    // Assess
    expect(pks(fn)).toEqual(['a', 'b']);
    expect(fn.calls[0]!.startedAt - startedAt).toBeGreaterThanOrEqual(900);
  });

  it('D2: records are delivered in sequence-number order, batch after batch', async (context) => {
    // Prepare
    const { name, streamArn } = await newTable('d2');
    for (let i = 0; i < 12; i++) await put(name, i % 2 === 0 ? 'even' : `odd-${i}`, { v: { N: String(i) } });
    const fn = jsFunction('d2', () => undefined);
    // Act
    start(context, [streamMapping(fn, streamArn, { batchSize: 5 })], [fn], []);
    await waitFor('12 records', () => pks(fn).length === 12);
    // Assess
    const records = fn.calls.flatMap((c) => c.records);
    expect(records.map((r) => Number(r.dynamodb.NewImage.v.N))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const sequence = records.map((r) => BigInt(r.dynamodb.SequenceNumber));
    expect([...sequence].sort((a, b) => (a < b ? -1 : 1))).toEqual(sequence);
    expect(fn.calls.map((c) => c.records.length)).toEqual([5, 5, 2]);
  });

  it('D2: idle() is false while records are unread or running, true once the shard is read to its end', async (context) => {
    // Prepare
    const { name, streamArn } = await newTable('d2idle');
    await put(name, 'a');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const fn = jsFunction('d2idle', () => gate, 30);
    // Act
    const running = start(context, [streamMapping(fn, streamArn)], [fn], []);
    await waitFor('the call', () => fn.calls.length === 1);
    // Assess
    expect(running.idle()).toBe(false);
    release();
    await waitForIdle(running);
    expect(running.idle()).toBe(true);
    expect(running.stats()[0]).toMatchObject({ invocations: 1, batches: 1, records: 1, failures: 0 });
  });

  it('D3: a failing batch is invoked 1 + MaximumRetryAttempts times while its shard waits, then skipped', async (context) => {
    // Prepare
    const { name, streamArn } = await newTable('d3');
    const destination = await createQueue(sqs, uniqueName('d3-dest'));
    await put(name, 'poison');
    await put(name, 'next');
    const fn = jsFunction('d3', (event) => {
      if (event.Records.some((r) => pkOf(r) === 'poison')) throw new Error('cannot process');
    });
    // Act
    const running = start(
      context,
      [streamMapping(fn, streamArn, { batchSize: 1, maximumRetryAttempts: 2, onFailureDestination: destination.arn })],
      [fn], [destination],
    );
    await waitFor('the next record', () => pks(fn).includes('next'));
    await waitForIdle(running);
    // Assess
    expect(pks(fn)).toEqual(['poison', 'poison', 'poison', 'next']);
    expect(running.stats()[0]).toMatchObject({ invocations: 4, batches: 2, records: 4, failures: 3, discarded: 1 });
  });

  it('D3: with the default MaximumRetryAttempts (-1) a failing batch keeps being retried and blocks its shard', async (context) => {
    // Prepare
    const { name, streamArn } = await newTable('d3inf');
    await put(name, 'poison');
    await put(name, 'next');
    const fn = jsFunction('d3inf', (event) => {
      if (event.Records.some((r) => pkOf(r) === 'poison')) throw new Error('cannot process');
    });
    // Act
    const running = start(context, [streamMapping(fn, streamArn, { batchSize: 1 })], [fn], []);
    await waitFor('5 attempts', () => fn.calls.length >= 5);
    // Assess
    expect(new Set(pks(fn))).toEqual(new Set(['poison']));
    expect(running.idle()).toBe(false);
  });

  it('D4: BisectBatchOnFunctionError splits a failing batch without consuming retries', async (context) => {
    // Prepare
    const { name, streamArn } = await newTable('d4');
    const destination = await createQueue(sqs, uniqueName('d4-dest'));
    for (const pk of ['a', 'b', 'poison', 'd']) await put(name, pk);
    const fn = jsFunction('d4', (event) => {
      if (event.Records.some((r) => pkOf(r) === 'poison')) throw new Error('cannot process');
    });
    // Act
    const running = start(context, [streamMapping(fn, streamArn, {
      batchSize: 4, bisectBatchOnFunctionError: true, maximumRetryAttempts: 1, onFailureDestination: destination.arn,
    })], [fn], [destination]);
    await waitFor('d', () => pks(fn).includes('d'));
    await waitForIdle(running);
    // Assess: [a b poison d] ✗ → [a b] ✓, [poison d] ✗ → [poison] ✗, retry ✗ (1 retry) → discarded, [d] ✓
    expect(fn.calls.map((c) => c.records.map(pkOf).join(' '))).toEqual(['a b poison d', 'a b', 'poison d', 'poison', 'poison', 'd']);
    const [failure] = (await receiveAll(sqs, destination.url)).map((m) => JSON.parse(m.Body as string) as StreamFailureRecord);
    expect(failure?.DDBStreamBatchInfo.batchSize).toBe(1);
    expect(failure?.requestContext.approximateInvokeCount).toBe(2);
  });

  it('D5: ReportBatchItemFailures checkpoints at the lowest failed sequence number and retries from there', async (context) => {
    // Prepare
    const { name, streamArn } = await newTable('d5');
    for (const pk of ['a', 'b', 'c', 'd']) await put(name, pk);
    const fn = jsFunction('d5', (event, call) => {
      if (call > 0) return { batchItemFailures: [] };
      const failed = event.Records.filter((r) => ['d', 'c'].includes(pkOf(r)));
      return { batchItemFailures: failed.reverse().map((r) => ({ itemIdentifier: r.dynamodb.SequenceNumber })) };
    });
    // Act
    const running = start(context, [streamMapping(fn, streamArn, { functionResponseTypes: ['ReportBatchItemFailures'] })], [fn], []);
    await waitFor('the retry', () => fn.calls.length === 2);
    await waitForIdle(running);
    // Assess
    expect(fn.calls.map((c) => c.records.map(pkOf).join(' '))).toEqual(['a b c d', 'c d']);
  });

  const wholeBatch: [string, (seq: string[]) => unknown][] = [
    ['an empty itemIdentifier', () => ({ batchItemFailures: [{ itemIdentifier: '' }] })],
    ['a null itemIdentifier', () => ({ batchItemFailures: [{ itemIdentifier: null }] })],
    ['a wrong key name', (seq) => ({ batchItemFailures: [{ sequenceNumber: seq[1] }] })],
    ['an unknown sequence number (unverified on AWS; as S7 for SQS)', () => ({ batchItemFailures: [{ itemIdentifier: '99999999999999999999' }] })],
  ];
  for (const [label, response] of wholeBatch) {
    it(`D5: ${label} fails the whole batch`, async (context) => {
      // Prepare
      const { name, streamArn } = await newTable('d5bad');
      for (const pk of ['a', 'b']) await put(name, pk);
      const fn = jsFunction('d5bad', (event, call) =>
        call === 0 ? response(event.Records.map((r) => r.dynamodb.SequenceNumber)) : undefined,
      );
      // Act
      const running = start(context, [streamMapping(fn, streamArn, { functionResponseTypes: ['ReportBatchItemFailures'] })], [fn], []);
      await waitFor('the retry', () => fn.calls.length === 2);
      await waitForIdle(running);
      // Assess
      expect(fn.calls.map((c) => c.records.map(pkOf).join(' '))).toEqual(['a b', 'a b']);
    });
  }

  it('D5: without ReportBatchItemFailures the response is ignored', async (context) => {
    // Prepare
    const { name, streamArn } = await newTable('d5off');
    for (const pk of ['a', 'b']) await put(name, pk);
    const fn = jsFunction('d5off', (event) => ({ batchItemFailures: [{ itemIdentifier: event.Records[0].dynamodb.SequenceNumber }] }));
    // Act
    const running = start(context, [streamMapping(fn, streamArn)], [fn], []);
    await waitFor('one call', () => fn.calls.length === 1);
    await waitForIdle(running);
    await sleep(300);
    // Assess
    expect(fn.calls).toHaveLength(1);
  });

  it('D6: exhausted retries send the AWS metadata record, not the records, to the on-failure queue', async (context) => {
    // Prepare
    const { name, streamArn } = await newTable('d6');
    const destination = await createQueue(sqs, uniqueName('d6-dest'));
    await put(name, 'p1');
    await put(name, 'p2');
    const fn = jsFunction('d6', () => {
      throw new Error('always');
    });
    // Act
    const running = start(
      context,
      [streamMapping(fn, streamArn, { maximumRetryAttempts: 1, onFailureDestination: destination.arn })],
      [fn], [destination],
    );
    await waitFor('2 calls', () => fn.calls.length === 2);
    await waitForIdle(running);
    // Assess
    const messages = await receiveAll(sqs, destination.url);
    expect(messages).toHaveLength(1);
    const failure = JSON.parse(messages[0]!.Body as string);
    const sequence = fn.calls[0]!.records.map((r) => r.dynamodb.SequenceNumber);
    expect(Object.keys(failure)).toEqual(['requestContext', 'responseContext', 'version', 'timestamp', 'DDBStreamBatchInfo']);
    expect(failure).toEqual({
      requestContext: {
        requestId: fn.calls[1]!.result!.requestId,
        functionArn: fn.arn,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 2,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      DDBStreamBatchInfo: {
        shardId: expect.stringMatching(/^shardId-/),
        startSequenceNumber: sequence[0],
        endSequenceNumber: sequence[1],
        approximateArrivalOfFirstRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        approximateArrivalOfLastRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        batchSize: 2,
        streamArn,
      },
    });
    expect(JSON.stringify(failure)).not.toContain('p1');
  });

  it('D7: records older than MaximumRecordAgeInSeconds are discarded to the destination instead of retried', async (context) => {
    // Prepare: the clock jumps 3 minutes ahead after the second failed attempt (the minimum age is 60 s).
    const { name, streamArn } = await newTable('d7');
    const destination = await createQueue(sqs, uniqueName('d7-dest'));
    await put(name, 'stale');
    let offsetMs = 0;
    const fn = jsFunction('d7', (_event, call) => {
      if (call === 1) offsetMs = 180_000;
      throw new Error('always');
    });
    // Act
    const running = start(
      context,
      [streamMapping(fn, streamArn, { maximumRecordAgeInSeconds: 60, onFailureDestination: destination.arn })],
      [fn], [destination],
      { clock: () => Date.now() + offsetMs },
    );
    await waitFor('the discard', () => running.stats()[0]!.discarded === 1);
    await waitForIdle(running);
    // Assess
    expect(fn.calls).toHaveLength(2);
    const [failure] = (await receiveAll(sqs, destination.url)).map((m) => JSON.parse(m.Body as string) as StreamFailureRecord);
    expect(failure?.requestContext).toMatchObject({ condition: 'RecordAgeExceeded', approximateInvokeCount: 2 });
  });

  it('D7: records already older than the maximum age are never delivered', async (context) => {
    // Prepare
    const { name, streamArn } = await newTable('d7old');
    await put(name, 'old');
    const fn = jsFunction('d7old', () => undefined);
    // Act
    const running = start(
      context, [streamMapping(fn, streamArn, { maximumRecordAgeInSeconds: 60 })], [fn], [], { clock: () => Date.now() + 180_000 },
    );
    await waitFor('the discard', () => running.stats()[0]!.discarded === 1);
    await waitForIdle(running);
    // Assess
    expect(fn.calls).toHaveLength(0);
  });

  it('D8: records the filters reject are skipped and never delivered', async (context) => {
    // Prepare
    const { name, streamArn } = await newTable('d8');
    await put(name, 'a', { status: { S: 'NEW' } });
    await put(name, 'b', { status: { S: 'NEW' } });
    await ddb.send(new UpdateItemCommand({
      TableName: name, Key: { pk: { S: 'a' } }, UpdateExpression: 'SET #s = :s',
      ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': { S: 'PAID' } },
    }));
    const fn = jsFunction('d8', () => undefined);
    // Act
    const running = start(context, [streamMapping(fn, streamArn, {
      filterPatterns: [{ eventName: ['MODIFY'], dynamodb: { NewImage: { status: { S: ['PAID'] } } } }],
    })], [fn], []);
    await waitFor('one record', () => pks(fn).length === 1);
    await waitForIdle(running);
    // Assess
    expect(fn.calls.flatMap((c) => c.records.map((r) => `${r.eventName} ${pkOf(r)}`))).toEqual(['MODIFY a']);
    expect(running.stats()[0]!.filteredOut).toBe(2);
  });

  it('D9: ParallelizationFactor runs concurrent batches per shard and keeps order per item key', async (context) => {
    // Prepare: 6 items, each written 3 times.
    const { name, streamArn } = await newTable('d9');
    for (let version = 1; version <= 3; version++) {
      for (let i = 0; i < 6; i++) await put(name, `item-${i}`, { v: { N: String(version) } });
    }
    const fn = jsFunction('d9', () => sleep(100));
    // Act
    const running = start(context, [streamMapping(fn, streamArn, { batchSize: 1, parallelizationFactor: 3 })], [fn], []);
    await waitFor('18 records', () => pks(fn).length === 18);
    await waitForIdle(running);
    // Assess
    expect(fn.maxConcurrent).toBeGreaterThan(1);
    expect(fn.maxConcurrent).toBeLessThanOrEqual(3);
    const versions = new Map<string, number[]>();
    for (const call of [...fn.calls].sort((a, b) => a.startedAt - b.startedAt)) {
      for (const r of call.records) versions.set(pkOf(r), [...(versions.get(pkOf(r)) ?? []), Number(r.dynamodb.NewImage.v.N)]);
    }
    for (const seen of versions.values()) expect(seen).toEqual([1, 2, 3]);
  });

  it('D10: the event record has the AWS shape for INSERT, MODIFY and REMOVE', async (context) => {
    // Prepare
    const { name, streamArn } = await newTable('d10');
    await put(name, 'acc', { balance: { N: '100' } });
    await ddb.send(new UpdateItemCommand({
      TableName: name, Key: { pk: { S: 'acc' } }, UpdateExpression: 'SET balance = :b', ExpressionAttributeValues: { ':b': { N: '101' } },
    }));
    await ddb.send(new DeleteItemCommand({ TableName: name, Key: { pk: { S: 'acc' } } }));
    const fn = jsFunction('d10', () => undefined);
    // Act
    start(context, [streamMapping(fn, streamArn)], [fn], []);
    await waitFor('3 records', () => pks(fn).length === 3);
    // Assess
    const [insert, modify, remove] = fn.calls.flatMap((c) => c.records);
    expect(Object.keys(insert)).toEqual(['eventID', 'eventName', 'eventVersion', 'eventSource', 'awsRegion', 'dynamodb', 'eventSourceARN']);
    expect(insert).toMatchObject({ eventName: 'INSERT', eventVersion: '1.1', eventSource: 'aws:dynamodb', awsRegion: 'us-east-1', eventSourceARN: streamArn });
    expect(Object.keys(modify.dynamodb)).toEqual(['ApproximateCreationDateTime', 'Keys', 'NewImage', 'OldImage', 'SequenceNumber', 'SizeBytes', 'StreamViewType']);
    expect(modify.dynamodb).toMatchObject({
      Keys: { pk: { S: 'acc' } },
      NewImage: { pk: { S: 'acc' }, balance: { N: '101' } },
      OldImage: { pk: { S: 'acc' }, balance: { N: '100' } },
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    });
    expect(typeof modify.dynamodb.ApproximateCreationDateTime).toBe('number');
    expect(Math.abs(modify.dynamodb.ApproximateCreationDateTime - Date.now() / 1000)).toBeLessThan(300);
    expect(typeof modify.dynamodb.SequenceNumber).toBe('string');
    expect(typeof modify.dynamodb.SizeBytes).toBe('number');
    expect(remove.eventName).toBe('REMOVE');
    expect(remove.dynamodb.NewImage).toBeUndefined();
    expect(remove.dynamodb.OldImage).toEqual({ pk: { S: 'acc' }, balance: { N: '101' } });
    expect(insert.dynamodb.OldImage).toBeUndefined();
  });

  it('D10: a TTL deletion is a REMOVE event by the DynamoDB service principal', async (context) => {
    // Prepare: DynamoDB Local sweeps expired items in the background (and names the event oddly; the mapping fixes
    // it): about a second when this file runs alone, but more than 30 s once under the whole suite (one emulator
    // shared by every file, hundreds of tables).
    const { name, streamArn } = await newTable('d10ttl');
    await ddb.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' } }));
    await put(name, 'expired', { expiresAt: { N: String(Math.floor(Date.now() / 1000) - 60) } });
    await put(name, 'deleted');
    await ddb.send(new DeleteItemCommand({ TableName: name, Key: { pk: { S: 'deleted' } } }));
    const fn = jsFunction('d10ttl', () => undefined);
    // Act
    start(context, [streamMapping(fn, streamArn, { filterPatterns: [{ eventName: ['REMOVE'] }] })], [fn], []);
    await waitFor('both removals', () => pks(fn).length === 2, 150_000);
    // Assess
    const removals = fn.calls.flatMap((c) => c.records);
    const byTtl = removals.find((r) => pkOf(r) === 'expired');
    const byUser = removals.find((r) => pkOf(r) === 'deleted');
    expect(byTtl).toMatchObject({ eventName: 'REMOVE', userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' } });
    expect(byTtl.dynamodb.OldImage.pk).toEqual({ S: 'expired' });
    expect(byUser.eventName).toBe('REMOVE');
    expect(byUser.userIdentity).toBeUndefined();
  }, 180_000);
});

describe('DynamoDB Streams shard lineage (scripted stream: DynamoDB Local never splits shards)', () => {
  it('D2: a child shard is read only after its parent is read to its end, and no batch spans both', async (context) => {
    // Prepare: parent shard with 2 records (then closed), child shard with 2 records.
    const record = (pk: string, seq: string) => ({
      eventID: `e-${seq}`, eventName: 'INSERT', eventVersion: '1.1', eventSource: 'aws:dynamodb', awsRegion: 'ddblocal',
      dynamodb: { ApproximateCreationDateTime: new Date(), Keys: { pk: { S: pk } }, SequenceNumber: seq, SizeBytes: 10, StreamViewType: 'KEYS_ONLY' },
    });
    const shards = [
      { ShardId: 'shardId-child', ParentShardId: 'shardId-parent', SequenceNumberRange: { StartingSequenceNumber: '300' } },
      { ShardId: 'shardId-parent', SequenceNumberRange: { StartingSequenceNumber: '100', EndingSequenceNumber: '200' } },
    ];
    const content: Record<string, unknown[]> = {
      'shardId-parent': [record('p1', '100'), record('p2', '200')],
      'shardId-child': [record('c1', '300'), record('c2', '400')],
    };
    const reads: string[] = [];
    const streams = {
      async send(command: { constructor: { name: string }; input: any }) {
        const { input } = command;
        switch (command.constructor.name) {
          case 'DescribeStreamCommand':
            return { StreamDescription: { Shards: shards } };
          case 'GetShardIteratorCommand':
            return { ShardIterator: `${input.ShardId}|0` };
          case 'GetRecordsCommand': {
            const [shardId, position] = (input.ShardIterator as string).split('|') as [string, string];
            reads.push(shardId);
            const records = Number(position) === 0 ? content[shardId] : [];
            // The parent is closed: after its records it has no next iterator; the child stays open.
            const next = shardId === 'shardId-parent' && Number(position) > 0 ? undefined : `${shardId}|1`;
            return { Records: records, NextShardIterator: next };
          }
          default:
            throw new Error(`unexpected ${command.constructor.name}`);
        }
      },
    } as unknown as DynamoDBStreamsClient;
    const fn = jsFunction('d2split', () => sleep(50));
    const streamArn = 'arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/2026-01-01T00:00:00.000';
    // Act
    const running = startEventSourceMappings({
      mappings: [streamMapping(fn, streamArn, { batchSize: 10 })],
      invokers: new Map([[fn.arn, fn]]),
      sqs, streams, queueByArn: () => undefined, region: 'us-east-1', accountId: ACCOUNT_ID, streamPollIntervalMs: 20,
    });
    context.onTestFinished(() => running.stop());
    await waitFor('4 records', () => pks(fn).length === 4);
    await waitForIdle(running);
    // Assess
    expect(fn.calls.map((c) => c.records.map(pkOf).join(' '))).toEqual(['p1 p2', 'c1 c2']);
    expect(reads.indexOf('shardId-child')).toBeGreaterThan(reads.lastIndexOf('shardId-parent'));
  });
});
