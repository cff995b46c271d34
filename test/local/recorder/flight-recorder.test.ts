import { describe, expect, it } from 'vitest';
import { extractKeys, parseFunctionLine } from '../../../local/recorder/correlation-keys.js';
import { FlightRecorder, type RecordableCall } from '../../../local/recorder/flight-recorder.js';
import { buildJourney } from '../../../local/recorder/journey.js';
import { parseRecording } from '../../../local/recorder/read-recording.js';
import type { QueueEvent } from '../../../local/recorder/types.js';

// The recorder on its own, fed with the request and response bodies the gateway sees (shapes of the AWS JSON
// protocol, as the SDK v3 sends them) and with the lines Powertools prints.

const QUEUE_URL = 'http://127.0.0.1:4566/000000000000/Stack-PaymentsQueue-ABC.fifo';

function call(operation: string, request: unknown, response: unknown, overrides: Partial<RecordableCall> = {}): RecordableCall {
  return {
    principal: 'arn:aws:iam::000000000000:role/ledger-role',
    principalKind: 'function',
    service: operation.match(/Message|Queue/) ? 'sqs' : 'dynamodb',
    operation,
    resources: [],
    decision: 'Allow',
    status: 200,
    durationMs: 3,
    requestBody: Buffer.from(JSON.stringify(request)),
    responseBody: Buffer.from(JSON.stringify(response)),
    ...overrides,
  };
}

describe('extractKeys', () => {
  it('finds the keys in plain JSON, in JSON nested as a string and in DynamoDB attribute values', () => {
    // Prepare
    const message = JSON.stringify({ paymentId: 'pay_1', idempotencyKey: 'key-0001', accountId: 'acct-1' });
    const sendBody = JSON.stringify({ QueueUrl: QUEUE_URL, MessageBody: message, MessageDeduplicationId: 'dedup-1' });
    const item = JSON.stringify({ Item: { eventId: { S: 'evt_1' }, event: { S: JSON.stringify({ eventId: 'evt_1', idempotencyKey: 'key-0001' }) } } });

    // Act / Assess
    expect(extractKeys(sendBody)).toEqual(['pay_1', 'key-0001', 'dedup-1']);
    expect(extractKeys(item)).toEqual(['evt_1', 'key-0001']);
    expect(extractKeys('{"headers":{"Idempotency-Key":"key-0002"}}')).toEqual(['key-0002']);
  });

  it('ignores fields that are not correlation keys (an account links every payment of it)', () => {
    expect(extractKeys('{"accountId":"acct-1","amount":5,"reference":"x"}')).toEqual([]);
  });
});

