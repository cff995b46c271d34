import { Agent, request as httpRequest, type ServerResponse } from 'node:http';
import type { GatewayRequest } from './types.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'content-length']);

/** How {@link Upstream.forward} may change a request or its answer. */
export interface ForwardOptions {
  /**
   * Access key id put into the forwarded Authorization header (DynamoDB Local without -sharedDb keeps one database
   * per key: every principal must see the same tables). @default - unchanged
   */
  readonly accessKeyId?: string;
  /** Sends this body instead of the request's. @default - the request's */
  readonly body?: Buffer;
  /** Headers set on (or, with undefined, removed from) the forwarded request. @default - none */
  readonly headers?: Readonly<Record<string, string | undefined>>;
  /** Rewrites the answer (it is then buffered). @default - streamed unchanged */
  readonly rewrite?: (body: Buffer, status: number, headers: Readonly<Record<string, string | string[] | undefined>>) => { body: Buffer; contentType?: string };
}

/** Forwards requests as they came (same method, path, headers — Host included — and body) to one upstream. */
export class Upstream {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  private readonly url: URL;

  public constructor(endpoint: string) {
    this.url = new URL(endpoint);
  }

  /**
   * Sends the request to the upstream and streams its answer back (or, with `rewrite`, buffers it and sends the
   * rewritten body); resolves with the status sent.
   */
  public forward(request: GatewayRequest, response: ServerResponse, options: ForwardOptions = {}): Promise<number> {
    const body = options.body ?? request.body;
    const headers: Record<string, string | string[]> = {};
    const replaced = new Set(Object.keys(options.headers ?? {}).map((name) => name.toLowerCase()));
    for (let i = 0; i < request.rawHeaders.length; i += 2) {
      const name = request.rawHeaders[i]!;
      if (HOP_BY_HOP.has(name.toLowerCase()) || replaced.has(name.toLowerCase())) continue;
      let value = request.rawHeaders[i + 1]!;
      if (options.accessKeyId && name.toLowerCase() === 'authorization') value = value.replace(/Credential=[^/]*\//, `Credential=${options.accessKeyId}/`);
      const existing = headers[name];
      headers[name] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
    }
    for (const [name, value] of Object.entries(options.headers ?? {})) if (value !== undefined) headers[name] = value;
    headers['content-length'] = String(body.length);
    const search = request.query.toString();
    return new Promise((resolve, reject) => {
      const upstream = httpRequest(
        {
          host: this.url.hostname,
          port: this.url.port,
          method: request.method,
          path: `${request.path}${search ? `?${search}` : ''}`,
          headers,
          agent: this.agent,
        },
        (answer) => {
          const outHeaders: Record<string, string | string[]> = {};
          for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && name !== 'connection' && name !== 'keep-alive') outHeaders[name] = value;
          const status = answer.statusCode ?? 502;
          answer.on('error', reject);
          if (!options.rewrite) {
            response.writeHead(status, outHeaders);
            answer.pipe(response);
            answer.on('end', () => resolve(status));
            return;
          }
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => {
            const rewritten = options.rewrite!(Buffer.concat(chunks), status, answer.headers);
            delete outHeaders['transfer-encoding'];
            outHeaders['content-length'] = String(rewritten.body.length);
            if (rewritten.contentType) outHeaders['content-type'] = rewritten.contentType;
            response.writeHead(status, outHeaders);
            response.end(rewritten.body);
            resolve(status);
          });
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  /** Closes idle keep-alive sockets. */
  public close(): void {
    this.agent.destroy();
  }
}
