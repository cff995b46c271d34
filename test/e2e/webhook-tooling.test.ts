import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PaymentsApiClient } from '../../local/api-client.js';
import { writeAwsWrapper } from '../../local/aws-wrapper.js';
import { parsePayArgs } from '../../local/pay.js';

/** The tools around the first run: the API key the client sends, `npm run pay`, the AWS CLI wrapper. */
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe('API client: x-api-key for stacks deployed with -c apiKey=true', () => {
  async function headersSent(options: { apiKey?: string; env?: string }): Promise<IncomingHttpHeaders> {
    let seen: IncomingHttpHeaders = {};
    const server = createServer((req, res) => {
      seen = req.headers;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const previous = process.env.PAYMENTS_API_KEY;
    if (options.env === undefined) delete process.env.PAYMENTS_API_KEY;
    else process.env.PAYMENTS_API_KEY = options.env;
    try {
      const client = new PaymentsApiClient({ apiUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dev/`, apiKey: options.apiKey });
      await client.getAccount('acc-1');
      return seen;
    } finally {
      if (previous === undefined) delete process.env.PAYMENTS_API_KEY;
      else process.env.PAYMENTS_API_KEY = previous;
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  it('sends the key given as an option, inside the SigV4 signature', async () => {
    const headers = await headersSent({ apiKey: 'key-from-option' });
    expect(headers['x-api-key']).toBe('key-from-option');
    expect(headers.authorization).toMatch(/SignedHeaders=[^,]*x-api-key/);
  });

  it('reads PAYMENTS_API_KEY when no option is given, and sends no key without either', async () => {
    expect((await headersSent({ env: 'key-from-env' }))['x-api-key']).toBe('key-from-env');
    expect((await headersSent({}))['x-api-key']).toBeUndefined();
  });
});

describe('npm run pay arguments', () => {
  it('parses a payment with a generated Idempotency-Key, or the one given to retry', () => {
    const args = parsePayArgs(['--account', 'acc-1', '--amount', '-250', '--currency', 'EUR', '--reference', 'rent']);
    expect(args.payment).toEqual({ accountId: 'acc-1', amount: -250, currency: 'EUR', reference: 'rent' });
    expect(args.key).toMatch(/^pay-[0-9a-f-]{36}$/);
    expect(parsePayArgs(['--account', 'a', '--amount', '1', '--currency', 'EUR', '--key', 'my-key-123']).key).toBe('my-key-123');
    expect(parsePayArgs(['--get', 'acc-1']).get).toBe('acc-1');
  });

  it('rejects a fractional amount, a missing field and an unknown flag, naming them', () => {
    expect(() => parsePayArgs(['--account', 'a', '--amount', '12.5', '--currency', 'EUR'])).toThrow(/--amount must be an integer number of minor units \(1250 = 12\.50\), got "12\.5"/);
    expect(() => parsePayArgs(['--account', 'a', '--currency', 'EUR'])).toThrow(/--account, --amount and --currency are required/);
    expect(() => parsePayArgs(['--acount', 'a'])).toThrow(/unknown option --acount/);
  });
});

describe('.local/aws: the AWS CLI against the local stack (v1 ignores AWS_ENDPOINT_URL_*)', () => {
  it('passes --endpoint-url of the service named first', () => {
    // Prepare: an env file as npm start writes it, and a stand-in `aws` that prints its arguments.
    const dir = mkdtempSync(join(tmpdir(), 'aws-wrapper-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'env'), 'AWS_ENDPOINT_URL_SQS=http://127.0.0.1:4566\nAWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:4577\n');
    const bin = join(dir, 'bin');
    execFileSync('mkdir', [bin]);
    writeFileSync(join(bin, 'aws'), '#!/bin/sh\necho "$@"\n', { mode: 0o755 });
    const wrapper = writeAwsWrapper(dir);
    const run = (...args: string[]) => execFileSync(wrapper, args, { env: { PATH: `${bin}:/usr/bin:/bin` } }).toString().trim();
    // Act / Assess
    expect(run('sqs', 'list-queues')).toBe('sqs list-queues --endpoint-url http://127.0.0.1:4566');
    expect(run('secretsmanager', 'get-secret-value', '--secret-id', 'x')).toBe('secretsmanager get-secret-value --secret-id x --endpoint-url http://127.0.0.1:4577');
    expect(run('sts', 'get-caller-identity')).toBe('sts get-caller-identity');
  });
});
