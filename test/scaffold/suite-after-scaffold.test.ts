import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { copyProject, generateAll, runBin, VARIANTS, writeOuterEmulatorsConfig, type ProjectCopy } from './project-copy.js';

// Issue 12: the suites that count the stack's consumers, outputs and alarms stay green after `npm run new`: every
// variant is scaffolded into a copy, then those suites run there (against this run's emulators).
const AFFECTED = [
  'test/infra/payments-stack.test.ts',
  'test/infra/payments-stack-edges.test.ts',
  'test/infra/runbook.test.ts',
  'test/infra/security.test.ts',
  'test/infra/service-integrations.test.ts',
];
let copy: ProjectCopy;

beforeAll(() => {
  copy = copyProject();
  generateAll(copy.root, VARIANTS);
  writeOuterEmulatorsConfig(copy.root);
  writeFileSync(
    join(copy.root, 'vitest.affected.config.ts'),
    `import { defineConfig } from 'vitest/config';
export default defineConfig({
  test: { globalSetup: ['test/support/outer-emulators.ts'], include: ${JSON.stringify(AFFECTED)}, testTimeout: 300_000, hookTimeout: 300_000, maxWorkers: 2 },
});
`,
  );
});

afterAll(() => copy?.remove());

describe('after scaffolding every variant', () => {
  it('the infra suites that count consumers, outputs and alarms still pass', async () => {
    const result = await runBin(
      copy.root,
      'vitest',
      ['run', '--config', 'vitest.affected.config.ts'],
      { SCAFFOLD_DDB_ENDPOINT: inject('ddbEndpoint'), SCAFFOLD_SQS_ENDPOINT: inject('sqsEndpoint') },
      1_200_000,
    );
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`Test Files\\s+${AFFECTED.length} passed`));
  }, 1_300_000);
});
