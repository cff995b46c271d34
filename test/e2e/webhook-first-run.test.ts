import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PaymentsApiClient } from '../../local/api-client.js';

/**
 * A first run as a new user (or a supervisor) does it: `npm start` with no webhook configured, a payment through the
 * API, the signed delivery printed by the built-in receiver, then SIGTERM to the npm process — which npm does not
 * relay — and every port free afterwards.
 */
const PROJECT = new URL('../..', import.meta.url).pathname;
// A stable out dir: an unchanged app reuses the synthesized assembly on the next run.
const OUT_DIR = join(PROJECT, '.local', 'first-run-test');

let npm: ChildProcess | undefined;
let output = '';
afterAll(() => {
  if (npm?.exitCode === null) npm.kill('SIGKILL');
});

/** Resolves with the first match of `pattern` in npm's output. */
function waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = setInterval(() => {
      const match = pattern.exec(output);
      if (match) {
        clearInterval(check);
        resolve(match);
      } else if (Date.now() - started > timeoutMs || npm?.exitCode !== null) {
        clearInterval(check);
        reject(new Error(`no ${pattern} in npm start's output within ${timeoutMs} ms:\n${output.slice(-3000)}`));
      }
    }, 200);
  });
}

/** True when something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('npm start: the first run and stopping it as a supervisor does', () => {
  it('delivers a signed event to the built-in receiver, and SIGTERM to the npm process frees every port', async () => {
    // Prepare: npm start with every port picked free and no webhookUrl anywhere (cdk.json has none).
    npm = spawn('npm', ['start', '--', '--api-port', '0', '--dynamodb-port', '0', '--port', '0', '--inspector-port', '0', '--out-dir', OUT_DIR, '--quiet'], {
      cwd: PROJECT,
      env: { ...process.env, JAVA_TOOL_OPTIONS: '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    npm.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitForOutput(/Ready in \d+ ms/, 540_000);
    const apiUrl = (await waitForOutput(/API\s+\S+\s+(http:\/\/127\.0\.0\.1:\d+\/dev\/)/, 1_000))[1]!;
    const webhookUrl = (await waitForOutput(/Webhook\s+built-in receiver\s+(http:\/\/127\.0\.0\.1:(\d+)\/webhook)/, 1_000))[1]!;
    const ports = [
      Number(new URL(apiUrl).port),
      Number(new URL(webhookUrl).port),
      // The one edge endpoint (DynamoDB, Streams, SQS, Secrets Manager) and the inspector page.
      Number((await waitForOutput(/Endpoint\s+AWS\s+http:\/\/127\.0\.0\.1:(\d+)/, 1_000))[1]),
      Number((await waitForOutput(/Inspector\s+page\s+http:\/\/127\.0\.0\.1:(\d+)/, 1_000))[1]),
    ];

    // Act 1: a payment through the signed API.
    const client = new PaymentsApiClient({ apiUrl });
    const accepted = await client.createPayment({ idempotencyKey: `first-run-${Date.now()}`, body: { accountId: 'first-run', amount: 250, currency: 'EUR' } });
    expect(accepted.status).toBe(202);

    // Assess 1: one line for the delivery, its signature verified with the stack's secret.
    const line = await waitForOutput(/webhook 200 (evt_\w+) PaymentApplied first-run \+250 EUR → balance \d+ {2}signature ok/, 120_000);
    expect(line[1]).toBe(`evt_${(accepted.body as { paymentId: string }).paymentId.replace(/^pay_/, '')}`);
    expect(await Promise.all(ports.map(listening))).toEqual([true, true, true, true]);

    // Act 2: SIGTERM to npm itself, as a supervisor sends it.
    const exited = new Promise<void>((resolve) => npm!.once('exit', () => resolve()));
    npm.kill('SIGTERM');
    await exited;

    // Assess 2: the runtime noticed, stopped everything and freed the ports.
    const deadline = Date.now() + 60_000;
    let open = ports;
    while (open.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      open = (await Promise.all(ports.map(async (port) => ((await listening(port)) ? port : undefined)))).filter((p): p is number => p !== undefined);
    }
    expect(open, output.slice(-2000)).toEqual([]);
  }, 720_000);
});
