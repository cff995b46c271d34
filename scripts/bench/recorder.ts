/**
 * `npm run bench:recorder [-- --live] [--payments 60] [--markdown BENCHMARKS.md]`: what the flight recorder costs.
 *
 * 1. Memory of a full default ring and CPU per recorded event: the recorder fed in-process with the bodies the
 *    pipeline really produces (the same shapes the gateway and the functions hand it), one payment = ~20 events,
 *    until the ring has wrapped. Run with `node --expose-gc` (the npm script does) so heap figures are after a GC.
 * 2. With `--live`: the payments stack on the local runtime, the same API workload run with the recorder on and off
 *    (alternating, best of each), payments per second end to end; and the recorder's own CPU time during the
 *    recorded runs, measured around each of its calls, as a share of the process's CPU time.
 *
 * Writes its section of BENCHMARKS.md between `<!-- recorder:start -->` and `<!-- recorder:end -->` with --markdown.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cpus, loadavg } from 'node:os';
import { DEFAULT_RECORD_LIMIT, FlightRecorder } from '../../local/recorder/flight-recorder.js';

const QUEUE = 'http://127.0.0.1:4566/000000000000/ExactlyOncePayments-dev-PaymentsQueueC485226B-0B7993605D0A.fifo';
const EVENTS = 'http://127.0.0.1:4566/000000000000/ExactlyOncePayments-dev-EventsQueue7396B467-812DE8EEFF8E';
const TABLE_ARN = 'arn:aws:dynamodb:us-east-1:000000000000:table/ExactlyOncePayments-dev-LedgerTable9343E4AA-7D203AF54F45';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** Feeds the recorder with one payment's worth of real-shaped inputs (API, payments queue, ledger, relay, notifier). */
function feedPayment(recorder: FlightRecorder, i: number): void {
  const key = `bench-key-${i.toString().padStart(8, '0')}`;
  const paymentId = `pay_${(i * 7919).toString(16).padStart(26, '0')}`;
  const eventId = `evt_${(i * 7919).toString(16).padStart(26, '0')}`;
  const dedup = (i * 104729).toString(16).padStart(64, 'a');
  const messageId = `0b3e${i.toString(16).padStart(4, '0')}-6c1a-4f7e-9d2b-1f0c2a3b4c5d`;
  const eventMessageId = `7a1c${i.toString(16).padStart(4, '0')}-2b3c-4d5e-8f90-a1b2c3d4e5f6`;
  const message = { accountId: `acct-${i % 30}`, amount: 100 + i, currency: 'EUR', paymentId, idempotencyKey: key, requestedAt: '2026-12-01T10:00:00.000Z' };
  const event = { eventId, eventType: 'PaymentApplied', paymentId, idempotencyKey: key, accountId: message.accountId, amount: message.amount, currency: 'EUR', balance: 5000 + i, occurredAt: '2026-12-01T10:00:01.000Z' };
  const call = (service: string, operation: string, request: unknown, response: unknown, principal: string) => ({
    principal: `arn:aws:iam::000000000000:role/${principal}`,
    principalKind: 'function',
    service,
    operation,
    resources: [TABLE_ARN],
    decision: 'Allow' as const,
    status: 200,
    durationMs: 4,
    requestBody: json(request),
    responseBody: json(response),
  });
  const log = (fn: string, layer: string, text: string, extra: object) =>
    recorder.recordLine(fn, JSON.stringify({ level: 'INFO', message: text, timestamp: new Date().toISOString(), service: fn, layer, cold_start: false, function_request_id: 'c6af9ac6-7b61-11e6-9a41-93e812345678', ...extra }));
  const emf = (fn: string, layer: string, metric: string) =>
    recorder.recordLine(fn, JSON.stringify({ _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: 'ExactlyOncePayments', Dimensions: [['layer']], Metrics: [{ Name: metric, Unit: 'Count' }] }] }, layer, [metric]: 1 }));

  // API
  recorder.recordCall(call('dynamodb', 'PutItem', { TableName: 'Idem', Item: { id: { S: `create-payment#${dedup}` }, status: { S: 'INPROGRESS' }, expiration: { N: '1' } }, ConditionExpression: 'attribute_not_exists(#id)' }, {}, 'api'));
  recorder.recordCall(call('sqs', 'SendMessage', { QueueUrl: QUEUE, MessageBody: JSON.stringify(message), MessageGroupId: message.accountId, MessageDeduplicationId: dedup }, { MessageId: messageId, MD5OfMessageBody: 'x', SequenceNumber: '1' }, 'api'));
  recorder.recordCall(call('dynamodb', 'UpdateItem', { TableName: 'Idem', Key: { id: { S: `create-payment#${dedup}` } }, ExpressionAttributeValues: { ':data': { S: JSON.stringify({ paymentId, status: 'accepted' }) } } }, {}, 'api'));
  log('CreatePayment', 'api', 'Payment accepted', { idempotencyKey: key, paymentId });
  emf('CreatePayment', 'api', 'PaymentsAccepted');
  recorder.recordInvocation('CreatePayment', { httpMethod: 'POST', path: '/payments', headers: { 'Idempotency-Key': key, 'content-type': 'application/json' }, body: JSON.stringify({ accountId: message.accountId, amount: message.amount, currency: 'EUR' }) }, { ok: true, timedOut: false, durationMs: 30, requestId: `r-${i}`, payload: { statusCode: 202, body: JSON.stringify({ paymentId, status: 'accepted' }) } }, false);
  // Payments queue → ledger
  const sqsRecord = { messageId, receiptHandle: `rh-${i}`, body: JSON.stringify(message), attributes: { ApproximateReceiveCount: '1', MessageGroupId: message.accountId, MessageDeduplicationId: dedup, SentTimestamp: '1' }, messageAttributes: {}, md5OfBody: 'x', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:ExactlyOncePayments-dev-PaymentsQueueC485226B-0B7993605D0A.fifo', awsRegion: 'us-east-1' };
  recorder.recordCall(call('sqs', 'ReceiveMessage', { QueueUrl: QUEUE, MaxNumberOfMessages: 10 }, { Messages: [{ MessageId: messageId, ReceiptHandle: `rh-${i}`, Body: sqsRecord.body, Attributes: sqsRecord.attributes }] }, 'ledger'));
  recorder.recordCall(call('dynamodb', 'TransactWriteItems', { TransactItems: [{ Update: { TableName: 'Ledger', Key: { pk: { S: `ACCOUNT#${message.accountId}` }, sk: { S: 'ACCOUNT' } } } }, { Put: { TableName: 'Ledger', Item: { pk: { S: `OUTBOX#${eventId}` }, sk: { S: 'OUTBOX' }, eventId: { S: eventId }, idempotencyKey: { S: key }, event: { S: JSON.stringify(event) } } } }] }, {}, 'ledger'));
  log('Ledger', 'ledger', 'Payment applied', { idempotencyKey: key, paymentId, eventId, balance: event.balance });
  emf('Ledger', 'ledger', 'PaymentsApplied');
  recorder.recordInvocation('Ledger', { Records: [sqsRecord] }, { ok: true, timedOut: false, durationMs: 25, requestId: `l-${i}`, payload: { batchItemFailures: [] } }, false);
  recorder.recordCall(call('sqs', 'DeleteMessageBatch', { QueueUrl: QUEUE, Entries: [{ Id: '0', ReceiptHandle: `rh-${i}` }] }, { Successful: [{ Id: '0' }] }, 'ledger'));
  // Stream → relay → events queue
  const streamRecord = { eventID: `s-${i}`, eventName: 'INSERT', eventSource: 'aws:dynamodb', eventSourceARN: `${TABLE_ARN}/stream/2026-12-01T00:00:00.000`, dynamodb: { SequenceNumber: `${1000 + i}`, NewImage: { pk: { S: `OUTBOX#${eventId}` }, eventId: { S: eventId }, idempotencyKey: { S: key }, event: { S: JSON.stringify(event) } } } };
  recorder.recordInvocation('Relay', { Records: [streamRecord] }, { ok: true, timedOut: false, durationMs: 12, requestId: `s-${i}`, payload: { batchItemFailures: [] } }, false);
  recorder.recordCall(call('sqs', 'SendMessageBatch', { QueueUrl: EVENTS, Entries: [{ Id: '0', MessageBody: JSON.stringify(event) }] }, { Successful: [{ Id: '0', MessageId: eventMessageId }] }, 'relay'));
  emf('Relay', 'relay', 'EventsRelayed');
  // Events queue → notifier
  recorder.recordCall(call('sqs', 'ReceiveMessage', { QueueUrl: EVENTS, MaxNumberOfMessages: 10 }, { Messages: [{ MessageId: eventMessageId, ReceiptHandle: `rhe-${i}`, Body: JSON.stringify(event), Attributes: { ApproximateReceiveCount: '1' } }] }, 'notifier'));
  recorder.recordCall(call('dynamodb', 'PutItem', { TableName: 'Idem', Item: { id: { S: `notifier#${eventId}` }, status: { S: 'INPROGRESS' } } }, {}, 'notifier'));
  log('Notifier', 'notifier', 'Event delivered to the webhook', { idempotencyKey: key, paymentId, eventId, status: 200 });
  recorder.recordInvocation('Notifier', { Records: [{ ...sqsRecord, messageId: eventMessageId, body: JSON.stringify(event) }] }, { ok: true, timedOut: false, durationMs: 40, requestId: `n-${i}`, payload: { batchItemFailures: [] } }, false);
  recorder.recordCall(call('sqs', 'DeleteMessageBatch', { QueueUrl: EVENTS, Entries: [{ Id: '0', ReceiptHandle: `rhe-${i}` }] }, { Successful: [{ Id: '0' }] }, 'notifier'));
}