describe('FlightRecorder', () => {
  it('rejects a record limit out of range, naming the value and the flag', () => {
    expect(() => new FlightRecorder({ limit: 0 })).toThrow(/record limit must be an integer from 1 to 5000000, got 0: pass --record-limit/);
    expect(() => new FlightRecorder({ limit: 1.5 })).toThrow(/got 1.5/);
  });

  it('keeps the last N events, oldest first, and counts the evicted ones', () => {
    // Prepare
    const recorder = new FlightRecorder({ limit: 3 });

    // Act
    for (let i = 1; i <= 5; i++) recorder.add({ kind: 'log', t: i, keys: [`k${i}`], level: 'INFO', message: `line ${i}` });

    // Assess
    expect(recorder.events().map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(recorder.counters()).toMatchObject({ recorded: 5, evicted: 2 });
  });

  it('splits a SendMessageBatch into one send per entry, with the MessageId SQS answered and failed entries marked', () => {
    // Prepare
    const recorder = new FlightRecorder();
    const entries = [
      { Id: '0', MessageBody: JSON.stringify({ eventId: 'evt_a' }), MessageDeduplicationId: 'evt_a', MessageGroupId: 'acct-1' },
      { Id: '1', MessageBody: JSON.stringify({ eventId: 'evt_b' }), MessageDeduplicationId: 'evt_b', MessageGroupId: 'acct-1' },
    ];

    // Act
    recorder.recordCall(
      call('SendMessageBatch', { QueueUrl: QUEUE_URL, Entries: entries }, { Successful: [{ Id: '0', MessageId: 'm-a' }], Failed: [{ Id: '1', Code: 'InternalError', Message: 'boom' }] }),
    );

    // Assess
    const sends = recorder.events() as QueueEvent[];
    expect(sends).toMatchObject([
      { kind: 'queue', move: 'send', queue: 'Stack-PaymentsQueue-ABC.fifo', messageId: 'm-a', dedupId: 'evt_a', keys: ['evt_a', 'm-a'] },
      { kind: 'queue', move: 'send', dedupId: 'evt_b', error: 'InternalError: boom' },
    ]);
    expect(sends[1]!.messageId).toBeUndefined();
  });

  it('names the message of a later delete or visibility change by the receipt handle its receive returned', () => {
    // Prepare
    const recorder = new FlightRecorder();
    recorder.nameResources([['Stack-PaymentsQueue-ABC.fifo', 'PaymentsQueueC485226B']]);
    const received = { MessageId: 'm-1', ReceiptHandle: 'rh-1', Body: JSON.stringify({ idempotencyKey: 'key-0001' }), Attributes: { ApproximateReceiveCount: '2', MessageGroupId: 'acct-1' } };

    // Act
    recorder.recordCall(call('ReceiveMessage', { QueueUrl: QUEUE_URL }, { Messages: [received] }));
    recorder.recordCall(call('ChangeMessageVisibilityBatch', { QueueUrl: QUEUE_URL, Entries: [{ Id: 'x', ReceiptHandle: 'rh-1', VisibilityTimeout: 0 }] }, { Successful: [{ Id: 'x' }] }));
    recorder.recordCall(call('DeleteMessageBatch', { QueueUrl: QUEUE_URL, Entries: [{ Id: 'x', ReceiptHandle: 'rh-1' }] }, { Successful: [{ Id: 'x' }] }));

    // Assess
    expect(recorder.events()).toMatchObject([
      { move: 'receive', queue: 'PaymentsQueueC485226B', messageId: 'm-1', receiveCount: 2, group: 'acct-1', keys: ['m-1', 'key-0001'] },
      { move: 'visibility', messageId: 'm-1', visibilitySeconds: 0, keys: ['m-1', 'key-0001'] },
      { move: 'delete', messageId: 'm-1', keys: ['m-1', 'key-0001'] },
    ]);
  });

  it('records a receive from a dead-letter queue as a redrive', () => {
    // Prepare
    const recorder = new FlightRecorder();
    recorder.nameResources([['Stack-PaymentsQueue-ABC.fifo', 'PaymentsDlq']]);
    recorder.markDeadLetterQueues(['PaymentsDlq']);

    // Act
    recorder.recordCall(call('ReceiveMessage', { QueueUrl: QUEUE_URL }, { Messages: [{ MessageId: 'm-1', ReceiptHandle: 'rh', Body: '{}' }] }, { principalKind: 'caller' }));

    // Assess
    expect(recorder.events()).toMatchObject([{ move: 'redrive', queue: 'PaymentsDlq', fn: 'caller', messageId: 'm-1' }]);
    expect(buildJourney(recorder.events(), 'm-1').hops[0]!.why).toMatch(/^redrive: read from the dead-letter queue/);
  });

  it('marks a FIFO send of a dedup id already sent within 5 minutes as deduplicated, not one sent later', () => {
    // Prepare
    let now = 1_000_000;
    const recorder = new FlightRecorder({ clock: () => now });
    const send = () => recorder.recordCall(call('SendMessage', { QueueUrl: QUEUE_URL, MessageBody: '{}', MessageDeduplicationId: 'd-1', MessageGroupId: 'g' }, { MessageId: 'm-1' }));

    // Act
    send();
    now += 60_000;
    send();
    now += 5 * 60_000;
    send();

    // Assess
    expect((recorder.events() as QueueEvent[]).map((e) => e.deduplicated ?? false)).toEqual([false, true, false]);
  });

  it('keeps the cancellation reasons of a TransactWriteItems and the code of a failed call', () => {
    // Prepare
    const recorder = new FlightRecorder();
    const request = { TransactItems: [{ Update: { Key: { pk: { S: 'ACCOUNT#a' } } } }, { Put: { Item: { eventId: { S: 'evt_1' }, idempotencyKey: { S: 'key-0001' } } } }] };
    const response = { __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException', Message: 'Transaction cancelled', CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }] };

    // Act
    recorder.recordCall(call('TransactWriteItems', request, response, { status: 400, resources: ['arn:aws:dynamodb:us-east-1:000000000000:table/Stack-Ledger-X'] }));

    // Assess
    expect(recorder.events()).toMatchObject([
      { kind: 'call', operation: 'TransactWriteItems', resource: 'Stack-Ledger-X', error: 'TransactionCanceledException', reasons: ['None', 'ConditionalCheckFailed'], items: 2, keys: ['evt_1', 'key-0001'], fn: 'ledger-role' },
    ]);
  });

  it('counts control-plane polls without keeping them in the ring', () => {
    // Prepare
    const recorder = new FlightRecorder();

    // Act
    recorder.recordCall(call('GetQueueAttributes', { QueueUrl: QUEUE_URL }, { Attributes: {} }));
    recorder.recordCall(call('ReceiveMessage', { QueueUrl: QUEUE_URL }, {}));

    // Assess
    expect(recorder.events()).toEqual([]);
    expect(recorder.counters().calls).toEqual({ 'sqs:GetQueueAttributes': 1, 'sqs:ReceiveMessage': 1 });
  });

  it('records each SQS record of a batch with its outcome from the partial batch response', () => {
    // Prepare
    const recorder = new FlightRecorder();
    const record = (id: string, key: string) => ({ messageId: id, body: JSON.stringify({ idempotencyKey: key }), attributes: { ApproximateReceiveCount: '1' }, eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:Q.fifo' });

    // Act
    recorder.recordInvocation('Ledger', { Records: [record('m-1', 'key-0001'), record('m-2', 'key-0002')] }, { ok: true, timedOut: false, durationMs: 12, requestId: 'r-1', payload: { batchItemFailures: [{ itemIdentifier: 'm-2' }] } }, true);

    // Assess
    expect(recorder.events()).toMatchObject([
      { kind: 'invocation', fn: 'Ledger', trigger: 'sqs', batchSize: 2, outcome: 'partial', failures: ['m-2'], cold: true },
      { kind: 'record', id: 'm-1', outcome: 'ok', keys: ['m-1', 'key-0001'] },
      { kind: 'record', id: 'm-2', outcome: 'failed', keys: ['m-2', 'key-0002'] },
    ]);
    expect(recorder.counters().functions.Ledger).toEqual({ invocations: 1, errors: 0, partial: 1, cold: 1 });
  });

  it('turns Powertools log lines into events and sums EMF DuplicatesSkipped per layer', () => {
    // Prepare
    const recorder = new FlightRecorder();
    const emf = { _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: 'N', Dimensions: [['layer']], Metrics: [{ Name: 'DuplicatesSkipped', Unit: 'Count' }] }] }, layer: 'ledger', DuplicatesSkipped: 2 };
    const log = { level: 'INFO', message: 'Duplicate delivery skipped: the outcome was already recorded', timestamp: '2026-12-01T10:00:00.000Z', layer: 'ledger', idempotencyKey: 'key-0001', paymentId: 'pay_1' };

    // Act
    recorder.recordLine('Ledger', JSON.stringify(emf));
    recorder.recordLine('Ledger', JSON.stringify(log));
    recorder.recordLine('Ledger', 'plain text is ignored');

    // Assess
    expect(recorder.counters().duplicatesAbsorbed).toEqual({ ledger: 2 });
    expect(recorder.events()).toMatchObject([{ kind: 'log', fn: 'Ledger', layer: 'ledger', t: Date.parse('2026-12-01T10:00:00.000Z'), keys: ['key-0001', 'pay_1'] }]);
  });
});

describe('buildJourney', () => {
  it('follows keys through the events of one message, not through log lines whose appended keys may be stale', () => {
    // Prepare
    const recorder = new FlightRecorder();
    recorder.add({ kind: 'queue', t: 1, keys: ['key-A', 'm-A'], move: 'send', queue: 'Q', messageId: 'm-A' });
    recorder.add({ kind: 'record', t: 2, keys: ['m-A', 'key-A'], source: 'Q', id: 'm-A', outcome: 'ok', batchSize: 2, requestId: 'r', fn: 'Ledger' });
    recorder.add({ kind: 'log', t: 3, keys: ['key-A'], level: 'INFO', message: 'Payment applied', fn: 'Ledger' });
    // A line about message B that still carries A's appended key: it must not pull B's hops into A's journey.
    recorder.add({ kind: 'log', t: 4, keys: ['key-A', 'm-B'], level: 'INFO', message: 'Skipped: an earlier message of its FIFO group failed', fn: 'Ledger' });
    recorder.add({ kind: 'record', t: 5, keys: ['m-B', 'key-B'], source: 'Q', id: 'm-B', outcome: 'ok', batchSize: 2, requestId: 'r', fn: 'Ledger' });

    // Act
    const journey = buildJourney(recorder.events(), 'key-A');

    // Assess
    expect(journey.keys).toEqual(['key-A', 'm-A']);
    expect(journey.hops.map((h) => h.t)).toEqual([1, 2, 3, 4]);
    expect(journey.hops.map((h) => h.verdict)).toEqual(['moved', 'info', 'applied', 'skipped']);
    expect(journey.summary).toEqual({ moved: 1, info: 1, applied: 1, skipped: 1 });
  });

  it('says why at each hop: a replay is deduplicated, a failed record is retried, a dead letter names its receive count', () => {
    // Prepare
    const parsed = parseFunctionLine(JSON.stringify({ level: 'INFO', message: 'Idempotent replay: the first response is returned, nothing sent', idempotencyKey: 'k-1', timestamp: '2026-12-01T10:00:00.000Z' }), 'Api', 0);
    const recorder = new FlightRecorder();
    if (!parsed || !('log' in parsed)) throw new Error('not parsed as a log line');
    recorder.add(parsed.log);
    recorder.add({ kind: 'record', t: Date.parse('2026-12-01T10:00:01Z'), keys: ['k-1'], source: 'Q', id: 'm', outcome: 'failed', batchSize: 1, requestId: 'r', fn: 'Ledger' });
    recorder.recordDeadLetter('DLQ', { messageId: 'm', body: JSON.stringify({ idempotencyKey: 'k-1' }), receiveCount: 6 });

    // Act
    const hops = buildJourney(recorder.events(), 'k-1').hops;

    // Assess
    expect(hops.map((h) => [h.verdict, h.why])).toEqual([
      ['deduplicated', expect.stringMatching(/already has a response; it is replayed/)],
      ['retried', 'reported in batchItemFailures: it is retried'],
      ['dead-lettered', 'received 6 times without being deleted (maxReceiveCount exceeded)'],
    ]);
  });
});

describe('parseRecording', () => {
  it('reads JSON Lines of events and rejects a line that is not one, naming it', () => {
    expect(parseRecording('{"seq":1,"t":2,"kind":"log","keys":[]}\n\n')).toHaveLength(1);
    expect(() => parseRecording('{"seq":1,"t":2,"kind":"log","keys":[]}\nnope', 'rec.jsonl')).toThrow(/rec.jsonl line 2 is not JSON: nope/);
    expect(() => parseRecording('{"hello":1}', 'rec.jsonl')).toThrow(/line 1 is not a recorded event/);
  });
});
