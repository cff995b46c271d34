import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalPrincipal, PrincipalRegistry } from '../iam/principals.js';
import { GatewaySetupError } from './errors.js';
import { parseAuthorization, verifySignature } from './sigv4.js';
import type { GatewayCall, GatewayError, GatewayRequest, ServiceHandler, UnauthenticatedRequest } from './types.js';

/** Options of {@link Gateway}. */
export interface GatewayOptions {
  readonly principals: PrincipalRegistry;
  /** Verify signatures and authorize requests. @default true */
  readonly enforce?: boolean;
  /** @default '127.0.0.1' */
  readonly host?: string;
}

const MESSAGES = {
  missing: 'Request is missing Authentication Token',
  incomplete: "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters (AWS4-HMAC-SHA256).",
  unrecognized: 'The security token included in the request is invalid.',
  signature:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
} as const;

/** The SigV4 error messages AWS answers with, shared with the local API. */
export const SIGNATURE_MESSAGES = MESSAGES;

/**
 * The local stack's one edge endpoint (like LocalStack's port 4566): every SDK client — functions, pollers, tests,
 * `.local/env` users — sends its AWS calls here. The gateway verifies the SigV4 signature with the secret of the
 * request's access key id, maps the key to a principal (a function's execution role, or the local caller), picks the
 * service from the credential scope and lets that service's handler authorize the call and forward it to its
 * emulator (DynamoDB Local, fauxqs) or answer AWS's error. Mount more services with {@link registerService}.
 *
 * Every call is reported to `onCall` listeners (principal, service, operation, actions, resources, decision,
 * status, duration).
 */
export class Gateway {
  private readonly services = new Map<string, ServiceHandler>();
  private readonly events = new EventEmitter();
  private bodyListeners = 0;
  private server?: Server;
  private address?: AddressInfo;
  public readonly enforce: boolean;

  public constructor(private readonly options: GatewayOptions) {
    this.enforce = options.enforce ?? true;
    this.events.setMaxListeners(50);
  }

  /** Mounts a service under its SigV4 credential-scope name (`dynamodb`, `sqs`, `secretsmanager`…). */
  public registerService(name: string, handler: ServiceHandler): this {
    if (this.services.has(name)) throw new GatewaySetupError(`gateway: service "${name}" is already registered; mount each SigV4 service name once`);
    this.services.set(name, handler);
    return this;
  }

  /** Names of the services mounted. */
  public serviceNames(): string[] {
    return [...this.services.keys()];
  }

