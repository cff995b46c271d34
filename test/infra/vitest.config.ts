import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The infrastructure tests need no emulator: `npx vitest run --config test/infra/vitest.config.ts` runs them without
 * starting DynamoDB Local and fauxqs (the root config's global setup).
 */
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/infra/**/*.test.ts'],
    testTimeout: 120_000,
    maxWorkers: 2,
  },
});
