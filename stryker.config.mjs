// Mutation testing of the exactly-once core (issue 11 #8): `npm run mutation`, or one file at a time with
// `npm run mutation -- --mutate lambdas/relay/relay.ts`. Results and the surviving mutants: docs/mutation.md.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'test/mutation/vitest.mutation.config.ts' },
  mutate: [
    'lambdas/shared/atomic-idempotency/AtomicIdempotency.ts',
    'lambdas/shared/fifo-batch.ts',
    'lambdas/ledger/consumer.ts',
    'lambdas/ledger/strategies/atomic.ts',
    'lambdas/relay/relay.ts',
    'lambdas/relay/publish.ts',
  ],
  // Only the tests that cover a mutant run for it; the emulators start once per test-runner process.
  coverageAnalysis: 'perTest',
  // Two shared cores and a JVM emulator: one runner, generous timeouts.
  concurrency: 1,
  timeoutMS: 60_000,
  timeoutFactor: 3,
  dryRunTimeoutMinutes: 20,
  checkers: [],
  ignorePatterns: ['.local', '.chaos', '.bench', 'cdk.out', 'coverage'],
  reporters: ['clear-text', 'progress-append-only', 'json'],
  jsonReporter: { fileName: '.local/mutation/mutation.json' },
  // Re-runs only the mutants whose code or covering tests changed since the last run (`--incremental`).
  incrementalFile: '.local/mutation/incremental.json',
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: '.local/stryker-tmp',
  cleanTempDir: true,
};
