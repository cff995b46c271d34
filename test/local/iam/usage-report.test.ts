import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoScenario, newRunId, sendScenario } from '../../../local/demo.js';
import { usageProblems, type UsageReport } from '../../../local/iam/usage-report.js';
import { startE2EPipeline, type E2EPipeline } from '../../fixtures/e2e-pipeline.js';

// The least-privilege check on the reference stack: a representative pass (the demo scenario: payments, duplicates,
// a rejection, the webhook) under IAM enforcement, then the report the runtime writes on stop and the check.
const run = promisify(execFile);
let pipeline: E2EPipeline;
let reportFile: string;

beforeAll(async () => {
  pipeline = await startE2EPipeline();
  const outDir = pipeline.runtime!.files.outputs.replace(/[/\\]outputs\.json$/, '');
  reportFile = join(outDir, 'iam-usage.json');
  const steps = buildDemoScenario(newRunId('iam'));
  await sendScenario(pipeline.handles.api, steps);
  await pipeline.settleQuiet();
  await pipeline.runtime!.stop();
}, 600_000);

afterAll(async () => {
  await pipeline?.stop();
});

describe('least-privilege report of the reference stack', () => {
  it('finds no call the template does not grant and lists what each role used', () => {
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as UsageReport;
    expect(report.iam).toBe('enforced');
    expect(usageProblems(report)).toEqual([]);
    const used = report.roles.flatMap((role) => role.used.map((u) => u.action));
    // The atomic ledger's first call and the pollers' reads, made as the functions' roles.
    expect(used).toEqual(expect.arrayContaining(['dynamodb:BatchGetItem', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'dynamodb:GetRecords']));
    expect(existsSync(reportFile.replace(/json$/, 'md'))).toBe(true);
  });

  it('passes `npm run iam-report` on the written report', async () => {
    const { stdout } = await run('npx', ['tsx', 'scripts/iam-report.ts', reportFile]);
    expect(stdout).toMatch(/OK: every call of the run is granted by the template\./);
    expect(stdout).toMatch(/^\| Role \| Action \| Resource \| Calls \| Granted \|$/m);
  });
});
