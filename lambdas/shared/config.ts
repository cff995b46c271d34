import { requireEnv, type EnvName } from './env.js';

/**
 * Reads a required environment variable that must be a positive integer (seconds, milliseconds).
 * @throws Error `Environment variable X is required`, or `… must be a positive integer (got "…")`.
 */
export function requirePositiveInteger(name: EnvName, env: NodeJS.ProcessEnv = process.env): number {
  const raw = requireEnv(name, env);
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`Environment variable ${name} must be a positive integer (got "${raw}")`);
  }
  return value;
}
