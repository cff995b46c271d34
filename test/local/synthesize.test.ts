import { mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { synthesize } from '../../local/assembly/synthesize.js';
import { AssemblyError } from '../../local/errors.js';

/** A stand-in CDK app: records its CDK_* environment and writes an empty cloud assembly, as `app.synth()` would. */
const FAKE_APP = `
const fs = require('node:fs');
const out = process.env.CDK_OUTDIR;
fs.writeFileSync(out + '/manifest.json', JSON.stringify({ version: '1', artifacts: {} }));
fs.writeFileSync(out + '/seen.json', JSON.stringify({ context: JSON.parse(process.env.CDK_CONTEXT_JSON), region: process.env.CDK_DEFAULT_REGION, account: process.env.CDK_DEFAULT_ACCOUNT }));
if (process.argv[2]) fs.appendFileSync(process.argv[2], 'x');
`;

function project(app = 'node app.cjs'): string {
  const dir = mkdtempSync(join(tmpdir(), 'synth-'));
  writeFileSync(join(dir, 'app.cjs'), FAKE_APP);
  writeFileSync(join(dir, 'cdk.json'), JSON.stringify({ app, watch: { include: ['src/**'] }, context: { stage: 'dev', keep: 'me' } }));
  writeFileSync(join(dir, 'cdk.context.json'), JSON.stringify({ cached: 'lookup' }));
  return dir;
}
const runs = (file: string) => readFileSync(file, 'utf8').length;

describe('synthesize', () => {
  it('runs the cdk.json app with CDK_OUTDIR and CDK_CONTEXT_JSON merged as the CLI does (-c wins over cdk.json)', async () => {
    // Prepare
    const dir = project();
    // Act
    const result = await synthesize({ projectDir: dir, outDir: 'out', context: { stage: 'prod' }, region: 'us-east-1' });
    // Assess
    const seen = JSON.parse(readFileSync(join(result.directory, 'seen.json'), 'utf8'));
    expect(result.reused).toBe(false);
    expect(seen.context).toMatchObject({ stage: 'prod', keep: 'me', cached: 'lookup', 'aws:cdk:bundling-stacks': ['**'] });
    expect(seen).toMatchObject({ region: 'us-east-1', account: '000000000000' });
  });

  it('reuses the assembly when app, context and sources are unchanged, and resynthesizes when a source changes', async () => {
    // Prepare
    const dir = project();
    writeFileSync(join(dir, 'app-source.cjs'), '1');
    const counter = join(mkdtempSync(join(tmpdir(), 'synth-runs-')), 'runs.txt');
    const app = `node app.cjs ${counter}`;
    const options = { projectDir: dir, app, outDir: 'out', region: 'us-east-1' } as const;
    // Act
    const first = await synthesize(options);
    const second = await synthesize(options);
    const otherContext = await synthesize({ ...options, context: { stage: 'prod' } });
    writeFileSync(join(dir, 'app.cjs'), `${FAKE_APP}\n// edited`);
    utimesSync(join(dir, 'app.cjs'), new Date(), new Date(Date.now() + 5_000));
    const afterEdit = await synthesize({ ...options, context: { stage: 'prod' } });
    const forced = await synthesize({ ...options, context: { stage: 'prod' }, reuse: false });
    // Assess
    expect([first.reused, second.reused, otherContext.reused, afterEdit.reused, forced.reused]).toEqual([false, true, false, false, false]);
    expect(runs(counter)).toBe(4);
  });

  it('fails with the app stderr when the app exits non-zero', async () => {
    const dir = project('node -e "console.error(\'boom from app\'); process.exit(3)"');
    const attempt = synthesize({ projectDir: dir, outDir: 'out', region: 'us-east-1' });
    await expect(attempt).rejects.toThrow(AssemblyError);
    await expect(synthesize({ projectDir: dir, outDir: 'out', region: 'us-east-1' })).rejects.toThrow(/exited with code 3\nboom from app/);
  });

  it('rejects a project with no app to run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'synth-empty-'));
    await expect(synthesize({ projectDir: dir, outDir: 'out', region: 'us-east-1' })).rejects.toThrow(/no app to synthesize: pass --app/);
  });
});
