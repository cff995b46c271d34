import { join } from 'node:path';
import { SecretStore } from './secret-store.js';
import { createSecretsManagerHandler, type SecretsManagerHandler } from './secrets-api.js';
import { startSecretsServer, type SecretsServer } from './secrets-server.js';

/** File (under the runtime's out dir) that keeps generated secret values across restarts. */
export const SECRETS_FILE = 'secrets.json';

/** The local runtime's Secrets Manager: the store, its request handler and its endpoint. */
export interface LocalSecrets {
  readonly store: SecretStore;
  /** `(operation, input) → output`, for a gateway that mounts Secrets Manager behind IAM enforcement. */
  readonly handler: SecretsManagerHandler;
  readonly server: SecretsServer;
  /** Environment for functions and `.local/env`: `AWS_ENDPOINT_URL_SECRETS_MANAGER`. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * Starts the local Secrets Manager on `port` (0 = a free one), keeping generated values in `<outDir>/secrets.json`.
 * Add each stack's secrets with `store.addStack` before its functions are read (Ref to a secret = its ARN).
 */
export async function startLocalSecrets(options: { readonly outDir: string; readonly port?: number }): Promise<LocalSecrets> {
  const store = new SecretStore({ file: join(options.outDir, SECRETS_FILE) });
  const handler = createSecretsManagerHandler(store);
  const server = await startSecretsServer(handler, { port: options.port ?? 0 });
  return { store, handler, server, env: { AWS_ENDPOINT_URL_SECRETS_MANAGER: server.endpoint } };
}
