import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  chargeRequest,
  ItemSizeBook,
  transactUpdateKeys,
  type Charge,
  type WireItem,
} from './capacity.js';

/**
 * A recording middleware between the SDK and the emulators, at the HTTP layer.
 *
 * Why HTTP and not an SDK middleware: the functions run from their esbuild bundles, each with its own copy of the SDK,
 * so no in-process hook reaches their clients; pointing `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SQS` at this
 * proxy does, for any client in any process (Powertools' own DynamoDB client included). It sees the exact wire
 * request and response of every call, which is what AWS bills.
 *
 * DynamoDB: every request is charged with {@link chargeRequest}. To know item sizes after an update without the
 * caller paying for it, the proxy asks UpdateItem for `ReturnValues: ALL_NEW` when the caller did not ask for
 * anything (and strips it from the answer), and reads back (uncounted) the items a TransactWriteItems updated.
 * Writes to a key wait for a pending read-back of that key, so sizes stay exact.
 */
export class RecordingProxy {
  private server?: Server;
  private readonly book = new ItemSizeBook();
  private readonly pendingByKey = new Map<string, Promise<void>>();
  private readonly pending = new Set<Promise<void>>();
  private counters = emptyCounters();

  constructor(
    private readonly service: 'dynamodb' | 'sqs',
    private readonly upstream: string,
  ) {}

