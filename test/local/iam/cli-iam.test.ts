import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../../local/cli-args.js';

const dir = mkdtempSync(join(tmpdir(), 'cli-iam-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm start flags for IAM and the edge endpoint', () => {
  it('parses --port (and its former name --sqs-port), --no-iam and --caller-policy FILE', () => {
    const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sqs:*', Resource: '*' }] };
    const file = join(dir, 'caller.json');
    writeFileSync(file, JSON.stringify(policy));
    expect(parseCliArgs(['--port', '4570', '--no-iam', '--caller-policy', file]).options).toMatchObject({ ports: { edge: 4570 }, iam: false, callerPolicy: policy });
    expect(parseCliArgs(['--sqs-port', '0']).options.ports).toEqual({ sqs: 0 });
  });

  it('rejects a caller policy file that is missing or not a policy, naming the file and the fix', () => {
    expect(() => parseCliArgs(['--caller-policy', join(dir, 'nope.json')])).toThrow(/--caller-policy .*nope\.json: cannot read a JSON policy document/);
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{"Effect":"Allow"}');
    expect(() => parseCliArgs(['--caller-policy', file])).toThrow(/bad\.json: not an IAM policy document \(expected \{"Version": "2012-10-17", "Statement": \[\.\.\.\]\}\)/);
  });
});
