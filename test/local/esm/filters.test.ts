/**
 * Conformance suite, event filtering (rules S14 for SQS and D8 for streams; D8 against a live stream is in
 * streams.test.ts). The matcher is shared by both pollers.
 */
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import {
  matchesPattern,
  parseFilterPattern,
  sqsRecordMatches,
  streamRecordMatches,
} from '../../../local/esm/index.js';
import {
  clients,
  createQueue,
  queueDepth,
  sqsMapping,
  startMappings,
  jsFunction,
  uniqueName,
  waitFor,
  waitForIdle,
} from './support.js';

const sqsRecord = (body: string) => ({ messageId: 'm', body, attributes: {}, eventSource: 'aws:sqs' });

describe('S14: SQS filter criteria on the body', () => {
  it('S14: a JSON pattern matches fields of a JSON body', () => {
    const patterns = [parseFilterPattern('{"body":{"type":["payment"],"amount":[{"numeric":[">",100]}]}}')];
    expect(sqsRecordMatches(patterns, sqsRecord('{"type":"payment","amount":150}'))).toBe(true);
    expect(sqsRecordMatches(patterns, sqsRecord('{"type":"payment","amount":50}'))).toBe(false);
    expect(sqsRecordMatches(patterns, sqsRecord('{"type":"refund","amount":150}'))).toBe(false);
  });

  it('S14: a JSON pattern against a non-JSON body drops the message', () => {
    const patterns = [parseFilterPattern({ body: { type: [{ exists: false }] } })];
    expect(sqsRecordMatches(patterns, sqsRecord('plain text'))).toBe(false);
    expect(sqsRecordMatches(patterns, sqsRecord('{"other":1}'))).toBe(true);
  });

  it('S14: a plain-string pattern matches the raw body', () => {
    const patterns = [parseFilterPattern({ body: ['plain text', { prefix: 'INFO ' }] })];
    expect(sqsRecordMatches(patterns, sqsRecord('plain text'))).toBe(true);
    expect(sqsRecordMatches(patterns, sqsRecord('INFO started'))).toBe(true);
    expect(sqsRecordMatches(patterns, sqsRecord('WARN started'))).toBe(false);
  });

  it('S14: up to 5 patterns are OR-ed', () => {
    const patterns = ['a', 'b', 'c', 'd', 'e'].map((t) => parseFilterPattern({ body: { t: [t] } }));
    expect(sqsRecordMatches(patterns, sqsRecord('{"t":"e"}'))).toBe(true);
    expect(sqsRecordMatches(patterns, sqsRecord('{"t":"f"}'))).toBe(false);
  });

  it('S14: no filter criteria lets every message through', () => {
    expect(sqsRecordMatches(undefined, sqsRecord('anything'))).toBe(true);
    expect(sqsRecordMatches([], sqsRecord('anything'))).toBe(true);
  });

  it('S14: non-matching messages are deleted from the queue and never delivered', async (context) => {
    // Prepare
    const { sqs } = clients();
    const queue = await createQueue(sqs, uniqueName('s14'), { VisibilityTimeout: '30' });
    await sqs.send(new SendMessageBatchCommand({
      QueueUrl: queue.url,
      Entries: [
        { Id: '1', MessageBody: '{"kind":"keep","n":1}' },
        { Id: '2', MessageBody: '{"kind":"drop","n":2}' },
        { Id: '3', MessageBody: 'not json at all' },
        { Id: '4', MessageBody: '{"kind":"keep","n":4}' },
      ],
    }));
    const fn = jsFunction('s14', () => undefined);
    // Act
    const running = startMappings(
      [sqsMapping(fn, queue, { filterPatterns: [parseFilterPattern('{"body":{"kind":["keep"]}}')] })], [fn], [queue],
    );
    context.onTestFinished(() => running.stop());
    await waitFor('the kept messages', () => fn.calls.flatMap((c) => c.records).length === 2);
    await waitForIdle(running);
    // Assess
    expect(fn.calls.flatMap((c) => c.records.map((r) => JSON.parse(r.body).n)).sort()).toEqual([1, 4]);
    expect(running.stats()[0]!.filteredOut).toBe(2);
    expect(await queueDepth(sqs, queue.url)).toBe(0);
  });
});

