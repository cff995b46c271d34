/**
 * `npm run new -- consumer <name> --queue fifo|standard --effect dynamodb|external [--outbox]`: generates an
 * exactly-once consumer (handler, domain, tests, CDK wiring) and registers it in lib/consumers/index.ts.
 */
import { resolve } from 'node:path';
import { NEW_USAGE, parseNewArgs } from './scaffold/args.js';
import { ScaffoldError } from './scaffold/errors.js';
import { generateConsumer } from './scaffold/generate.js';

function main(argv: readonly string[]): number {
  const { spec, root } = parseNewArgs(argv);
  const generated = generateConsumer({ root: resolve(root ?? process.cwd()), spec });
  const { name, Pascal } = generated.names;
  console.log(`Created consumer "${name}" (${spec.queue} queue, ${spec.effect} effect${spec.outbox ? ', outbox' : ''}):`);
  for (const file of generated.files) console.log(`  + ${file}`);
  for (const registry of generated.registries) console.log(`  ~ ${registry} (registered)`);
  console.log(`
Next:
  npx tsc --noEmit                        typecheck
  npx vitest run test/lambdas/${name}      its tests (DynamoDB Local${spec.effect === 'external' ? ' + a local HTTP server' : ''})
  npm start                                run it locally; send messages to output ${Pascal}QueueUrl (.local/outputs.json)${
    spec.outbox ? `\n                                           its ${Pascal}Recorded events arrive in output ${Pascal}EventsQueueUrl` : ''
  }
  npm run redrive -- ${Pascal}DlqUrl       move its dead letters back, skipping the ones already applied`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  if (error instanceof ScaffoldError && error.message === NEW_USAGE) {
    console.log(NEW_USAGE); // --help
  } else if (error instanceof ScaffoldError) {
    console.error(error.message);
    process.exitCode = 2;
  } else {
    throw error;
  }
}
