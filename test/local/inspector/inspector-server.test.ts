import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInspectorServer, type InspectorServer } from '../../../local/inspector/inspector-server.js';
import { FlightRecorder } from '../../../local/recorder/flight-recorder.js';
import { parseRecording } from '../../../local/recorder/read-recording.js';

// The inspector's HTTP side with a real recorder; the queue view comes from a fixed list here (the runtime reads it
// from fauxqs without receiving; the browser test covers that path).

const recorder = new FlightRecorder();
let server: InspectorServer;

beforeAll(async () => {
  recorder.add({ kind: 'queue', t: 1_000, keys: ['key-1', 'm-1'], move: 'send', queue: 'PaymentsQueue', messageId: 'm-1' });
  recorder.add({ kind: 'record', t: 1_100, keys: ['m-1', 'key-1'], source: 'PaymentsQueue', id: 'm-1', outcome: 'failed', batchSize: 1, requestId: 'r-1', fn: 'Ledger' });
  recorder.add({ kind: 'log', t: 1_150, keys: ['key-1', 'm-1'], level: 'ERROR', message: 'Poison message: reported failed, it will dead-letter after maxReceiveCount', fn: 'Ledger', detail: { reason: 'amount must be an integer' } });
  recorder.recordDeadLetter('PaymentsDlq', { messageId: 'm-1', body: JSON.stringify({ idempotencyKey: 'key-1' }), receiveCount: 6 });
  recorder.add({ kind: 'queue', t: 2_000, keys: ['key-2', 'm-2'], move: 'send', queue: 'PaymentsQueue', messageId: 'm-2' });
  server = await startInspectorServer({
    port: 0,
    source: {
      recorder,
      stacks: ['Stack'],
      functions: () => [{ logicalId: 'LedgerFunctionAB12CD34', functionName: 'Stack-Ledger' }],
      tables: () => [],
      queues: () => [
        { logicalId: 'PaymentsQueue', name: 'Stack-PaymentsQueue', visible: 1, inFlight: 0, delayed: 0, deadLetterQueue: 'PaymentsDlq' },
        { logicalId: 'PaymentsDlq', name: 'Stack-PaymentsDlq', visible: 1, inFlight: 0, delayed: 0, deadLetterFor: ['PaymentsQueue'] },
      ],
      deadLetters: (name) => (name === 'Stack-PaymentsDlq' ? [{ messageId: 'm-1', body: JSON.stringify({ idempotencyKey: 'key-1' }), receiveCount: 6, sentTimestamp: 1_000 }] : []),
      mappings: () => [],
    },
  });
});

afterAll(async () => {
  await server?.close();
});

const get = (path: string) => fetch(new URL(path, server.url));

describe('inspector server', () => {
  it('serves the page and its script from the runtime, no CDN', async () => {
    const page = await (await get('/')).text();
    expect(page).toContain('<script src="/inspector.js"></script>');
    expect(page).not.toMatch(/https?:\/\//);
    expect((await get('/inspector.js')).headers.get('content-type')).toMatch(/javascript/);
  });

  it('answers one message\'s journey by any of its keys, and only its hops', async () => {
    const byKey = (await (await get('/api/journey?key=key-1')).json()) as { keys: string[]; hops: { verdict: string }[] };
    const byMessageId = (await (await get('/api/journey?key=m-1')).json()) as { hops: unknown[] };
    expect(byKey.keys).toEqual(['key-1', 'm-1']);
    expect(byKey.hops.map((h) => h.verdict)).toEqual(['moved', 'retried', 'failed', 'dead-lettered']);
    expect(byMessageId.hops).toHaveLength(4);
  });

  it('exports a journey\'s events as JSON Lines at /recording?key=, and every event without a key', async () => {
    const journey = parseRecording(await (await get('/recording?key=key-2')).text());
    const all = parseRecording(await (await get('/recording')).text());
    expect(journey.map((e) => e.keys)).toEqual([['key-2', 'm-2']]);
    expect(all).toHaveLength(5);
  });

  it('lists each dead letter with the reason its journey gives', async () => {
    const [dlq] = (await (await get('/api/dlq')).json()) as Array<{ queue: string; messages: Array<{ messageId: string; reason: string }> }>;
    expect(dlq!.queue).toBe('Stack-PaymentsDlq');
    expect(dlq!.messages[0]!.messageId).toBe('m-1');
    expect(dlq!.messages[0]!.reason).toMatch(/^cannot be processed; it dead-letters after maxReceiveCount \(reason=amount must be an integer\) \(Ledger: ERROR Poison message/);
  });

  it('rejects a journey request without a key, and names the pages it has for an unknown path', async () => {
    const missing = await get('/api/journey');
    const unknown = await get('/nope');
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: string }).error).toMatch(/key is required/);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/\/api\/journey\?key=/);
  });
});
