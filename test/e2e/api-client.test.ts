import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClientConfigError, ApiRequestError, PaymentsApiClient } from '../../local/api-client.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The client must produce a SigV4 signature that API Gateway's IAM authorizer would accept. */
describe('payments API client', () => {
  let server: Server;
  let baseUrl: string;
  const seen: Seen[] = [];
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        res.writeHead(req.url!.startsWith('/dev/accounts/') ? 200 : 202, { 'content-type': 'application/json' });
        res.end(JSON.stringify(req.url!.startsWith('/dev/accounts/') ? { accountId: 'a', balance: 5, applied: 1, rejected: 0 } : { paymentId: 'pay_1', status: 'ACCEPTED' }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dev`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  /** Recomputes the signature on the server side from what actually arrived, as API Gateway does. */
  async function expectValidSignature(request: Seen, region: string) {
    const auth = String(request.headers.authorization);
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)![1]!.split(';');
    const headers: Record<string, string> = {};
    for (const name of signedHeaders) headers[name] = String(request.headers[name]);
    const url = new URL(request.url, 'http://placeholder');
    const verifier = new SignatureV4({ service: 'execute-api', region, credentials, sha256: Sha256 });
    const amzDate = String(request.headers['x-amz-date']);
    const signingDate = new Date(
      `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
    );
    const resigned = await verifier.sign(
      { method: request.method, protocol: 'http:', hostname: '127.0.0.1', path: url.pathname, query: {}, headers, body: request.body || undefined },
      { signingDate },
    );
    expect(resigned.headers.authorization).toBe(auth);
  }

  it('signs POST /payments for execute-api with the body, the Idempotency-Key and the host', async () => {
    // Prepare
    const client = new PaymentsApiClient({ apiUrl: baseUrl, region: 'eu-west-1', credentials });
    // Act
    const response = await client.createPayment({ idempotencyKey: 'key-0001', body: { accountId: 'a', amount: 5, currency: 'EUR' } });
    // Assess
    expect(response.status).toBe(202);
    expect(response.body).toEqual({ paymentId: 'pay_1', status: 'ACCEPTED' });
    const request = seen.at(-1)!;
    expect(request.url).toBe('/dev/payments');
    expect(request.headers['idempotency-key']).toBe('key-0001');
    expect(request.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[^ ]*host[^ ]*idempotency-key/);
    await expectValidSignature(request, 'eu-west-1');
  });

  it('signs GET /accounts/{id} and parses the account view', async () => {
    // Prepare
    const client = new PaymentsApiClient({ apiUrl: `${baseUrl}/`, region: 'us-east-1', credentials });
    // Act
    const response = await client.getAccount('a');
    // Assess
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ balance: 5, applied: 1 });
    expect(seen.at(-1)!.url).toBe('/dev/accounts/a');
    await expectValidSignature(seen.at(-1)!, 'us-east-1');
  });

  it('sends a raw malformed body untouched and no Idempotency-Key when none is given', async () => {
    // Prepare
    const client = new PaymentsApiClient({ apiUrl: baseUrl, credentials });
    // Act
    await client.createPayment({ rawBody: '{"accountId":' });
    // Assess
    expect(seen.at(-1)!.body).toBe('{"accountId":');
    expect(seen.at(-1)!.headers['idempotency-key']).toBeUndefined();
  });

  it('takes the signing region from an AWS execute-api hostname', () => {
    // Prepare / Act
    const client = new PaymentsApiClient({ apiUrl: 'https://abc123.execute-api.ap-southeast-2.amazonaws.com/prod/', credentials });
    // Assess
    expect(client.region).toBe('ap-southeast-2');
  });

  it('throws a config error naming a URL that is not one', () => {
    expect(() => new PaymentsApiClient({ apiUrl: 'not a url' })).toThrow(ApiClientConfigError);
    expect(() => new PaymentsApiClient({ apiUrl: 'ftp://x/' })).toThrow(/must be http\(s\)/);
  });

  it('fails with ApiRequestError when nothing listens', async () => {
    // Prepare
    const client = new PaymentsApiClient({ apiUrl: 'http://127.0.0.1:9/dev/', credentials, timeoutMs: 2_000 });
    // Act / Assess
    await expect(client.getAccount('a')).rejects.toThrow(ApiRequestError);
  });
});
