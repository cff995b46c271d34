import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.js';
import { canConnect } from '../support/ports.js';

// `npm start` as a user runs it, on a hand-written cloud assembly (no synthesis: this file stays fast) whose
// function is CommonJS and whose SQS mapping delivers one message.
const outDir = mkdtempSync(join(tmpdir(), 'local-cli-'));
let child: ChildProcess | undefined;
let stdout = '';

function waitFor(pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (pattern.test(stdout)) {
        clearInterval(timer);
        resolve();
      } else if (child?.exitCode !== null || Date.now() > deadline) {
        clearInterval(timer);
        reject(new Error(`no ${pattern} in output (exit ${child?.exitCode}):\n${stdout}`));
      }
    }, 100);
    const deadline = Date.now() + timeoutMs;
  });
}

afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(outDir, { recursive: true, force: true });
});

describe('npm start (local/cli.ts)', () => {
  it('starts an existing assembly, prints the ready table and invocation lines, and stops cleanly on SIGTERM', async () => {
    // Prepare
    // tsx itself on this Node (not npx, whose npm wrapper does not pass SIGTERM on) relays signals to the CLI.
    child = spawn(
      process.execPath,
      [join('node_modules', 'tsx', 'dist', 'cli.mjs'), 'local/cli.ts', 'start', '--assembly', 'test/fixtures/apps/assembly-only', '--api-port', '0', '--dynamodb-port', '0', '--sqs-port', '0', '--out-dir', outDir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    await waitFor(/Ready in \d+ ms — MiniStack/, 150_000);
    const outputs = JSON.parse(readFileSync(join(outDir, 'outputs.json'), 'utf8'));
    const env = Object.fromEntries(readFileSync(join(outDir, 'env'), 'utf8').trim().split('\n').map((line) => line.split(/=(.*)/s).slice(0, 2)));
    const sqs = new SQSClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: env.AWS_ENDPOINT_URL_SQS });

    // Act
    await sqs.send(new SendMessageCommand({ QueueUrl: outputs.MiniStack.InboxUrl, MessageBody: 'ping' }));
    await waitFor(/Probe \| hello from cjs: ping \(1, table MiniStack-Notes-[0-9A-F]{12}\)/, 30_000);
    sqs.destroy();
    const ports = [env.AWS_ENDPOINT_URL_SQS, env.AWS_ENDPOINT_URL_DYNAMODB].map((url) => Number(new URL(url!).port));
    child.kill('SIGTERM');
    // 'close', not 'exit': the last output lines may still be in the pipe when the process exits.
    const code = await new Promise<number | null>((resolve) => child!.once('close', (exitCode) => resolve(exitCode)));

    // Assess
    expect(stdout).toMatch(/Function\s+Probe\s+MiniStack-Probe-[0-9A-F]{12}\s+timeout 5s, 128 MB/);
    expect(stdout).toMatch(/Function\s+LogRetention\w+\s+not run: CDK deploy-time helper/);
    expect(stdout).toMatch(/Queue\s+Inbox\s+http:\/\/127\.0\.0\.1:\d+\/000000000000\/MiniStack-Inbox-[0-9A-F]{12}/);
    expect(stdout).toMatch(/Table\s+Notes\s+MiniStack-Notes-/);
    expect(stdout).toMatch(/Mapping\s+Probe\s+MiniStack-Inbox-[0-9A-F]{12} → MiniStack-Probe-/);
    expect(stdout).toMatch(/Ready in \d+ ms — MiniStack — IAM: enforced/);
    expect(stdout).toMatch(/Outside callers \(tests, \.local\/env, AWS CLI\) are local-caller, policy: \{"Version":"2012-10-17","Statement":\[\{"Sid":"LocalCallerIsAdmin","Effect":"Allow","Action":"\*","Resource":"\*"\}\]\}/);
    expect(stdout).toMatch(/SIGTERM: stopping[\s\S]*stopped/);
    expect(code).toBe(0);
    for (const port of ports) expect(await canConnect(port)).toBe(false);
  });
});
