import { defineConfig } from 'vitest/config';

/**
 * The test files Stryker runs (`npm run mutation`): those that reach the mutated core modules, against the same
 * emulators as `npm test` (one DynamoDB Local + one fauxqs per test-runner process, ./global-setup.ts).
 */
export default defineConfig({
  test: {
    globalSetup: ['test/mutation/global-setup.ts'],
    include: [
      'test/lambdas/shared/atomic-idempotency.test.ts',
      'test/lambdas/ledger/ledger.test.ts',
      'test/lambdas/ledger/ledger-domain.test.ts',
      'test/lambdas/ledger/ledger-cost.test.ts',
      'test/lambdas/ledger/strategy-outcomes.test.ts',
      'test/lambdas/relay/relay.test.ts',
      'test/lambdas/**/*.behaviour.test.ts',
      'test/mutation/**/*.test.ts',
    ],
    testTimeout: 120_000,
    hookTimeout: 240_000,
  },
});