/** Heap in use after a full GC (exact only under --expose-gc). */
function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

function measureRing(limit: number) {
  const before = heapAfterGc();
  const recorder = new FlightRecorder({ limit });
  let payments = 0;
  // Until the ring has wrapped once more than its size: evictions and the side maps are at their steady state.
  const started = process.cpuUsage();
  const startedAt = performance.now();
  while (recorder.counters().recorded < limit * 1.5) feedPayment(recorder, payments++);
  const cpu = process.cpuUsage(started);
  const wallMs = performance.now() - startedAt;
  const after = heapAfterGc();
  const recorded = recorder.counters().recorded;
  return {
    limit,
    payments,
    recorded,
    eventsPerPayment: recorded / payments,
    heapBytes: after - before,
    bytesPerEvent: (after - before) / limit,
    cpuMicrosPerEvent: ((cpu.user + cpu.system) / recorded),
    wallMicrosPerPayment: (wallMs * 1000) / payments,
    gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function',
    keep: recorder,
  };
}

interface LiveResult {
  readonly payments: number;
  readonly rounds: number;
  readonly onPerSecond: number[];
  readonly offPerSecond: number[];
  readonly recorderCpuShare: number;
  readonly recorderCpuMs: number;
  readonly processCpuMs: number;
}

async function measureLive(payments: number, rounds: number, log: (line: string) => void): Promise<LiveResult> {
  const { startLocalRuntime } = await import('../../local/runtime.js');
  const { freePort } = await import('../../local/emulators.js');
  const { PaymentsApiClient } = await import('../../local/api-client.js');
  const { startWebhookReceiver } = await import('../../local/webhook-receiver.js');
  const { ENV } = await import('../../lambdas/shared/env.js');
  const receiver = await startWebhookReceiver({ port: 0 });
  const onPerSecond: number[] = [];
  const offPerSecond: number[] = [];
  let recorderCpuMs = 0;
  let processCpuMs = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      for (const recording of round % 2 === 0 ? [true, false] : [false, true]) {
        const runtime = await startLocalRuntime({
          context: { webhookUrl: 'http://127.0.0.1:9/bench-recorder' },
          functionEnv: { [ENV.WEBHOOK_URL]: receiver.url },
          ports: { api: await freePort(), dynamodb: await freePort(), sqs: await freePort() },
          quiet: true,
          recordLimit: recording ? DEFAULT_RECORD_LIMIT : 0,
          outDir: '.bench/recorder',
        });
        try {
          let spent = 0;
          if (runtime.recorder) {
            // Time spent inside the recorder's entry points (everything it does happens synchronously in them).
            const target = runtime.recorder as unknown as Record<string, (...args: unknown[]) => unknown>;
            for (const method of ['recordCall', 'recordInvocation', 'recordLine', 'recordDeadLetter']) {
              const original = target[method]!.bind(runtime.recorder);
              target[method] = (...args: unknown[]) => {
                const t0 = performance.now();
                try {
                  return original(...args);
                } finally {
                  spent += performance.now() - t0;
                }
              };
            }
          }
          const api = new PaymentsApiClient({ apiUrl: Object.values(runtime.outputs)[0]!.ApiUrl!, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
          // Warm-up: every function warm, so both sides measure the same thing.
          await Promise.all([0, 1, 2].map((lane) => api.createPayment({ idempotencyKey: `warm-${Date.now()}-${lane}`, body: { accountId: `warm-${lane}`, amount: 1, currency: 'EUR' } })));
          await runtime.waitForIdle({ timeoutMs: 300_000 });
          spent = 0;
          const cpu0 = process.cpuUsage();
          const t0 = performance.now();
          const run = `r${Date.now()}`;
          const lanes = 3;
          await Promise.all(
            Array.from({ length: lanes }, async (_, lane) => {
              for (let i = lane; i < payments; i += lanes) {
                const key = `${run}-${i}`;
                const body = { accountId: `${run}-acct${i % 6}`, amount: 100 + i, currency: 'EUR' };
                await api.createPayment({ idempotencyKey: key, body });
                // One in five is a client retry: the API dedup path is in the workload too.
                if (i % 5 === 0) await api.createPayment({ idempotencyKey: key, body });
              }
            }),
          );
          await runtime.waitForIdle({ timeoutMs: 600_000 });
          // waitForIdle needs a quiet second to say so: not part of the pipeline's time.
          const seconds = (performance.now() - t0 - 1_000) / 1000;
          const cpu = process.cpuUsage(cpu0);
          (recording ? onPerSecond : offPerSecond).push(payments / seconds);
          if (recording) {
            recorderCpuMs += spent;
            processCpuMs += (cpu.user + cpu.system) / 1000;
          }
          log(`round ${round + 1}, recorder ${recording ? 'on ' : 'off'}: ${(payments / seconds).toFixed(2)} payments/s${recording ? `, recorder ${spent.toFixed(0)} ms of ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms process CPU` : ''}`);
        } finally {
          await runtime.stop();
        }
      }
    }
  } finally {
    await receiver.stop();
  }
  return { payments, rounds, onPerSecond, offPerSecond, recorderCpuMs, processCpuMs, recorderCpuShare: recorderCpuMs / processCpuMs };
}

