import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCAL_ACCOUNT_ID, LOCAL_PARTITION } from '../../local/constants.js';
import { generateSecretString, SECRETS_FILE, startLocalSecrets } from '../../local/secrets/index.js';
import { TemplateResolver } from '../../local/template/resolver.js';

/** The local Secrets Manager, through the AWS SDK as a function would call it. */
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const identity = { region: 'us-east-1', accountId: LOCAL_ACCOUNT_ID, partition: LOCAL_PARTITION };
const template = {
  Resources: {
    Signing: { Type: 'AWS::SecretsManager::Secret', Properties: { Description: 'signing', GenerateSecretString: { PasswordLength: 32, ExcludePunctuation: true } } },
    Literal: { Type: 'AWS::SecretsManager::Secret', Properties: { Name: 'app/literal', SecretString: 'hello' } },
    Fn: { Type: 'AWS::Lambda::Function', Properties: { Environment: { Variables: { SECRET: { Ref: 'Signing' } } } } },
  },
};

async function start(outDir: string) {
  const secrets = await startLocalSecrets({ outDir });
  const resolver = new TemplateResolver(template, { ...identity, stackName: 'SecretsStack', sqsEndpoint: 'http://127.0.0.1:1' });
  secrets.store.addStack('SecretsStack', resolver, identity);
  const client = new SecretsManagerClient({ region: 'us-east-1', endpoint: secrets.server.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  return { secrets, resolver, client };
}

describe('local Secrets Manager (local/secrets)', () => {
  it('serves GetSecretValue and DescribeSecret for the template secrets; Ref to a secret is its ARN', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-'));
    dirs.push(dir);
    const { secrets, resolver, client } = await start(dir);
    try {
      const arn = resolver.resolve({ Ref: 'Signing' }, 'test') as string;
      expect(arn).toMatch(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:Signing-[0-9a-f]{12}-[0-9a-f]{6}$/);
      const value = await client.send(new GetSecretValueCommand({ SecretId: arn }));
      expect(value.SecretString).toMatch(/^[A-Za-z0-9]{32}$/);
      expect(value.VersionStages).toEqual(['AWSCURRENT']);
      expect((await client.send(new GetSecretValueCommand({ SecretId: 'app/literal' }))).SecretString).toBe('hello');
      const described = await client.send(new DescribeSecretCommand({ SecretId: arn }));
      expect(described).toMatchObject({ ARN: arn, Description: 'signing', RotationEnabled: false });
    } finally {
      await secrets.server.close();
    }
  });

  it('keeps a generated value across restarts (in secrets.json, owner-readable only)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-'));
    dirs.push(dir);
    const first = await start(dir);
    const arn = first.resolver.resolve({ Ref: 'Signing' }, 'test') as string;
    const before = (await first.client.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString;
    await first.secrets.server.close();
    const second = await start(dir);
    try {
      expect((await second.client.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString).toBe(before);
      expect(statSync(join(dir, SECRETS_FILE)).mode & 0o077).toBe(0);
      expect(readFileSync(join(dir, SECRETS_FILE), 'utf8')).toContain(before!);
    } finally {
      await second.secrets.server.close();
    }
  });

  it('moves AWSCURRENT to a new version on PutSecretValue and keeps the old one as AWSPREVIOUS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-'));
    dirs.push(dir);
    const { secrets, client } = await start(dir);
    try {
      await client.send(new PutSecretValueCommand({ SecretId: 'app/literal', SecretString: 'rotated' }));
      expect((await client.send(new GetSecretValueCommand({ SecretId: 'app/literal' }))).SecretString).toBe('rotated');
      const previous = await client.send(new GetSecretValueCommand({ SecretId: 'app/literal', VersionStage: 'AWSPREVIOUS' }));
      expect(previous.SecretString).toBe('hello');
    } finally {
      await secrets.server.close();
    }
  });

  it('answers an unknown secret with ResourceNotFoundException, as Secrets Manager does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-'));
    dirs.push(dir);
    const { secrets, client } = await start(dir);
    try {
      await expect(client.send(new GetSecretValueCommand({ SecretId: 'nope' }))).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
        message: "Secrets Manager can't find the specified secret.",
      });
    } finally {
      await secrets.server.close();
    }
  });

  it('generates values like GetRandomPassword: length, excluded sets, one of each included type, JSON templates', () => {
    const value = generateSecretString({ PasswordLength: 40, ExcludePunctuation: true, ExcludeCharacters: 'abc' });
    expect(value).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(value).not.toMatch(/[abc]/);
    expect(value).toMatch(/[A-Z]/);
    expect(value).toMatch(/[0-9]/);
    expect(JSON.parse(generateSecretString({ SecretStringTemplate: '{"user":"app"}', GenerateStringKey: 'password' }))).toMatchObject({ user: 'app', password: expect.any(String) });
    expect(() => generateSecretString({ ExcludeLowercase: true, ExcludeUppercase: true, ExcludeNumbers: true, ExcludePunctuation: true })).toThrow(/excludes every character/);
  });
});
