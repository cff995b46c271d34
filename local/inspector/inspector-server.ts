import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extractKeys } from '../recorder/correlation-keys.js';
import type { FlightRecorder } from '../recorder/flight-recorder.js';
import { buildJourney } from '../recorder/journey.js';
import type { RecordedEvent } from '../recorder/types.js';

/** One queue with its live counters. */
export interface QueueView {
  readonly logicalId: string;
  readonly name: string;
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
  /** Logical id of its dead-letter queue (RedrivePolicy). */
  readonly deadLetterQueue?: string;
  /** Logical ids of the queues (or `stream mapping on-failure`) that dead-letter into this one. */
  readonly deadLetterFor?: readonly string[];
}

/** A message sitting in a dead-letter queue. */
export interface DeadLetterView {
  readonly messageId: string;
  readonly body: string;
  readonly receiveCount: number;
  readonly sentTimestamp: number;
}

/** What the inspector reads from the running stack. */
export interface InspectorSource {
  readonly recorder: FlightRecorder;
  readonly stacks: readonly string[];
  readonly functions: () => ReadonlyArray<{ readonly logicalId: string; readonly functionName: string }>;
  readonly tables: () => ReadonlyArray<{ readonly logicalId: string; readonly name: string }>;
  readonly queues: () => readonly QueueView[];
  /** Messages of one dead-letter queue, without receiving them. */
  readonly deadLetters: (queueName: string) => readonly DeadLetterView[];
  readonly mappings: () => ReadonlyArray<{ readonly logicalId: string; readonly functionName: string; readonly eventSourceArn: string; readonly invocations: number; readonly records: number; readonly failures: number; readonly partialFailures: number }>;
}

/** Options of {@link startInspectorServer}. */
export interface InspectorServerOptions {
  readonly source: InspectorSource;
  /** 0 picks a free port. */
  readonly port: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
}

/** The running inspector: its page at `url`, JSON under `/api/`, the recording at `/recording`. */
export interface InspectorServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/inspector.js': { file: 'inspector.js', type: 'text/javascript; charset=utf-8' },
  '/inspector.css': { file: 'inspector.css', type: 'text/css; charset=utf-8' },
};

/**
 * Serves the inspector page (plain HTML, CSS and JS from `local/inspector/assets/`, no CDN: works offline) and
 * the data it draws: `/api/state` (resources with live counters), `/api/journey?key=…` (one message's hops),
 * `/api/dlq` (dead letters with their reasons) and `/recording?key=…` (the recorded events as JSON Lines; all of
 * them without `key`).
 */
export async function startInspectorServer(options: InspectorServerOptions): Promise<InspectorServer> {
  const assets = new Map(Object.entries(ASSETS).map(([path, { file, type }]) => [path, { body: readFileSync(new URL(`./assets/${file}`, import.meta.url)), type }]));
  const server: Server = createServer((request, response) => {
    try {
      route(request, response, options.source, assets);
    } catch (error) {
      sendJson(response, 500, { error: `inspector: ${(error as Error).message}` });
    }
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function route(request: IncomingMessage, response: ServerResponse, source: InspectorSource, assets: Map<string, { body: Buffer; type: string }>): void {
  const url = new URL(request.url ?? '/', 'http://inspector');
  const asset = assets.get(url.pathname === '/index.html' ? '/' : url.pathname);
  if (asset) {
    response.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-store' });
    response.end(asset.body);
    return;
  }
  const key = url.searchParams.get('key')?.trim() ?? '';
  switch (url.pathname) {
    case '/api/state':
      return sendJson(response, 200, state(source));
    case '/api/journey':
      if (!key) return sendJson(response, 400, { error: 'key is required: /api/journey?key=<Idempotency-Key, paymentId, eventId, messageId or dedup id>' });
      return sendJson(response, 200, buildJourney(source.recorder.events(), key));
    case '/api/dlq':
      return sendJson(response, 200, deadLetterViews(source));
    case '/recording': {
      const events = key ? buildJourney(source.recorder.events(), key).hops.map((hop) => hop.event) : source.recorder.events();
      response.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' });
      response.end(events.map((event) => JSON.stringify(event)).join('\n') + (events.length ? '\n' : ''));
      return;
    }
    default:
      return sendJson(response, 404, { error: `no such page: ${url.pathname} (try /, /api/state, /api/journey?key=…, /api/dlq, /recording?key=…)` });
  }
}

function state(source: InspectorSource) {
  const counters = source.recorder.counters();
  return {
    stacks: source.stacks,
    recorder: { limit: source.recorder.limit, recorded: counters.recorded, evicted: counters.evicted, denied: counters.denied, deadLettered: counters.deadLettered },
    queues: source.queues(),
    functions: source.functions().map((fn) => ({ ...fn, ...(counters.functions[fn.logicalId] ?? { invocations: 0, errors: 0, partial: 0, cold: 0 }) })),
    tables: source.tables(),
    mappings: source.mappings(),
    duplicatesAbsorbed: counters.duplicatesAbsorbed,
  };
}

/** Every dead-letter queue's messages, each with the last failure the recording holds for it. */
export function deadLetterViews(source: InspectorSource) {
  const events = source.recorder.events();
  return source
    .queues()
    .filter((queue) => (queue.deadLetterFor?.length ?? 0) > 0)
    .map((queue) => ({
      queue: queue.name,
      logicalId: queue.logicalId,
      deadLetterFor: queue.deadLetterFor ?? [],
      messages: source.deadLetters(queue.name).map((message) => {
        const keys = extractKeys(message.body, [message.messageId]);
        return { ...message, body: message.body.slice(0, 500), keys, reason: deadLetterReason(events, keys) };
      }),
    }));
}

/** Why a message dead-lettered, from its journey: the last failure or retry recorded for any of its keys. */
export function deadLetterReason(events: readonly RecordedEvent[], keys: readonly string[]): string {
  for (const key of keys) {
    const journey = buildJourney(events, key);
    const failures = journey.hops.filter((hop) => (hop.verdict === 'failed' || hop.verdict === 'retried') && hop.why);
    const last = [...failures].reverse().find((hop) => hop.kind === 'log') ?? failures.at(-1);
    if (last) {
      const attempts = journey.hops.filter((hop) => hop.kind === 'record').length;
      return `${last.why} (${last.where}: ${last.what}; ${attempts} attempt(s) recorded)`;
    }
  }
  return 'no failure recorded for this message (sent there directly, or its hops left the ring)';
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}