function section(ring: ReturnType<typeof measureRing>, live: LiveResult | undefined): string {
  const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;
  const best = (values: number[]) => Math.max(...values);
  const lines = [
    '<!-- recorder:start -->',
    '## Flight recorder: overhead',
    '',
    `Measured by \`npm run bench:recorder${live ? ' -- --live' : ''}\` (scripts/bench/recorder.ts) on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (1, 5, 15 min) when it finished: the live figures are only valid on an idle machine.`,
    '',
    '| Figure | Value |',
    '|---|---|',
    `| Default ring | ${ring.limit.toLocaleString('en')} events (about ${Math.round(ring.eventsPerPayment)} per payment through the whole pipeline: ≈ ${Math.round(ring.limit / ring.eventsPerPayment).toLocaleString('en')} payments) |`,
    `| Heap of a full default ring | ${mb(ring.heapBytes)} (${Math.round(ring.bytesPerEvent)} bytes per event, after a full GC${ring.gcExposed ? '' : ' — NOT exact: run without --expose-gc'}; target < 50 MB) |`,
    `| CPU per recorded event | ${ring.cpuMicrosPerEvent.toFixed(1)} µs (key extraction, body parse, ring write; ${ring.wallMicrosPerPayment.toFixed(0)} µs per payment) |`,
  ];
  if (live) {
    const on = best(live.onPerSecond);
    const off = best(live.offPerSecond);
    lines.push(
      `| Local throughput, recorder off / on | ${off.toFixed(2)} / ${on.toFixed(2)} payments/s (best of ${live.rounds} alternating runs each, ${live.payments} payments + 20 % client retries, API → webhook) — ${(((off - on) / off) * 100).toFixed(1)} % |`,
      `| Recorder CPU during the recorded runs | ${live.recorderCpuMs.toFixed(0)} ms of ${live.processCpuMs.toFixed(0)} ms of the runtime process's CPU = ${(live.recorderCpuShare * 100).toFixed(2)} % (target < 5 %) |`,
    );
  }
  lines.push(
    '',
    'The recorder does no I/O while recording: it parses only the bodies of data-plane calls (control polls such as',
    'GetQueueAttributes and empty receives are only counted), scans them for keys with one regular expression and writes',
    'one flat object into a preallocated ring. Both live figures need an idle machine: the recorder share is wall time',
    "inside its calls (preemption counts), the throughput pair carries DynamoDB Local's and the scheduler's noise.",
    '<!-- recorder:end -->',
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { live: { type: 'boolean', default: false }, payments: { type: 'string', default: '60' }, rounds: { type: 'string', default: '2' }, markdown: { type: 'string' }, limit: { type: 'string' } },
  });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const limit = Number(values.limit ?? DEFAULT_RECORD_LIMIT);
  const ring = measureRing(limit);
  log(`ring of ${limit}: ${(ring.heapBytes / 1_048_576).toFixed(1)} MB (${Math.round(ring.bytesPerEvent)} B/event), ${ring.cpuMicrosPerEvent.toFixed(1)} µs CPU/event, ${ring.eventsPerPayment.toFixed(1)} events/payment${ring.gcExposed ? '' : ' (no --expose-gc: heap not exact)'}`);
  const live = values.live ? await measureLive(Number(values.payments), Number(values.rounds), log) : undefined;
  const text = section(ring, live);
  console.log(text);
  if (values.markdown) {
    const current = existsSync(values.markdown) ? readFileSync(values.markdown, 'utf8') : '';
    const block = /<!-- recorder:start -->[\s\S]*?<!-- recorder:end -->/;
    writeFileSync(values.markdown, block.test(current) ? current.replace(block, text) : `${current.trimEnd()}\n\n${text}\n`);
    log(`wrote ${values.markdown}`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
