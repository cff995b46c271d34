import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, it } from 'vitest';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Runs bin/app.ts the way the CDK CLI does (CDK_OUTDIR + CDK_CONTEXT_JSON), with bundling skipped. */
async function runApp(context: Record<string, unknown>) {
  const outdir = mkdtempSync(path.join(tmpdir(), 'infra-app-'));
  dirs.push(outdir);
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
    env: {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [], ...context }),
    },
    timeout: 120_000,
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { outdir, status, output };
}

// The two runs are independent child processes: run them side by side.
describe.concurrent('bin/app.ts', () => {
  it('synthesizes ExactlyOncePayments-<stage> with the cdk-nag plugin passing', async ({ expect }) => {
    // GIVEN / WHEN the app runs with prod context
    const { outdir, status, output } = await runApp({ stage: 'prod', webhookUrl: 'https://hooks.example.com/p' });
    // THEN
    expect(status, output).toBe(0);
    expect(existsSync(path.join(outdir, 'ExactlyOncePayments-prod.template.json'))).toBe(true);
    const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports.filter((r: { conclusion: string }) => r.conclusion !== 'success')).toEqual([]);
  });

  it('fails with the context key, the value and the fix on a bad context value', async ({ expect }) => {
    const { status, output } = await runApp({ stage: 'staging', webhookUrl: 'https://hooks.example.com/p' });
    expect(status).not.toBe(0);
    expect(output).toMatch(/Invalid context "stage": "staging" is not one of dev \| prod; pass -c stage=dev/);
  });
});
