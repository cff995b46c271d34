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
  const steps: [string, string][] = [
    ['npx tsc --noEmit', 'typecheck'],
    [`npx vitest run test/lambdas/${name}`, `its tests (DynamoDB Local${spec.effect === 'external' ? ' + a local HTTP server' : ''})`],
    ['npm run synth -- -c webhookUrl=https://hooks.example.com/payments', 'the stack with it (the queue windows are validated here)'],
    [
      spec.effect === 'external' ? `npm start -- -c ${generated.names.camel}Url=http://127.0.0.1:4600/` : 'npm start',
      `run it locally${spec.effect === 'external' ? ' against your endpoint (any server answering 2xx)' : ''}; send messages to output ${Pascal}QueueUrl (.local/outputs.json)`,
    ],
    ...(spec.outbox ? [['', `its ${Pascal}Recorded events arrive in output ${Pascal}EventsQueueUrl`] as [string, string]] : []),
    [`npm run redrive -- ${Pascal}DlqUrl`, 'move its dead letters back, skipping the ones already applied'],
  ];
  const width = Math.max(...steps.map(([command]) => command.length)) + 2;
  console.log(`\nNext (README.md, "Add your own consumer", shows how to send a message and read its effect back):`);
  for (const [command, what] of steps) console.log(`  ${command.padEnd(width)}${what}`);
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
