import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/emulators.js';
import { startLocalRuntime, type LocalRuntime } from '../../../local/runtime.js';

// Issue 13: the runtime serves the template's secrets (a generated value included) on the edge endpoint under the
// same IAM enforcement as every other service. Principals are the functions' own execution roles (their credentials);
// SDK clients find the edge through AWS_ENDPOINT_URL only, as a function's SDK does.
const dir = mkdtempSync(join(tmpdir(), 'iam-secrets-'));
const outDir = join(dir, 'out');
let runtime: LocalRuntime | undefined;

/** A stack with a generated secret, a reader granted GetSecretValue on it and an outsider granted only DescribeSecret. */
function writeAssembly(): void {
  mkdirSync(join(dir, 'asset.fn'));
  writeFileSync(join(dir, 'asset.fn', 'index.mjs'), 'export const handler = async () => ({});');
  const role = (actions: string[]) => ({
    Type: 'AWS::IAM::Role',
    Properties: { AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] } },
    actions,
  });
  const fn = (roleId: string) => ({
    Type: 'AWS::Lambda::Function',
    Properties: { Code: { S3Key: 'fn.zip' }, Handler: 'index.handler', Runtime: 'nodejs24.x', Timeout: 5, Role: { 'Fn::GetAtt': [roleId, 'Arn'] } },
    Metadata: { 'aws:asset:path': 'asset.fn' },
  });
  const resources: Record<string, unknown> = {
    Signing: { Type: 'AWS::SecretsManager::Secret', Properties: { GenerateSecretString: { PasswordLength: 40, ExcludePunctuation: true } } },
    Reader: fn('ReaderRole'),
    Outsider: fn('OutsiderRole'),
  };
  for (const [id, { actions, ...definition }] of Object.entries({ ReaderRole: role(['secretsmanager:GetSecretValue']), OutsiderRole: role(['secretsmanager:DescribeSecret']) })) {
    resources[id] = definition;
    resources[`${id}Policy`] = {
      Type: 'AWS::IAM::Policy',
      Properties: { PolicyName: `${id}Policy`, Roles: [{ Ref: id }], PolicyDocument: { Statement: [{ Effect: 'Allow', Action: actions, Resource: { Ref: 'Signing' } }] } },
    };
  }
  writeFileSync(join(dir, 'Vault.template.json'), JSON.stringify({ Resources: resources }));
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({ version: '36.0.0', artifacts: { Vault: { type: 'aws:cloudformation:stack', environment: 'aws://000000000000/us-east-1', properties: { templateFile: 'Vault.template.json' } } } }),
  );
}

const start = () => startLocalRuntime({ assembly: dir, ports: { api: 0, dynamodb: 0, edge: 0 }, outDir, quiet: true });

/** The secret's ARN: what `Ref` to it resolves to (the store is filled from the template). */
const secretArn = () => runtime!.secrets.list().find((s) => s.logicalId === 'Signing')!.arn;

/** GetSecretValue with `credentials`, the endpoint taken from AWS_ENDPOINT_URL (the edge) as a function's SDK does. */
async function getSecretValue(credentials: { accessKeyId: string; secretAccessKey: string }, secretId: string) {
  const saved = process.env.AWS_ENDPOINT_URL;
  process.env.AWS_ENDPOINT_URL = runtime!.endpoints.edge;
  const client = new SecretsManagerClient({ region: LOCAL_REGION, credentials, maxAttempts: 1 });
  try {
    return await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  } finally {
    client.destroy();
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
    else process.env.AWS_ENDPOINT_URL = saved;
  }
}

const credentialsOf = (logicalId: string) => {
  const credentials = runtime!.functionCredentials(logicalId);
  if (!credentials) throw new Error(`no credentials for ${logicalId}: is it a function of the fixture?`);
  return credentials;
};

beforeAll(async () => {
  writeAssembly();
  runtime = await start();
});

afterAll(async () => {
  await runtime?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Secrets Manager on the edge endpoint, IAM enforced', () => {
  it('serves the generated value to a role granted secretsmanager:GetSecretValue, the same value after a restart', async () => {
    // Act
    const first = await getSecretValue(credentialsOf('Reader'), secretArn());
    // Assess
    expect(runtime!.iam.enforced).toBe(true);
    expect(first).toMatchObject({ ARN: secretArn(), VersionStages: ['AWSCURRENT'], SecretString: expect.stringMatching(/^[A-Za-z0-9]{40}$/) });
    // Act: a new runtime on the same outDir (secrets.json keeps the generated value)
    await runtime!.stop();
    runtime = await start();
    const second = await getSecretValue(credentialsOf('Reader'), secretArn());
    // Assess
    expect(second.SecretString).toBe(first.SecretString);
    expect(second.ARN).toBe(first.ARN);
  });

  it('refuses a role without the grant with AccessDeniedException naming the role session, the action and the secret ARN', async () => {
    const error = await getSecretValue(credentialsOf('Outsider'), secretArn()).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } });
    const arn = secretArn().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect((error as Error).message).toMatch(
      new RegExp(
        `^User: arn:aws:sts::000000000000:assumed-role/Vault-OutsiderRole\\S*/\\S+ is not authorized to perform: secretsmanager:GetSecretValue on resource: ${arn} because no identity-based policy allows the secretsmanager:GetSecretValue action$`,
      ),
    );
  });

  it('answers an unknown secret id with ResourceNotFoundException for a caller allowed to read it', async () => {
    const error = await getSecretValue(LOCAL_CREDENTIALS, 'no-such-secret').catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
  });

  it('refuses a wrong signature before reading the secret (same gate as every service)', async () => {
    const error = await getSecretValue({ accessKeyId: credentialsOf('Reader').accessKeyId, secretAccessKey: 'wrong' }, secretArn()).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'InvalidSignatureException' });
  });
});
