import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores and a JVM emulator: a few files at a time keeps DynamoDB Local responsive.
    maxWorkers: 2,
  },
});
