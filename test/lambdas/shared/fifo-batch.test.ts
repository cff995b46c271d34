import { describe, expect, it } from 'vitest';
import type { SQSRecord } from 'aws-lambda';
import { processFifoBatch, type RecordFailure } from '../../../lambdas/shared/fifo-batch.js';
import { sqsRecord } from '../../fixtures/events.js';

/** A promise with its resolve/reject exposed, so a test decides when a record finishes. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run (the processor starts records from `.then` callbacks). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Records of body `<group><n>`, e.g. batch('a1', 'b1', 'a2'); a body starting with '-' has no group. */
function batch(...bodies: string[]): SQSRecord[] {
  return bodies.map((body) => sqsRecord({ body, ...(body.startsWith('-') ? {} : { groupId: body[0] }) }));
}

const ids = (records: readonly SQSRecord[], ...bodies: string[]) => bodies.map((b) => records.find((r) => r.body === b)!.messageId);

describe('processFifoBatch with groupConcurrency', () => {
  it('keeps a group in order: a slow first record of group a does not let a2 start before it ends', async () => {
    // Prepare: a1 is held until the test releases it; b1 runs meanwhile.
    const records = batch('a1', 'a2', 'b1');
    const log: string[] = [];
    const a1 = deferred();
    // Act
    const done = processFifoBatch(
      records,
      async (r) => {
        log.push(`start ${r.body}`);
        if (r.body === 'a1') await a1.promise;
        log.push(`end ${r.body}`);
      },
      { groupConcurrency: 10 },
    );
    await settle();
    const beforeRelease = [...log];
    a1.resolve();
    const response = await done;
    // Assess: b1 ran to completion while a1 was held, a2 only started after a1 ended.
    expect(beforeRelease).toEqual(['start a1', 'start b1', 'end b1']);
    expect(log).toEqual(['start a1', 'start b1', 'end b1', 'end a1', 'start a2', 'end a2']);
    expect(response.batchItemFailures).toEqual([]);
  });

  it('interleaves groups: every group has a record running before any group finishes its first', async () => {
    // Prepare: 10 groups × 1 record, each held until all ten have started.
    const records = batch(...'abcdefghij'.split('').map((g) => `${g}1`));
    const gates = new Map(records.map((r) => [r.body, deferred()]));
    const log: string[] = [];
    // Act
    const done = processFifoBatch(
      records,
      async (r) => {
        log.push(`start ${r.body}`);
        await gates.get(r.body)!.promise;
        log.push(`end ${r.body}`);
      },
      { groupConcurrency: 10 },
    );
    await settle();
    const startedBeforeAnyEnd = log.filter((l) => l.startsWith('start')).length;
    for (const gate of [...gates.values()].reverse()) gate.resolve();
    await done;
    // Assess: the ten records overlapped (sequential processing would show start, end, start, end…).
    expect(startedBeforeAnyEnd).toBe(10);
    expect(log.slice(0, 10).every((l) => l.startsWith('start'))).toBe(true);
  });

  it('never runs more records at once than groupConcurrency, starting them in batch order', async () => {
    // Prepare: 6 groups, bound 2; each record yields a few times so others could start if the bound allowed it.
    const records = batch('a1', 'b1', 'c1', 'd1', 'e1', 'f1');
    let running = 0;
    let peak = 0;
    const order: string[] = [];
    // Act
    await processFifoBatch(
      records,
      async (r) => {
        running++;
        peak = Math.max(peak, running);
        order.push(r.body);
        await settle();
        await settle();
        running--;
      },
      { groupConcurrency: 2 },
    );
    // Assess
    expect(peak).toBe(2);
    expect(order).toEqual(['a1', 'b1', 'c1', 'd1', 'e1', 'f1']);
  });

  it('runs one record at a time in batch order by default (groupConcurrency 1)', async () => {
    const records = batch('a1', 'b1', 'a2', 'c1');
    let running = 0;
    let peak = 0;
    const order: string[] = [];
    await processFifoBatch(records, async (r) => {
      running++;
      peak = Math.max(peak, running);
      order.push(r.body);
      await settle();
      running--;
    });
    expect(peak).toBe(1);
    expect(order).toEqual(['a1', 'b1', 'a2', 'c1']);
  });

  it('fails a group at its first retryable error, goes on past poison, and other groups go on, in batch order', async () => {
    // Prepare: a = [retryable failure (slow), later, later]; p = [poison, later]; b = [ok, ok].
    const records = batch('a1', 'p1', 'b1', 'a2', 'p2', 'b2', 'a3');
    const done: string[] = [];
    const failures: RecordFailure[] = [];
    const a1 = deferred();
    // Act
    const response = processFifoBatch(
      records,
      async (r) => {
        if (r.body === 'a1') {
          await a1.promise;
          throw new Error('throttled');
        }
        if (r.body === 'p1') throw new SyntaxError('not a payment');
        done.push(r.body);
      },
      { groupConcurrency: 10, isPermanent: (e) => e instanceof SyntaxError, onFailure: (f) => failures.push(f) },
    );
    await settle();
    a1.resolve();
    const { batchItemFailures } = await response;
    // Assess
    expect(batchItemFailures.map((f) => f.itemIdentifier)).toEqual(ids(records, 'a1', 'p1', 'a2', 'a3'));
    expect(done.sort()).toEqual(['b1', 'b2', 'p2']);
    const blocked = failures.filter((f) => f.blockedBy !== undefined);
    expect(blocked.map((f) => f.record.body)).toEqual(['a2', 'a3']);
    expect(blocked.every((f) => f.blockedBy === records[0]!.messageId)).toBe(true);
  });

  it('fails standard-queue records (no group) independently while running them concurrently', async () => {
    const records = batch('-1', '-2', '-3');
    let peak = 0;
    let running = 0;
    const response = await processFifoBatch(
      records,
      async (r) => {
        running++;
        peak = Math.max(peak, running);
        await settle();
        running--;
        if (r.body === '-1') throw new Error('boom');
      },
      { groupConcurrency: 3 },
    );
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(ids(records, '-1'));
    expect(peak).toBe(3);
  });

  it('stops starting records in every group when shouldStop says so, reports all not started, lets running ones finish', async () => {
    // Prepare: a1 and b1 start; then time is "up" before a2/b2/c1 start; a1 and b1 still complete.
    const records = batch('a1', 'b1', 'a2', 'b2', 'c1');
    const done: string[] = [];
    const reported: RecordFailure[] = [];
    let asked = 0;
    // Act
    const response = await processFifoBatch(
      records,
      async (r) => {
        await settle();
        done.push(r.body);
      },
      { groupConcurrency: 2, shouldStop: () => ++asked > 1, onFailure: (f) => reported.push(f) },
    );
    // Assess: asked before b1 (false), then before the next start (true).
    expect(done.sort()).toEqual(['a1', 'b1']);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(ids(records, 'a2', 'b2', 'c1'));
    expect(reported.every((f) => f.deadline === true)).toBe(true);
  });

  it('rejects at once on a fatal error, without waiting for other groups or starting any more records', async () => {
    // Prepare: b1 never finishes; a1 crashes; c1 would start next if the processor went on.
    const records = batch('a1', 'b1', 'c1');
    const started: string[] = [];
    const reported: RecordFailure[] = [];
    const never = deferred();
    // Act
    const outcome = processFifoBatch(
      records,
      async (r) => {
        started.push(r.body);
        if (r.body === 'b1') await never.promise;
        if (r.body === 'a1') {
          await settle();
          throw new RangeError('crash');
        }
      },
      { groupConcurrency: 2, isFatal: (e) => e instanceof RangeError, onFailure: (f) => reported.push(f) },
    );
    // Assess: the promise settles although b1 is still running (it would hang forever otherwise).
    await expect(outcome).rejects.toThrow('crash');
    expect(started).toEqual(['a1', 'b1']);
    expect(reported).toEqual([]);
  });

  it('calls betweenRecords before every record but the first started, and a throw there ends the invocation', async () => {
    // Prepare: 3 groups run at once; the crash point fires before the third start.
    const records = batch('a1', 'b1', 'c1');
    const started: string[] = [];
    let calls = 0;
    // Act
    const outcome = processFifoBatch(records, async (r) => void started.push(r.body), {
      groupConcurrency: 3,
      betweenRecords: () => {
        if (++calls === 2) throw new RangeError('mid-batch crash');
      },
    });
    // Assess
    await expect(outcome).rejects.toThrow('mid-batch crash');
    expect(started).toEqual(['a1', 'b1']);
  });

  it('throws on a groupConcurrency that is not a positive integer, naming the value and the fix', async () => {
    await expect(processFifoBatch(batch('a1'), async () => {}, { groupConcurrency: 0 })).rejects.toThrow(
      /groupConcurrency must be a positive integer, got 0: use 1 .* up to 10/,
    );
    await expect(processFifoBatch(batch('a1'), async () => {}, { groupConcurrency: 2.5 })).rejects.toThrow(/got 2\.5/);
  });

  it('treats fair-queue records (standard queue, MessageGroupId = tenant) as independent: a failure holds back nothing', async () => {
    // Prepare: three records of one tenant on a standard (fair) queue; the first fails.
    const records = batch('t1', 't2', 't3').map((r) => ({ ...r, eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:events' }));
    const done: string[] = [];
    // Act
    const response = await processFifoBatch(records, async (r) => {
      if (r.body === 't1') throw new Error('webhook 503');
      done.push(r.body);
    });
    // Assess: only the failed record is reported; the tenant's other messages went on.
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(ids(records, 't1'));
    expect(done).toEqual(['t2', 't3']);
  });
});
