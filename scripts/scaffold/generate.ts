import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandFor, type ConsumerSpec } from './args.js';
import { ConsumerExistsError, ScaffoldError } from './errors.js';
import { consumerNames, type ConsumerNames } from './names.js';
import { renderTemplate } from './render.js';

const TEMPLATES = fileURLToPath(new URL('./templates/', import.meta.url));

/** Registry of generated consumers. */
export const REGISTRY_FILE = 'lib/consumers/index.ts';
/** Line of the registry above which the scaffold inserts a consumer's import. */
export const IMPORT_MARKER = '// scaffold:imports';
/** Line of the registry above which the scaffold inserts a consumer's entry. */
export const ENTRY_MARKER = '// scaffold:consumers';
/** The relay's registry of outbox event schemas (a consumer with `--outbox` registers its event type there). */
export const EVENT_REGISTRY_FILE = 'lambdas/relay/event-schemas.ts';
/** Line of the event registry above which the scaffold inserts a consumer's import. */
export const EVENT_IMPORT_MARKER = '// scaffold:event-imports';
/** Line of the event registry above which the scaffold inserts a consumer's registration. */
export const EVENT_ENTRY_MARKER = '// scaffold:event-schemas';

/** Options of {@link generateConsumer}. */
export interface GenerateOptions {
  /** Project root (the folder holding lambdas/, lib/, test/). */
  readonly root: string;
  readonly spec: ConsumerSpec;
}

/** What {@link generateConsumer} wrote. */
export interface GeneratedConsumer {
  readonly names: ConsumerNames;
  /** Files created, relative to the root. */
  readonly files: readonly string[];
  /** The registry file that was updated, relative to the root. */
  readonly registry: string;
  /** Every registry file updated (the consumers' and, with `--outbox`, the relay's event schemas). */
  readonly registries: readonly string[];
  /** The stack outputs the consumer adds. */
  readonly outputs: readonly string[];
}

/**
 * Generates an exactly-once consumer into `root`: handler, domain and errors in lambdas/<name>/, its tests in
 * test/lambdas/<name>/, its wiring in lib/consumers/<name>.ts, and its entry in lib/consumers/index.ts.
 * Nothing is written when a check fails.
 * @throws InvalidConsumerNameError for a name that is not kebab-case, not 2–40 characters, or reserved.
 * @throws ConsumerExistsError when lambdas/<name>, lib/consumers/<name>.ts or test/lambdas/<name> exists.
 * @throws ScaffoldError when lib/consumers/index.ts lacks the scaffold markers.
 */
