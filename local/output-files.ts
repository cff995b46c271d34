import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Stack name → output key → value, as `cdk deploy --outputs-file` writes it. */
export type StackOutputs = Record<string, Record<string, string>>;

/**
 * Writes `<outDir>/outputs.json` (the `cdk deploy --outputs-file` format) and `<outDir>/env` (KEY=value lines an SDK,
 * the AWS CLI, `node --env-file` or `set -a; . .local/env` can use to reach the local stack).
 *
 * @returns the paths written.
 */
export function writeOutputFiles(outDir: string, outputs: StackOutputs, env: Readonly<Record<string, string>>): { outputsFile: string; envFile: string } {
  mkdirSync(outDir, { recursive: true });
  const outputsFile = join(outDir, 'outputs.json');
  const envFile = join(outDir, 'env');
  writeFileSync(outputsFile, `${JSON.stringify(outputs, null, 2)}\n`);
  writeFileSync(envFile, `${Object.entries(env).map(([key, value]) => `${key}=${value}`).join('\n')}\n`);
  return { outputsFile, envFile };
}