  /** Starts listening on a free local port; returns the endpoint URL to give the SDK. */
  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`recording proxy: ${String(error)}`);
      });
    });
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await this.settle();
    await new Promise<void>((resolve) => {
      this.server?.closeAllConnections();
      this.server?.close(() => resolve());
    });
  }

  /** Waits for deferred read-backs so every charge is counted. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Counters since the last {@link reset}. */
  async snapshot(): Promise<ProxyCounters> {
    await this.settle();
    return structuredClone(this.counters);
  }

  reset(): void {
    this.counters = emptyCounters();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.slice(target.indexOf('.') + 1) || 'Unknown';
    if (this.service === 'sqs') {
      const upstream = await this.forward(req, body);
      this.countSqs(operation, upstream.text);
      return reply(res, upstream);
    }
    await this.handleDynamoDb(req, res, operation, body);
  }

  private countSqs(operation: string, responseText: string): void {
    const c = this.counters;
    c.requests[operation] = (c.requests[operation] ?? 0) + 1;
    if (operation === 'ReceiveMessage') {
      let n = 0;
      try {
        n = ((JSON.parse(responseText) as { Messages?: unknown[] }).Messages ?? []).length;
      } catch {
        n = 0;
      }
      c.messagesReceived += n;
      if (n === 0) c.emptyReceives += 1;
    }
  }

  private async handleDynamoDb(req: IncomingMessage, res: ServerResponse, operation: string, raw: string): Promise<void> {
    const request = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    await this.ensureKeySchemas(req, request);
    const keys = this.writeKeys(operation, request);
    await Promise.all(keys.map((k) => this.pendingByKey.get(k)));

    let injectedReturnValues = false;
    if (operation === 'UpdateItem' && (request.ReturnValues === undefined || request.ReturnValues === 'NONE')) {
      request.ReturnValues = 'ALL_NEW';
      injectedReturnValues = true;
    }
    const upstream = await this.forward(req, injectedReturnValues ? JSON.stringify(request) : raw);
    const parsed = upstream.text ? (JSON.parse(upstream.text) as Record<string, unknown>) : {};
    const errorType = upstream.status >= 400 ? String(parsed.__type ?? 'Unknown').split('#').pop() : undefined;

    if (operation === 'UpdateItem' && errorType === undefined) {
      let image = request.ReturnValues === 'ALL_NEW' ? (parsed.Attributes as WireItem | undefined) : undefined;
      if (request.ReturnValues !== 'ALL_NEW') image = await this.readBack(req, request.TableName as string, request.Key as WireItem);
      this.record(chargeRequest(operation, request, { body: parsed, afterImages: [{ table: request.TableName as string, item: image }] }, this.book));
    } else if (operation === 'TransactWriteItems' && errorType === undefined) {
      // Read back the updated items after answering, holding their keys so the next write to them waits.
      const updates = transactUpdateKeys(request);
      const work = (async () => {
        const images = await Promise.all(
          updates.map(async (u) => ({ table: u.table, item: await this.readBack(req, u.table, u.key) })),
        );
        this.record(chargeRequest(operation, request, { body: parsed, afterImages: images }, this.book));
      })();
      this.track(work, keys);
    } else {
      this.record(chargeRequest(operation, request, { errorType, body: parsed }, this.book));
    }

    if (injectedReturnValues && errorType === undefined) {
      delete parsed.Attributes;
      return reply(res, { ...upstream, text: JSON.stringify(parsed), bodyChanged: true });
    }
    reply(res, upstream);
  }

  private track(work: Promise<void>, keys: string[]): void {
    const guarded = work.catch(() => undefined);
    this.pending.add(guarded);
    for (const k of keys) this.pendingByKey.set(k, guarded);
    void guarded.finally(() => {
      this.pending.delete(guarded);
      for (const k of keys) if (this.pendingByKey.get(k) === guarded) this.pendingByKey.delete(k);
    });
  }

  private record(charge: Charge): void {
    const c = this.counters;
    c.requests[charge.operation] = (c.requests[charge.operation] ?? 0) + 1;
    c.writeUnits += charge.writeUnits;
    c.readUnits += charge.readUnits;
    if (charge.conditionFailed) c.conditionFailures += 1;
  }

  private writeKeys(operation: string, request: Record<string, unknown>): string[] {
    const table = request.TableName as string;
    switch (operation) {
      case 'PutItem':
        return [this.book.keyOf(table, request.Item as WireItem)];
      case 'UpdateItem':
      case 'DeleteItem':
        return [this.book.keyOf(table, request.Key as WireItem)];
      case 'TransactWriteItems':
        return (request.TransactItems as Array<Record<string, { TableName: string; Item?: WireItem; Key?: WireItem }>>).map(
          (action) => {
            const inner = Object.values(action)[0]!;
            return this.book.keyOf(inner.TableName, (inner.Item ?? inner.Key)!);
          },
        );
      default:
        return [];
    }
  }

  private async ensureKeySchemas(req: IncomingMessage, request: Record<string, unknown>): Promise<void> {
    const tables = new Set<string>();
    if (typeof request.TableName === 'string') tables.add(request.TableName);
    for (const action of (request.TransactItems as Array<Record<string, { TableName: string }>> | undefined) ?? []) {
      tables.add(Object.values(action)[0]!.TableName);
    }
    for (const table of Object.keys((request.RequestItems as Record<string, unknown> | undefined) ?? {})) tables.add(table);
    for (const table of tables) {
      if (this.book.hasKeySchema(table)) continue;
      const answer = await this.call(req, 'DescribeTable', { TableName: table });
      const schema = (answer.Table as { KeySchema?: Array<{ AttributeName: string; KeyType: string }> } | undefined)
        ?.KeySchema;
      if (schema === undefined) continue; // CreateTable / unknown table: the upstream answers the caller.
      const ordered = ['HASH', 'RANGE'].flatMap((type) => schema.filter((k) => k.KeyType === type));
      this.book.setKeySchema(table, ordered.map((k) => k.AttributeName));
    }
  }

  private async readBack(req: IncomingMessage, table: string, key: WireItem): Promise<WireItem | undefined> {
    const answer = await this.call(req, 'GetItem', { TableName: table, Key: key, ConsistentRead: true });
    return answer.Item as WireItem | undefined;
  }

  /** An uncounted call to the upstream, reusing the caller's (unverified) auth header. */
  private async call(req: IncomingMessage, operation: string, input: object): Promise<Record<string, unknown>> {
    const response = await fetch(this.upstream, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDB_20120810.${operation}`,
        authorization: String(req.headers.authorization ?? ''),
        'x-amz-date': String(req.headers['x-amz-date'] ?? ''),
      },
      body: JSON.stringify(input),
    });
    return (await response.json()) as Record<string, unknown>;
  }

  private async forward(req: IncomingMessage, body: string): Promise<UpstreamAnswer> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || HOP_HEADERS.has(name)) continue;
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const response = await fetch(`${this.upstream}${req.url ?? '/'}`, {
      method: req.method ?? 'POST',
      headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
    });
    const text = await response.text();
    const outHeaders: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      if (!HOP_HEADERS.has(name) && name !== 'content-encoding') outHeaders[name] = value;
    });
    return { status: response.status, headers: outHeaders, text, bodyChanged: false };
  }
}

/** What a proxy counted. DynamoDB: requests per operation and billed units; SQS: requests per operation. */
export interface ProxyCounters {
  requests: Record<string, number>;
  writeUnits: number;
  readUnits: number;
  conditionFailures: number;
  messagesReceived: number;
  emptyReceives: number;
}

function emptyCounters(): ProxyCounters {
  return { requests: {}, writeUnits: 0, readUnits: 0, conditionFailures: 0, messagesReceived: 0, emptyReceives: 0 };
}

interface UpstreamAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
  bodyChanged: boolean;
}

const HOP_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive']);

function reply(res: ServerResponse, answer: UpstreamAnswer): void {
  const headers: Record<string, string> = { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.text)) };
  // The body was edited: its CRC32 no longer matches, and the SDK checks it when present.
  if (answer.bodyChanged) delete headers['x-amz-crc32'];
  res.writeHead(answer.status, headers);
  res.end(answer.text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
