import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseConfig } from '../lib/config.js';
import { PaymentsStack } from '../lib/payments-stack.js';

// Builds the app from typed context; cdk-nag's AwsSolutions pack runs on every synth and fails it on any finding
// that is not acknowledged (with its reason) in the stack.
const app = new App();
const config = parseConfig((key) => app.node.tryGetContext(key));
new PaymentsStack(app, `ExactlyOncePayments-${config.stage}`, {
  config,
  description: `Exactly-once payments pipeline (${config.stage}, ledger strategy ${config.ledgerStrategy})`,
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