export function generateConsumer(options: GenerateOptions): GeneratedConsumer {
  const { root, spec } = options;
  const names = consumerNames(spec.name);
  const paths = {
    handler: `lambdas/${names.name}/handler.ts`,
    domain: `lambdas/${names.name}/${names.name}.ts`,
    errors: `lambdas/${names.name}/errors.ts`,
    construct: `lib/consumers/${names.name}.ts`,
    test: `test/lambdas/${names.name}/${names.name}.test.ts`,
    events: `lambdas/${names.name}/events.ts`,
  };
  const existing = [`lambdas/${names.name}`, paths.construct, `test/lambdas/${names.name}`].filter((p) =>
    existsSync(join(root, p)),
  );
  const registryPath = join(root, REGISTRY_FILE);
  if (!existsSync(registryPath)) {
    throw new ScaffoldError(`${REGISTRY_FILE} not found under ${root}: run the command from the project root (or pass --root)`);
  }
  const registry = readFileSync(registryPath, 'utf8');
  const importLine = `import { add${names.Pascal}Consumer } from './${names.name}.js';`;
  if (registry.includes(importLine)) existing.push(`its entry in ${REGISTRY_FILE}`);
  if (existing.length > 0) throw new ConsumerExistsError(names.name, existing);
  if (!registry.includes(IMPORT_MARKER) || !registry.includes(ENTRY_MARKER)) {
    throw new ScaffoldError(
      `${REGISTRY_FILE} lacks the lines "${IMPORT_MARKER}" and "${ENTRY_MARKER}" the scaffold inserts above; restore them`,
    );
  }

  const eventRegistryPath = join(root, EVENT_REGISTRY_FILE);
  let eventRegistry: string | undefined;
  if (spec.outbox) {
    eventRegistry = existsSync(eventRegistryPath) ? readFileSync(eventRegistryPath, 'utf8') : undefined;
    if (eventRegistry === undefined || !eventRegistry.includes(EVENT_IMPORT_MARKER) || !eventRegistry.includes(EVENT_ENTRY_MARKER)) {
      throw new ScaffoldError(
        `${EVENT_REGISTRY_FILE} ${eventRegistry === undefined ? 'not found' : `lacks the lines "${EVENT_IMPORT_MARKER}" and "${EVENT_ENTRY_MARKER}"`}: ` +
          'an --outbox consumer registers its event schema there; restore the file from the repository',
      );
    }
  }

  const fifo = spec.queue === 'fifo';
  const external = spec.effect === 'external';
  const flags = { fifo, external, outbox: spec.outbox };
  const vars: Record<string, string> = {
    ...names,
    command: commandFor(spec),
    queueLabel: fifo ? 'FIFO' : 'standard',
    effectLabel: external
      ? 'an external effect made idempotent per record by Powertools'
      : `an exactly-once DynamoDB effect (dedup marker + business item${spec.outbox ? ' + outbox event' : ''} in one transaction)`,
    description: external
      ? `${names.name}: calls the downstream once per idempotency key (Powertools idempotency)`
      : `${names.name}: applies each message once (dedup marker + effect in one transaction)`,
    poisonGroup: fifo ? "'poison-group'" : 'undefined',
  };
  const render = (template: string) =>
    renderTemplate(readFileSync(join(TEMPLATES, template), 'utf8'), flags, vars, template);
  const files: Record<string, string> = {
    [paths.handler]: render(external ? 'handler-external.ts.tpl' : 'handler-dynamodb.ts.tpl'),
    [paths.domain]: render(external ? 'domain-external.ts.tpl' : 'domain-dynamodb.ts.tpl'),
    [paths.errors]: render('errors.ts.tpl'),
    [paths.construct]: render('construct.ts.tpl'),
    [paths.test]: render(external ? 'test-external.ts.tpl' : 'test-dynamodb.ts.tpl'),
    ...(spec.outbox ? { [paths.events]: render('events.ts.tpl') } : {}),
  };

  for (const [path, content] of Object.entries(files)) {
    const absolute = join(root, path);
    mkdirSync(dirname(absolute), { recursive: true });
    writeFileSync(absolute, content, { flag: 'wx' });
  }
  const entryLine = `  { name: '${names.name}', add: add${names.Pascal}Consumer },`;
  const updated = registry
    .replace(IMPORT_MARKER, `${importLine}\n${IMPORT_MARKER}`)
    .replace(new RegExp(`^(\\s*)${escapeRegExp(ENTRY_MARKER)}`, 'm'), `${entryLine}\n$1${ENTRY_MARKER}`);
  writeFileSync(registryPath, updated);
  if (eventRegistry !== undefined) {
    const eventImport = `import { ${names.CONST}_OUTBOX_EVENTS } from '../${names.name}/events.js';`;
    writeFileSync(
      eventRegistryPath,
      eventRegistry
        .replace(EVENT_IMPORT_MARKER, `${eventImport}\n${EVENT_IMPORT_MARKER}`)
        .replace(new RegExp(`^(\\s*)${escapeRegExp(EVENT_ENTRY_MARKER)}`, 'm'), `  ${names.CONST}_OUTBOX_EVENTS,\n$1${EVENT_ENTRY_MARKER}`),
    );
  }

  return {
    names,
    files: Object.keys(files).map((p) => relative(root, join(root, p))),
    registry: REGISTRY_FILE,
    registries: eventRegistry !== undefined ? [REGISTRY_FILE, EVENT_REGISTRY_FILE] : [REGISTRY_FILE],
    outputs: [`${names.Pascal}QueueUrl`, `${names.Pascal}DlqUrl`],
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
