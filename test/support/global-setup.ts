import type { ChildProcess } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { startEmulators } from '../../local/emulators.js';

/**
 * Starts one DynamoDB Local and one fauxqs for the whole test run, and hands their endpoints to the tests
 * (`inject('ddbEndpoint')`). Each test creates its own uniquely named tables and queues.
 */
export default async function setup(project: TestProject) {
  // Eight engineers share two cores: the JVM can take well over 30 s to answer.
  const emulators = await startEmulators({ dynamodbPort: 0, sqsPort: 0, startTimeoutMs: 180_000 });
  project.provide('ddbEndpoint', emulators.dynamodbEndpoint);
  project.provide('sqsEndpoint', emulators.sqsEndpoint);
  return async () => {
    await emulators.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    ddbEndpoint: string;
    sqsEndpoint: string;
  }
}
export type { ChildProcess };
