import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  ConsumerExistsError,
  consumerNames,
  generateConsumer,
  InvalidConsumerNameError,
  parseNewArgs,
  renderTemplate,
  ScaffoldError,
  ScaffoldUsageError,
  type GeneratedConsumer,
} from '../../scripts/scaffold/index.js';
import {
  copyProject,
  generateAll,
  PROJECT_ROOT,
  runBin,
  VARIANTS,
  writeOuterEmulatorsConfig,
  writeScaffoldTsconfig,
  type ProjectCopy,
} from './project-copy.js';

describe('npm run new -- consumer (each variant into a temporary copy of the project)', () => {
  let copy: ProjectCopy;
  let generated: GeneratedConsumer[];
  let cli: Awaited<ReturnType<typeof runBin>>;

  beforeAll(async () => {
    copy = copyProject();
    // All but the last variant through the module, the last through the real CLI (`npm run new` runs `tsx scripts/new-consumer.ts`).
    generated = generateAll(copy.root, VARIANTS.slice(0, -1));
    const last = VARIANTS.at(-1)!;
    cli = await runBin(copy.root, 'tsx', [
      'scripts/new-consumer.ts', 'consumer', last.name, '--queue', last.queue, '--effect', last.effect,
    ]);
    generated.push({
      names: consumerNames(last.name),
      files: [`lambdas/${last.name}/handler.ts`, `lambdas/${last.name}/${last.name}.ts`, `lambdas/${last.name}/errors.ts`,
        `lib/consumers/${last.name}.ts`, `test/lambdas/${last.name}/${last.name}.test.ts`],
      registry: 'lib/consumers/index.ts',
      registries: ['lib/consumers/index.ts'],
      outputs: [],
    });
  });

  afterAll(() => copy?.remove());

  it('writes handler, domain, errors, tests and wiring for every variant and registers each once', () => {
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('+ lambdas/std-ddb/handler.ts');
    const registry = readFileSync(join(copy.root, 'lib/consumers/index.ts'), 'utf8');
    for (const g of generated) {
      for (const file of g.files) expect(existsSync(join(copy.root, file)), file).toBe(true);
      expect(registry.match(new RegExp(`add${g.names.Pascal}Consumer }`, 'g'))).toHaveLength(2); // import + entry
    }
  });

  it('writes working code, not stubs: no TODO, no placeholders left, the right core per effect', () => {
    for (const g of generated) {
      for (const file of g.files) {
        const text = readFileSync(join(copy.root, file), 'utf8');
        expect(text, file).not.toMatch(/TODO|FIXME|\{\{\w+\}\}|\/\/#(if|else|endif)/);
      }
    }
    const read = (file: string) => readFileSync(join(copy.root, file), 'utf8');
    expect(read('lambdas/fifo-ddb/fifo-ddb.ts')).toContain('commitOnce');
    expect(read('lambdas/fifo-ddb/fifo-ddb.ts')).not.toContain('OUTBOX');
    expect(read('lambdas/fifo-ddb-outbox/fifo-ddb-outbox.ts')).toContain('outboxPut(');
    expect(read('lambdas/fifo-ddb-outbox/events.ts')).toContain("owner: 'fifo-ddb-outbox'");
    expect(read('lambdas/relay/event-schemas.ts')).toMatch(/import \{ FIFO_DDB_OUTBOX_OUTBOX_EVENTS \} from '..\/fifo-ddb-outbox\/events.js';[\s\S]*  FIFO_DDB_OUTBOX_OUTBOX_EVENTS,\n/);
    expect(read('lambdas/std-external/handler.ts')).toMatch(/makeIdempotent[\s\S]*BatchProcessor\(EventType\.SQS\)/);
    expect(read('lambdas/std-external/std-external.ts')).toContain("'idempotency-key': message.idempotencyKey");
    expect(read('lib/consumers/fifo-ddb.ts')).toContain('fifo: true');
    expect(read('lib/consumers/std-ddb.ts')).not.toContain('fifo: true');
    expect(read('lambdas/fifo-external/handler.ts')).toMatch(/new SqsFifoPartialProcessorAsync\(\)[\s\S]*skipGroupOnError: true/);
  });

  it('typechecks under the project\'s strict tsconfig', async () => {
    // Prepare
    const tsconfig = writeScaffoldTsconfig(copy.root, generated);

    // Act
    const result = await runBin(copy.root, 'tsc', ['--noEmit', '-p', tsconfig]);

    // Assess
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('passes its generated tests against the emulators (duplicate delivery → one effect)', async () => {
    // Prepare
    const config = writeOuterEmulatorsConfig(copy.root);
    const testFiles = generated.map((g) => `test/lambdas/${g.names.name}/`);

    // Act
    const result = await runBin(copy.root, 'vitest', ['run', '-c', config, ...testFiles], {
      SCAFFOLD_DDB_ENDPOINT: inject('ddbEndpoint'),
      SCAFFOLD_SQS_ENDPOINT: inject('sqsEndpoint'),
    });

    // Assess: every generated file ran and passed
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`Test Files\\s+${VARIANTS.length} passed \\(${VARIANTS.length}\\)`));
    // DynamoDB variants: 3 tests (+1 FIFO group test on FIFO); external variants: 3 → 4 + 4 + 3 + 3 + 3.
    expect(result.stdout).toMatch(/Tests\s+17 passed \(17\)/);
  });
});

describe('npm run new refusals', () => {
  let root: string;
  beforeAll(() => {
    // A minimal project: the registry is all the generator needs to find.
    root = mkdtempSync(join(tmpdir(), 'scaffold-refuse-'));
    mkdirSync(join(root, 'lib/consumers'), { recursive: true });
    writeFileSync(join(root, 'lib/consumers/index.ts'), readFileSync(join(PROJECT_ROOT, 'lib/consumers/index.ts'), 'utf8'));
  });

  it('rejects a name that already exists and writes nothing', () => {
    // Prepare: a name no guide suggests, so a consumer the checkout already has (README: loyalty-points) cannot collide
    mkdirSync(join(root, 'lambdas/taken-probe'), { recursive: true });
    const before = readFileSync(join(root, 'lib/consumers/index.ts'), 'utf8');

    // Act + Assess
    const attempt = () => generateConsumer({ root, spec: { name: 'taken-probe', queue: 'fifo', effect: 'dynamodb', outbox: false } });
    expect(attempt).toThrow(ConsumerExistsError);
    expect(attempt).toThrow(/"taken-probe" already exists \(lambdas\/taken-probe\)/);
    expect(readFileSync(join(root, 'lib/consumers/index.ts'), 'utf8')).toBe(before);
    expect(existsSync(join(root, 'lib/consumers/taken-probe.ts'))).toBe(false);
  });

  it('rejects generating the same consumer twice (its wiring exists)', () => {
    // Prepare
    generateConsumer({ root, spec: { name: 'audit-trail', queue: 'standard', effect: 'dynamodb', outbox: false } });

    // Act + Assess
    expect(() =>
      generateConsumer({ root, spec: { name: 'audit-trail', queue: 'fifo', effect: 'external', outbox: false } }),
    ).toThrow(/already exists \(lambdas\/audit-trail, lib\/consumers\/audit-trail\.ts, test\/lambdas\/audit-trail/);
  });

  it.each([
    ['a', /2 to 40/],
    ['x'.repeat(41), /2 to 40/],
    ['LoyaltyPoints', /kebab-case/],
    ['loyalty_points', /kebab-case/],
    ['loyalty--points', /kebab-case/],
    ['-loyalty', /kebab-case/],
    ['9lives', /kebab-case/],
    ['ledger', /reserved/],
    ['notifier', /reserved/],
    ['create-payment', /reserved/],
    ['shared', /reserved/],
  ])('rejects the invalid name %s', (name, reason) => {
    const attempt = () => generateConsumer({ root, spec: { name, queue: 'fifo', effect: 'dynamodb', outbox: false } });
    expect(attempt).toThrow(InvalidConsumerNameError);
    expect(attempt).toThrow(reason);
  });

  it('rejects --outbox with an external effect, and missing or unknown options', () => {
    expect(() => parseNewArgs(['consumer', 'x1', '--queue', 'fifo', '--effect', 'external', '--outbox'])).toThrow(
      /--outbox needs --effect dynamodb/,
    );
    expect(() => parseNewArgs(['consumer', 'x1', '--effect', 'dynamodb'])).toThrow(/--queue must be fifo or standard/);
    expect(() => parseNewArgs(['consumer', 'x1', '--queue', 'fifo', '--effect', 'lambda'])).toThrow(ScaffoldUsageError);
    expect(() => parseNewArgs(['producer', 'x1'])).toThrow(/Expected "consumer"/);
    expect(() => parseNewArgs(['consumer', 'x1', '--queue', 'fifo', '--effect', 'dynamodb', '--colour', 'red'])).toThrow(
      /Unknown option --colour/,
    );
  });

  it('rejects a name through the CLI with a clear message and exit code 2', async () => {
    const result = await runBin(root, 'tsx', [
      join(PROJECT_ROOT, 'scripts/new-consumer.ts'), 'consumer', 'relay', '--queue', 'fifo', '--effect', 'dynamodb',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Invalid consumer name "relay": it is reserved/);
  });

  it('throws on a template typo instead of shipping it', () => {
    expect(() => renderTemplate('a {{nope}}', {}, {})).toThrow(/unknown placeholder \{\{nope\}\}/);
    expect(() => renderTemplate('//#if missing\nx\n//#endif', {}, {})).toThrow(ScaffoldError);
    expect(() => renderTemplate('//#if a\nx', { a: true }, {})).toThrow(/without \/\/#endif/);
    expect(renderTemplate('//#if a\nyes\n//#else\nno\n//#endif\n{{v}}', { a: false }, { v: 'V' })).toBe('no\nV');
  });
});
