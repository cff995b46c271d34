import type { TestProject } from 'vitest/node';
import { startEmulators } from '../../local/emulators.js';

/**
 * test/support/global-setup.ts with a longer start budget: Stryker starts one DynamoDB Local per test-runner process,
 * often while the machine is busy, and a JVM that takes more than 30 s to answer must not fail the whole run.
 */
export default async function setup(project: TestProject) {
  const emulators = await startEmulators({ dynamodbPort: 0, sqsPort: 0, startTimeoutMs: 180_000 });
  project.provide('ddbEndpoint', emulators.dynamodbEndpoint);
  project.provide('sqsEndpoint', emulators.sqsEndpoint);
  return async () => {
    await emulators.stop();
  };
}
