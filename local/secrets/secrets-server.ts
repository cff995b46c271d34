import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SecretsManagerError } from './errors.js';
import type { SecretsManagerHandler } from './secrets-api.js';

/** A running local Secrets Manager endpoint. */
export interface SecretsServer {
  /** `http://127.0.0.1:<port>`: the value of AWS_ENDPOINT_URL_SECRETS_MANAGER. */
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves a {@link SecretsManagerHandler} over Secrets Manager's JSON 1.1 protocol (POST, `X-Amz-Target:
 * secretsmanager.<Operation>`, errors as `{"__type": code, "message": …}` with status 400). Signatures are not
 * verified here; an IAM-enforcing gateway mounts the handler itself.
 */
export async function startSecretsServer(handler: SecretsManagerHandler, options: { port?: number; host?: string } = {}): Promise<SecretsServer> {
  const server = createServer((req, res) => void serve(handler, req, res));
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function serve(handler: SecretsManagerHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const target = String(req.headers['x-amz-target'] ?? '');
  const answer = (status: number, body: unknown, errorType?: string) => {
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
    res.end(JSON.stringify(body));
  };
  try {
    if (req.method !== 'POST' || !target.startsWith('secretsmanager.')) {
      throw new SecretsManagerError('UnknownOperationException', `expected POST with X-Amz-Target secretsmanager.<Operation>, got ${req.method} ${target || '(no target)'}`);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let input: unknown;
    try {
      input = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new SecretsManagerError('SerializationException', 'the request body is not JSON');
    }
    answer(200, handler(target.slice('secretsmanager.'.length), (input ?? {}) as Record<string, unknown>));
  } catch (error) {
    if (error instanceof SecretsManagerError) return answer(error.statusCode, { __type: error.code, message: error.message }, error.code);
    answer(500, { __type: 'InternalServiceError', message: (error as Error).message }, 'InternalServiceError');
  }
}