  /**
   * Subscribes to every call; returns the unsubscribe function. With `{ bodies: true }` calls also carry the request
   * and response bodies (captured only while such a listener is subscribed: the flight recorder's correlation keys).
   */
  public onCall(listener: (call: GatewayCall) => void, options: { readonly bodies?: boolean } = {}): () => void {
    this.events.on('call', listener);
    if (options.bodies) this.bodyListeners++;
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.events.off('call', listener);
      if (options.bodies) this.bodyListeners--;
    };
  }

  /** Starts listening; port 0 picks a free one. */
  public async listen(port: number): Promise<{ port: number; url: string }> {
    const host = this.options.host ?? '127.0.0.1';
    const server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        // Stopping: long polls still forwarded to an emulator that is going away are cut, not reported.
        if (!this.server) {
          response.destroy();
          return;
        }
        if (!response.headersSent) {
          response.writeHead(500, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ __type: 'InternalFailure', message: `local gateway: ${(error as Error).message}` }));
        } else response.destroy();
        process.stderr.write(`local gateway: ${(error as Error).stack ?? String(error)}\n`);
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    this.address = server.address() as AddressInfo;
    return { port: this.address.port, url: this.url };
  }

  /** `http://127.0.0.1:<port>` once listening. */
  public get url(): string {
    if (!this.address) throw new GatewaySetupError('gateway: not listening yet; await listen() first');
    return `http://${this.options.host ?? '127.0.0.1'}:${this.address.port}`;
  }

  /** Stops listening and drops open connections; idempotent. */
  public async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = performance.now();
    const body = await readBody(request);
    const url = new URL(request.url ?? '/', 'http://gateway');
    const requestId = randomUUID();
    const bare: UnauthenticatedRequest = { requestId, headers: request.headers, body, query: url.searchParams };
    const auth = parseAuthorization(request.headers.authorization);
    const scopeService = auth && auth !== 'malformed' ? auth.service : undefined;
    const handler = (scopeService && this.services.get(scopeService)) || [...this.services.values()].find((service) => service.claims(bare));
    const report = (call: Omit<GatewayCall, 'durationMs'>) => this.events.emit('call', { ...call, durationMs: performance.now() - started } satisfies GatewayCall);
    const fail = (error: GatewayError) => {
      if (!handler) {
        response.writeHead(400, { 'content-type': 'application/json', 'x-amzn-requestid': requestId });
        response.end(JSON.stringify({ __type: 'UnknownService', message: `${error.message} (the local gateway serves: ${this.serviceNames().join(', ')})` }));
        return 400;
      }
      return handler.sendError(bare, response, error);
    };
    if (!handler) {
      const status = fail({
        kind: 'Validation',
        message: scopeService ? `service "${scopeService}" is not served by the local runtime` : 'request names no service (no SigV4 credential scope, X-Amz-Target or Action)',
      });
      report({ principal: 'unknown', principalKind: 'unknown', service: scopeService ?? 'unknown', operation: 'unknown', actions: [], resources: [], checks: [], decision: 'Error', status });
      return;
    }
    const service = scopeService ?? 'unsigned';
    const reject = (error: GatewayError) => {
      const status = fail(error);
      report({ principal: 'unknown', principalKind: 'unknown', service, operation: 'unknown', actions: [], resources: [], checks: [], decision: 'Error', status });
    };
    let principal: LocalPrincipal;
    if (auth === undefined || auth === 'malformed') {
      if (this.enforce) return reject(auth === undefined ? { kind: 'MissingAuthenticationToken', message: MESSAGES.missing } : { kind: 'IncompleteSignature', message: MESSAGES.incomplete });
      principal = this.options.principals.caller;
    } else {
      const lookup = this.options.principals.resolve(auth.accessKeyId);
      if (!lookup.known) {
        if (this.enforce) return reject({ kind: 'UnrecognizedClient', message: MESSAGES.unrecognized });
        principal = this.options.principals.caller;
      } else {
        principal = lookup.principal;
        if (this.enforce && principal.secretAccessKey !== undefined) {
          const valid = await verifySignature({ method: request.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: request.headers, body }, auth, principal.secretAccessKey);
          if (!valid) return reject({ kind: 'InvalidSignature', message: MESSAGES.signature });
        }
      }
    }
    const gatewayRequest: GatewayRequest = {
      requestId,
      method: request.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: request.headers,
      rawHeaders: request.rawHeaders,
      body,
      authorization: auth === 'malformed' ? undefined : auth,
      principal,
      origin: `http://${request.headers.host ?? this.url.slice('http://'.length)}`,
    };
    const captured = this.bodyListeners > 0 ? captureBody(response) : undefined;
    const outcome = await handler.handle(gatewayRequest, response);
    report({
      ...outcome,
      ...(captured && { requestBody: body, responseBody: captured() }),
      principal: principal.principal.arn,
      principalKind: principal.kind,
      actions: [...new Set(outcome.checks.map((check) => check.action))],
      resources: [...new Set(outcome.checks.map((check) => check.resource))],
    });
  }
}

/** Tees what is written to the response (streamed or not) so `onCall` listeners that asked for bodies get it. */
function captureBody(response: ServerResponse): () => Buffer {
  const chunks: Buffer[] = [];
  const keep = (chunk: unknown, encoding: unknown) => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'));
  };
  const write = response.write.bind(response) as (...args: unknown[]) => boolean;
  const end = response.end.bind(response) as (...args: unknown[]) => ServerResponse;
  response.write = ((chunk: unknown, ...rest: unknown[]) => (keep(chunk, rest[0]), write(chunk, ...rest))) as ServerResponse['write'];
  response.end = ((chunk?: unknown, ...rest: unknown[]) => (keep(chunk, rest[0]), end(chunk, ...rest))) as ServerResponse['end'];
  return () => (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}
