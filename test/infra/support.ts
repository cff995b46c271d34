import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { parseConfig } from '../../lib/config.js';
import { PaymentsStack } from '../../lib/payments-stack.js';

/**
 * Stand-in handlers: with bundling skipped (`aws:cdk:bundling-stacks: []`) NodejsFunction only needs the entry files
 * to exist, so the infra tests do not depend on the handlers' code.
 */
export const FIXTURE_LAMBDAS = new URL('./fixtures/lambdas', import.meta.url).pathname;

/** One fixture entry. */
export const fixtureEntry = (name = 'ledger') => `${FIXTURE_LAMBDAS}/${name}/handler.ts`;

/**
 * An App that skips esbuild (placeholder assets) and CDK's built-in CloudFormation schema validation (a wasm module
 * that costs about a second per synth here), so a synth takes a fraction of a second. The full synth path — bundling,
 * schema validation and cdk-nag — runs in app.test.ts (bin/app.ts as the CLI runs it) and bundling.test.ts.
 */
export function newApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
}

/** A fresh empty stack for construct tests. */
export function newStack(): Stack {
  return new Stack(newApp(), 'TestStack');
}

/** Context every payments stack test starts from. */
export const BASE_CONTEXT = { webhookUrl: 'https://hooks.example.com/payments' };

/** The repository's real handlers (the least-privilege test bundles them to derive what they call). */
export const REAL_LAMBDAS = new URL('../../lambdas', import.meta.url).pathname;

/**
 * A fresh payments stack built from CDK-style string context, and its template.
 * @param lambdasRoot where the handler entries are; bundling is skipped either way
 */
export function paymentsStack(
  context: Record<string, unknown> = {},
  lambdasRoot: string = FIXTURE_LAMBDAS,
): { stack: PaymentsStack; template: Template } {
  const all: Record<string, unknown> = { ...BASE_CONTEXT, ...context };
  const stack = new PaymentsStack(newApp(), 'ExactlyOncePayments-test', {
    config: parseConfig((key) => all[key]),
    lambdasRoot,
  });
  return { stack, template: Template.fromStack(stack) };
}
