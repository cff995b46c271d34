/**
 * The chaos drain waits as long as the pipeline progresses and fails only after a stretch without progress, naming
 * what is stuck where (issue 11: a 2,000-payment run failed with "not idle after 300000 ms" while still draining).
 * The runtime is a fake port (its idle check and counters are what the drain reads); the queues are real fauxqs ones.
 */
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.js';
import type { LocalRuntime } from '../../local/runtime.js';
import { DrainStalledError, waitForDrain } from '../../scripts/chaos/drain.js';

let server: Awaited<ReturnType<typeof startFauxqs>>;
let sqs: SQSClient;
let queueUrl: string;

beforeAll(async () => {
  server = await startFauxqs({ port: 0, logger: false });
  sqs = new SQSClient({ endpoint: `http://127.0.0.1:${server.port}`, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  ({ QueueUrl: queueUrl } = (await sqs.send(new CreateQueueCommand({ QueueName: `drain-${Date.now()}` }))) as { QueueUrl: string });
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'waiting' }));
});

afterAll(async () => {
  sqs.destroy();
  await server.stop();
});

/** A runtime that is busy for `busyChecks` idle checks, completing one invocation per check when `progressing`. */
function fakeRuntime(busyChecks: number, progressing: boolean): LocalRuntime & { checks: number } {
  let completed = 0;
  const runtime = {
    checks: 0,
    functions: new Map([['LedgerFunction', { active: 1 }]]),
    async waitForIdle(options?: { timeoutMs?: number }) {
      runtime.checks++;
      if (runtime.checks > busyChecks) return;
      if (progressing) completed++;
      await new Promise((resolve) => setTimeout(resolve, options?.timeoutMs ?? 0));
      throw new Error(`not idle after ${options?.timeoutMs} ms: LedgerFunction has 1 invocation(s) running`);
    },
    mappingStats: () => [{ functionName: 'ledger', eventSourceArn: 'arn:aws:sqs:us-east-1:000000000000:payments.fifo', invocations: completed, failures: 0 }],
  };
  return runtime as unknown as LocalRuntime & { checks: number };
}

describe('waitForDrain', () => {
  it('keeps waiting past the no-progress limit while invocations keep completing', async () => {
    // Prepare: busy for 10 checks of 40 ms (about 400 ms in total), the limit without progress is 150 ms.
    const runtime = fakeRuntime(10, true);
    // Act
    await waitForDrain(runtime, sqs, { 'payments queue': queueUrl }, { phase: 'test', stallMs: 150, sliceMs: 40 });
    // Assess
    expect(runtime.checks).toBe(11);
  });

  it('fails after the limit without progress, naming the phase and what is stuck where', async () => {
    // Prepare
    const runtime = fakeRuntime(1_000, false);
    // Act
    const failure = await waitForDrain(runtime, sqs, { 'payments queue': queueUrl, 'payments DLQ': undefined }, {
      phase: 'after the sends',
      stallMs: 150,
      sliceMs: 40,
    }).catch((error: unknown) => error);
    // Assess
    expect(failure).toBeInstanceOf(DrainStalledError);
    expect((failure as Error).message).toMatch(/^after the sends: no progress for \d+ s/);
    expect((failure as Error).message).toContain('payments queue: 1 visible, 0 in flight, 0 delayed');
    expect((failure as Error).message).toContain('LedgerFunction: 1 invocation(s) running');
    expect(runtime.checks).toBeLessThan(10);
  });

  it('rethrows an error that is not "not idle"', async () => {
    const runtime = fakeRuntime(0, false);
    runtime.waitForIdle = async () => {
      throw new Error('SQS is down');
    };
    await expect(waitForDrain(runtime, sqs, {}, { phase: 'test', stallMs: 150, sliceMs: 40 })).rejects.toThrow('SQS is down');
  });
});
