import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../../lambdas/shared/env.js';
import { PaymentsApiClient } from '../../../local/api-client.js';
import { freePort } from '../../../local/emulators.js';
import { buildJourney } from '../../../local/recorder/journey.js';
import { insightsQuery, rowMatches, traceJourney, type LogRow } from '../../../local/recorder/trace.js';
import { startLocalRuntime, type LocalRuntime } from '../../../local/runtime.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../../local/webhook-receiver.js';

// `npm run trace` cannot reach AWS here. Its logic — the Logs Insights query, the second query by the keys the first
// lines name, the journey rules — runs against the local runtime's real function output instead: each line the
// handlers print becomes a row as Logs Insights would return it (@timestamp, @log, @message), and the query's filter
// (`@message like "<key>"`) is applied by the same substring rule.

let receiver: WebhookReceiver;
let runtime: LocalRuntime;
const rows: LogRow[] = [];

beforeAll(async () => {
  receiver = await startWebhookReceiver({ port: 0 });
  runtime = await startLocalRuntime({
    context: { webhookUrl: 'http://127.0.0.1:9/inspector-test' },
    functionEnv: { [ENV.WEBHOOK_URL]: receiver.url },
    ports: { api: await freePort(), dynamodb: await freePort(), sqs: await freePort() },
    outDir: '.local/trace-test',
    log: (line) => {
      const match = /^ {2}(\S+) \| (\{.*)$/.exec(line);
      if (match) rows.push({ timestamp: Date.now(), logGroup: `000000000000:/aws/lambda/${match[1]}`, message: match[2]! });
    },
  });
}, 600_000);

afterAll(async () => {
  await runtime?.stop();
  await receiver?.stop();
}, 120_000);

describe('npm run trace, against the local runtime\'s function logs', () => {
  it('rebuilds a retried payment\'s journey from log lines alone: accepted, deduplicated, applied, delivered', async () => {
    // Prepare
    const api = new PaymentsApiClient({ apiUrl: Object.values(runtime.outputs)[0]!.ApiUrl!, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const key = `trace-${Date.now()}`;
    const body = { accountId: `acct-trace-${Date.now()}`, amount: 700, currency: 'USD' };
    await api.createPayment({ idempotencyKey: key, body });
    await api.createPayment({ idempotencyKey: key, body });
    await runtime.waitForIdle({ timeoutMs: 120_000 });
    const queries: string[] = [];
    const run = async (query: string, keys: readonly string[]) => {
      queries.push(query);
      return rows.filter((row) => rowMatches(row, keys));
    };

    // Act
    const byKey = await traceJourney(key, run);
    const eventId = byKey.journey.keys.find((k) => k.startsWith('evt_'))!;
    const byEventId = await traceJourney(eventId, run);

    // Assess
    expect(queries[0]).toBe(insightsQuery([key]));
    expect(queries[0]).toBe(`fields @timestamp, @log, @message\n| filter @message like "${key}"\n| sort @timestamp asc\n| limit 10000`);
    expect(byKey.journey.summary).toMatchObject({ accepted: 1, deduplicated: 1, applied: 1, delivered: 1 });
    expect(byKey.journey.hops.every((hop) => hop.kind === 'log')).toBe(true);
    // From the event id, the second query (by the keys its lines name) finds the API and ledger lines too.
    expect(byEventId.queries).toBe(2);
    expect(byEventId.journey.summary).toMatchObject({ accepted: 1, deduplicated: 1, applied: 1, delivered: 1 });
    // The local recorder's journey says the same at the same hops.
    const local = buildJourney(runtime.recorder!.events(), key).hops.filter((hop) => hop.kind === 'log');
    expect(local.map((hop) => hop.verdict)).toEqual(byKey.journey.hops.map((hop) => hop.verdict));
  }, 240_000);

  it('rejects a key that would break out of the query string, naming it', () => {
    expect(() => insightsQuery(['x" or @message like "'])).toThrow(/key "x" or @message like "" has characters no pipeline id has/);
  });
});
