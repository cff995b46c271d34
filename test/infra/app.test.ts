import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Runs bin/app.ts the way the CDK CLI does (CDK_OUTDIR + CDK_CONTEXT_JSON), with bundling skipped. */
function runApp(context: Record<string, unknown>) {
  const outdir = mkdtempSync(path.join(tmpdir(), 'infra-app-'));
  dirs.push(outdir);
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
    env: {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [], ...context }),
    },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { outdir, status: result.status, output: `${result.stdout}\n${result.stderr}` };
}

describe('bin/app.ts', () => {
  it('synthesizes ExactlyOncePayments-<stage> with the cdk-nag plugin passing', () => {
    // GIVEN / WHEN the app runs with prod context
    const { outdir, status, output } = runApp({ stage: 'prod', webhookUrl: 'https://hooks.example.com/p' });
    // THEN
    expect(status, output).toBe(0);
    expect(existsSync(path.join(outdir, 'ExactlyOncePayments-prod.template.json'))).toBe(true);
    const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports.filter((r: { conclusion: string }) => r.conclusion !== 'success')).toEqual([]);
  });

  it('fails with the context key, the value and the fix on a bad context value', () => {
    const { status, output } = runApp({ stage: 'staging', webhookUrl: 'https://hooks.example.com/p' });
    expect(status).not.toBe(0);
    expect(output).toMatch(/Invalid context "stage": "staging" is not one of dev \| prod; pass -c stage=dev/);
  });
});
