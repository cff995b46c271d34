import { existsSync, readFileSync } from 'node:fs';
import { RedriveError } from './errors.js';

/** Stack outputs as written by `cdk deploy --outputs-file` (and by the local runtime): stack → key → value. */
export type StackOutputs = Record<string, Record<string, string>>;

/** Outputs file the local runtime writes, relative to the project root. */
export const LOCAL_OUTPUTS_FILE = '.local/outputs.json';
/** Env file (AWS_ENDPOINT_URL_*, region, dummy credentials) the local runtime writes next to it. */
export const LOCAL_ENV_FILE = '.local/env';

/**
 * Reads an outputs file.
 * @throws RedriveError when the file is not JSON of the `{stack: {key: value}}` shape.
 */
export function readOutputs(file: string): StackOutputs {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new RedriveError(`Cannot read outputs file ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new RedriveError(`Outputs file ${file} must map stack names to {OutputKey: value} objects`);
  }
  return parsed as StackOutputs;
}

/**
 * Parses a `KEY=value` env file (blank lines, `#` comments and an `export ` prefix allowed; quotes stripped).
 */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2]!.trim();
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    env[match[1]!] = value;
  }
  return env;
}

/** Where queue and table names come from, after the flags, env and files have been looked at. */
export interface ProjectConfig {
  readonly outputs: StackOutputs;
  /** The outputs file that was read, if any. */
  readonly outputsFile?: string;
  /** Env file loaded into `process.env` (keys already set in the environment win). */
  readonly envFile?: string;
}

/**
 * Finds the outputs file and, for the local runtime's outputs, loads `.local/env` into `env` so the SDK clients
 * talk to the local emulators. Variables already set are never overwritten.
 */
export function loadProjectConfig(
  options: { outputsFile?: string; envFile?: string | false },
  env: NodeJS.ProcessEnv = process.env,
): ProjectConfig {
  const outputsFile = options.outputsFile ?? (existsSync(LOCAL_OUTPUTS_FILE) ? LOCAL_OUTPUTS_FILE : undefined);
  const outputs = outputsFile ? readOutputs(outputsFile) : {};
  let envFile: string | undefined;
  if (options.envFile !== false) {
    envFile = options.envFile ?? (outputsFile === LOCAL_OUTPUTS_FILE && existsSync(LOCAL_ENV_FILE) ? LOCAL_ENV_FILE : undefined);
    if (envFile) {
      if (!existsSync(envFile)) throw new RedriveError(`Env file ${envFile} does not exist (or pass --no-env-file)`);
      for (const [key, value] of Object.entries(parseEnvFile(readFileSync(envFile, 'utf8')))) {
        if (env[key] === undefined || env[key] === '') env[key] = value;
      }
    }
  }
  return { outputs, outputsFile, envFile };
}

/**
 * Looks an output key up across stacks.
 * @throws RedriveError when several stacks hold the key and no `stack` was given.
 */
export function findOutput(outputs: StackOutputs, key: string, stack?: string): string | undefined {
  if (stack !== undefined) return outputs[stack]?.[key];
  const hits = Object.entries(outputs).filter(([, values]) => values && typeof values[key] === 'string');
  if (hits.length > 1) {
    throw new RedriveError(`Output ${key} exists in several stacks (${hits.map(([s]) => s).join(', ')}): pass --stack`);
  }
  return hits[0]?.[1][key];
}

/** The output key (and stack) whose value is `value`, if any. */
export function findOutputKeyByValue(outputs: StackOutputs, value: string): { stack: string; key: string } | undefined {
  for (const [stack, values] of Object.entries(outputs)) {
    for (const [key, candidate] of Object.entries(values ?? {})) {
      if (candidate === value) return { stack, key };
    }
  }
  return undefined;
}
