export * from './errors.js';
export * from './secret-store.js';
export * from './secrets-api.js';
export * from './secrets-server.js';
export * from './local-secrets.js';
