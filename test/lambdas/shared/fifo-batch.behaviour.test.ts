import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { processFifoBatch, type RecordFailure } from '../../../lambdas/shared/fifo-batch.js';
import { sqsRecord } from '../../fixtures/events.js';

/**
 * processFifoBatch's contract (options and partial batch response, S10), scenario by scenario: what is processed, what
 * is reported, and what each reported record is told about why. Issue 11 #8 (tests that would notice).
 */

const ids = (records: readonly SQSRecord[]) => records.map((r) => r.messageId);

/** Runs a batch where `failing` bodies throw `error`, returning what was processed, reported and told to onFailure. */
async function run(
  records: readonly SQSRecord[],
  failing: Record<string, Error>,
  options: Parameters<typeof processFifoBatch>[2] = {},
) {
  const processed: string[] = [];
  const failures: RecordFailure[] = [];
  const response = await processFifoBatch(
    records,
    async (record) => {
      const error = failing[record.body];
      if (error) throw error;
      processed.push(record.body);
    },
    { ...options, onFailure: (failure) => failures.push(failure) },
  );
  return { processed, reported: response.batchItemFailures.map((f) => f.itemIdentifier), failures };
}

describe('processFifoBatch contract', () => {
  it('processes every record of every group and reports nothing when all succeed, with or without options', async () => {
    const records = ['a1', 'b1', 'a2', 'b2'].map((body) => sqsRecord({ body, groupId: body[0] }));
    expect(await run(records, {})).toEqual({ processed: ['a1', 'b1', 'a2', 'b2'], reported: [], failures: [] });
    expect(await processFifoBatch(records, async () => undefined)).toEqual({ batchItemFailures: [] });
  });

  it('tells onFailure the error of the failed record and, for each later record of its group, which record blocked it', async () => {
    // Prepare: a1 fails; a2 and a3 must be reported behind it, b1 and b2 go on.
    const records = ['a1', 'b1', 'a2', 'b2', 'a3'].map((body) => sqsRecord({ body, groupId: body[0] }));
    const boom = new Error('throttled');

    // Act
    const { processed, reported, failures } = await run(records, { a1: boom });

    // Assess
    expect(processed).toEqual(['b1', 'b2']);
    expect(reported).toEqual(ids([records[0]!, records[2]!, records[4]!]));
    expect(failures).toEqual([
      { record: records[0], error: boom },
      { record: records[2], blockedBy: records[0]!.messageId },
      { record: records[4], blockedBy: records[0]!.messageId },
    ]);
  });

  it('without isPermanent every failure stops its group (the default holds a poison message in order too)', async () => {
    const records = ['p1', 'p2'].map((body) => sqsRecord({ body, groupId: 'p' }));
    const { processed, reported } = await run(records, { p1: new SyntaxError('not JSON') });
    expect(processed).toEqual([]);
    expect(reported).toEqual(ids(records));
  });

  it('a permanent failure does not stop its group, but a later retryable failure of that group does', async () => {
    const records = ['g1', 'g2', 'g3', 'g4'].map((body) => sqsRecord({ body, groupId: 'g' }));
    const { processed, reported, failures } = await run(
      records,
      { g1: new SyntaxError('poison'), g3: new Error('throttled') },
      { isPermanent: (error) => error instanceof SyntaxError },
    );
    expect(processed).toEqual(['g2']);
    expect(reported).toEqual(ids([records[0]!, records[2]!, records[3]!]));
    expect(failures.map((f) => f.blockedBy)).toEqual([undefined, undefined, records[2]!.messageId]);
  });

  it('records of a standard queue (no group) never block each other, even after a retryable failure', async () => {
    const records = ['s1', 's2', 's3'].map((body) => sqsRecord({ body }));
    const { processed, reported } = await run(records, { s1: new Error('throttled'), s2: new Error('throttled') });
    expect(processed).toEqual(['s3']);
    expect(reported).toEqual(ids([records[0]!, records[1]!]));
  });

  it('rethrows only the errors isFatal names; any other failure is reported and the batch goes on', async () => {
    const records = ['a', 'b', 'c'].map((body) => sqsRecord({ body, groupId: body }));
    const { processed, reported } = await run(records, { a: new Error('retryable') }, { isFatal: (error) => error instanceof RangeError });
    expect(processed).toEqual(['b', 'c']);
    expect(reported).toEqual(ids([records[0]!]));
    await expect(run(records, { b: new RangeError('crash') }, { isFatal: (error) => error instanceof RangeError })).rejects.toThrow('crash');
  });

  it('always starts the first record, then stops at shouldStop and reports every remaining record of every group as deadline', async () => {
    // Prepare: time runs out once two records are done; shouldStop says so from then on.
    const records = ['a1', 'b1', 'a2', 'c1'].map((body) => sqsRecord({ body, groupId: body[0] }));
    const done: string[] = [];
    const askedAfter: number[] = [];
    const failures: RecordFailure[] = [];

    // Act
    const response = await processFifoBatch(records, async (record) => void done.push(record.body), {
      shouldStop: () => {
        askedAfter.push(done.length);
        return done.length >= 2;
      },
      onFailure: (failure) => failures.push(failure),
    });

    // Assess: not asked before the first record; asked before each later one until it said stop; the rest reported.
    expect(askedAfter).toEqual([1, 2]);
    expect(done).toEqual(['a1', 'b1']);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(ids(records.slice(2)));
    expect(failures).toEqual([
      { record: records[2], deadline: true },
      { record: records[3], deadline: true },
    ]);
  });

  it('does not stop a batch whose shouldStop stays false, nor one of a single record whose time is already short', async () => {
    const records = ['a', 'b'].map((body) => sqsRecord({ body, groupId: body }));
    expect((await run(records, {}, { shouldStop: () => false })).processed).toEqual(['a', 'b']);
    expect((await run(records.slice(0, 1), {}, { shouldStop: () => true })).processed).toEqual(['a']);
  });

  it('returns the partial response of a stopped batch when no onFailure is given', async () => {
    const records = ['a', 'b', 'c'].map((body) => sqsRecord({ body, groupId: body }));
    const response = await processFifoBatch(records, async () => undefined, { shouldStop: () => true });
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(ids(records.slice(1)));
  });

  it('calls betweenRecords before every record started but the first, not before records skipped behind a failure', async () => {
    const records = ['a1', 'a2', 'b1'].map((body) => sqsRecord({ body, groupId: body[0] }));
    const seen: number[] = [];
    let count = 0;
    await processFifoBatch(
      records,
      async (record) => {
        count += 1;
        if (record.body === 'a1') throw new Error('throttled');
      },
      { betweenRecords: () => void seen.push(count) },
    );
    // a1 starts (no call), a2 is skipped behind a1's failure (not started: no call), b1 starts after one record ran
    expect(seen).toEqual([1]);
  });
});