describe('S14/D8: filter rule syntax', () => {
  const cases: [string, unknown, unknown, boolean][] = [
    ['exact string', { a: ['x'] }, { a: 'x' }, true],
    ['exact string mismatch', { a: ['x'] }, { a: 'y' }, false],
    ['exact number', { a: [5] }, { a: 5 }, true],
    ['boolean', { a: [true] }, { a: true }, true],
    ['null', { a: [null] }, { a: null }, true],
    ['empty string', { a: [''] }, { a: '' }, true],
    ['OR of values', { a: ['x', 'y'] }, { a: 'y' }, true],
    ['AND of fields', { a: ['x'], b: ['y'] }, { a: 'x', b: 'z' }, false],
    ['array in event matches any element', { a: ['x'] }, { a: ['w', 'x'] }, true],
    ['nested object', { a: { b: ['x'] } }, { a: { b: 'x' } }, true],
    ['prefix', { a: [{ prefix: 'pay' }] }, { a: 'payment' }, true],
    ['prefix mismatch', { a: [{ prefix: 'pay' }] }, { a: 'refund' }, false],
    ['suffix', { a: [{ suffix: '.png' }] }, { a: 'img.png' }, true],
    ['equals-ignore-case', { a: [{ 'equals-ignore-case': 'PaYmEnT' }] }, { a: 'payment' }, true],
    ['anything-but value', { a: [{ 'anything-but': 'x' }] }, { a: 'y' }, true],
    ['anything-but value mismatch', { a: [{ 'anything-but': 'x' }] }, { a: 'x' }, false],
    ['anything-but list', { a: [{ 'anything-but': ['x', 'y'] }] }, { a: 'y' }, false],
    ['anything-but prefix', { a: [{ 'anything-but': { prefix: 'tmp' } }] }, { a: 'tmpfile' }, false],
    ['anything-but does not match a missing field', { a: [{ 'anything-but': 'x' }] }, {}, false],
    ['numeric range', { a: [{ numeric: ['>', 0, '<=', 5] }] }, { a: 5 }, true],
    ['numeric range mismatch', { a: [{ numeric: ['>', 0, '<=', 5] }] }, { a: 6 }, false],
    ['numeric equals', { a: [{ numeric: ['=', 3.0] }] }, { a: 3 }, true],
    ['numeric does not match a string', { a: [{ numeric: ['>', 0] }] }, { a: '5' }, false],
    ['exists true', { a: [{ exists: true }] }, { a: 'v' }, true],
    ['exists true on missing field', { a: [{ exists: true }] }, {}, false],
    ['exists false on missing field', { a: [{ exists: false }] }, { b: 1 }, true],
    ['exists false on present field', { a: [{ exists: false }] }, { a: 1 }, false],
    ['exists false under a missing parent', { a: { b: [{ exists: false }] } }, {}, true],
    ['missing field does not match a value', { a: ['x'] }, {}, false],
  ];
  for (const [label, pattern, event, expected] of cases) {
    it(`S14: ${label} ${expected ? 'matches' : 'does not match'}`, () => {
      expect(matchesPattern(parseFilterPattern(pattern as Record<string, unknown>), event)).toBe(expected);
    });
  }

  it('D8: stream records are filtered on eventName and the dynamodb key in attribute-value form', () => {
    const record = { eventName: 'MODIFY', dynamodb: { NewImage: { status: { S: 'PAID' }, pk: { S: 'ACCOUNT#1' } } } };
    const paid = parseFilterPattern({ eventName: ['MODIFY'], dynamodb: { NewImage: { status: { S: ['PAID'] } } } });
    const inserts = parseFilterPattern({ eventName: ['INSERT'] });
    const accounts = parseFilterPattern({ dynamodb: { NewImage: { pk: { S: [{ prefix: 'ACCOUNT#' }] } } } });
    expect(streamRecordMatches([paid], record)).toBe(true);
    expect(streamRecordMatches([inserts], record)).toBe(false);
    expect(streamRecordMatches([inserts, accounts], record)).toBe(true);
  });

  const invalid: [string, unknown][] = [
    ['not JSON', '{body:'],
    ['not an object', '["a"]'],
    ['a bare value instead of a list', { a: 'x' }],
    ['an empty list', { a: [] }],
    ['an unknown operator', { a: [{ regex: 'x.*' }] }],
    ['a malformed numeric', { a: [{ numeric: ['>', 'five'] }] }],
    ['a non-boolean exists', { a: [{ exists: 'yes' }] }],
  ];
  for (const [label, pattern] of invalid) {
    it(`S14: rejects a pattern with ${label}`, () => {
      expect(() => parseFilterPattern(pattern as string)).toThrow(/Filter pattern/);
    });
  }
});
