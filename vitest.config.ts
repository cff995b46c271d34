import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Slow runs kept out of `npm test` (each is a command of its own, documented in chaos/README.md):
 * issue 11's faults end to end against this checkout and, as the negative control, the ledger before the fixes —
 * two full stacks and eight chaos workloads, about 5 minutes on an idle machine (12 under load). `npm run test:slow` runs them. The same negative
 * controls, deterministic and in seconds, stay in `npm test` (test/chaos/issue-11-controls.test.ts).
 */
const SLOW = ['test/chaos/chaos-issue-11.test.ts'];

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...(process.env.EXACTLY_ONCE_SLOW_TESTS === '1' ? [] : SLOW)],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores and a JVM emulator: a few files at a time keeps DynamoDB Local responsive.
    maxWorkers: 2,
  },
});
