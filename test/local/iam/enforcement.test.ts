import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient, ListStreamsCommand } from '@aws-sdk/client-dynamodb-streams';
import { ListQueuesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/emulators.js';
import { MappingValidationError } from '../../../local/esm/errors.js';
import type { LocalFunction } from '../../../local/lambda/local-function.js';
import { startLocalRuntime, type LocalRuntime } from '../../../local/runtime.js';
import { usageProblems, type UsageReport } from '../../../local/iam/usage-report.js';

// Negative controls (issue 10): each call AWS would refuse is refused locally with AWS's error, and a control that
// AWS allows (a TLS-only Deny for an SDK call) is allowed. One runtime of test/fixtures/apps/iam for the file.
let runtime: LocalRuntime;
const outDir = `.local/test-iam-${process.pid}`;
const caller = (): LocalFunction => {
  const key = [...runtime.functions.keys()].find((k) => /^Caller[0-9A-F]{8}$/.test(k));
  return runtime.functions.get(key!)!;
};
const call = async (event: Record<string, string>) => (await caller().invoke(event)).payload as { ok: boolean; name?: string; code?: string; message?: string; status?: number };

beforeAll(async () => {
  runtime = await startLocalRuntime({ app: 'npx tsx test/fixtures/apps/iam/app.ts', ports: { api: 0, dynamodb: 0, edge: 0 }, outDir, quiet: true });
});

afterAll(async () => {
  await runtime?.stop();
  rmSync(outDir, { recursive: true, force: true });
});

describe('a function calls AWS as its execution role', () => {
  it('allows what the role grants (PutItem, GetItem, SendMessage)', async () => {
    expect(await call({ call: 'put' })).toMatchObject({ ok: true });
    expect(await call({ call: 'get' })).toMatchObject({ ok: true });
    expect(await call({ call: 'send', queue: 'open' })).toMatchObject({ ok: true });
  });

  it('fails a call the role lacks (BatchGetItem) with AccessDeniedException naming role session, action and table', async () => {
    const result = await call({ call: 'batchGet' });
    expect(result).toMatchObject({ ok: false, name: 'AccessDeniedException', status: 400 });
    expect(result.message).toMatch(
      /^User: arn:aws:sts::000000000000:assumed-role\/IamFixture-CallerServiceRole[^/]+\/IamFixture-Caller[^ ]+ is not authorized to perform: dynamodb:BatchGetItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table\/IamFixture-Items[^ ]+ because no identity-based policy allows the dynamodb:BatchGetItem action$/,
    );
  });

  it('fails a send that the queue policy denies with SQS AccessDenied, explicit deny in a resource-based policy', async () => {
    const result = await call({ call: 'send', queue: 'locked' });
    expect(result).toMatchObject({ ok: false, name: 'AccessDenied', status: 403 });
    expect(result.message).toMatch(/is not authorized to perform: sqs:sendmessage on resource: arn:aws:sqs:us-east-1:000000000000:IamFixture-Locked\S+ with an explicit deny in a resource-based policy$/);
  });

  it('does not apply the TLS-only Deny (aws:SecureTransport is true for SDK calls, as on AWS)', async () => {
    expect(await call({ call: 'send', queue: 'open' })).toMatchObject({ ok: true });
  });

  it('fails a send to a CMK-encrypted queue when the role lacks kms:Decrypt with KMS.AccessDeniedException', async () => {
    const result = await call({ call: 'send', queue: 'sealed' });
    expect(result).toMatchObject({ ok: false, status: 400 });
    expect(result.code ?? result.name).toMatch(/KMS\.AccessDeniedException|KmsAccessDenied/);
    expect(result.message).toMatch(/is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:us-east-1:000000000000:key\/\S+ because no identity-based policy allows the kms:Decrypt action$/);
  });

  it('applies a queue policy Deny to outside callers too (admin identity policy, resource Deny wins)', async () => {
    const client = new SQSClient({ endpoint: runtime.endpoints.edge, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    try {
      const error = await client.send(new SendMessageCommand({ QueueUrl: runtime.outputs.IamFixture!.LockedUrl!, MessageBody: 'x' })).catch((e: Error) => e);
      expect(error).toMatchObject({ name: 'AccessDenied', message: expect.stringMatching(/^User: arn:aws:iam::000000000000:user\/local-caller is not authorized/) });
    } finally {
      client.destroy();
    }
  });
});

describe('the REST API (C6)', () => {
  it('answers an unsigned call to an AWS_IAM method with 403 Missing Authentication Token', async () => {
    const response = await fetch(`${runtime.outputs.IamFixture!.ApiUrl}calls`, { method: 'POST', body: '{"call":"get"}' });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ message: 'Missing Authentication Token' });
  });

  const signedPost = async (credentials: { accessKeyId: string; secretAccessKey: string }) => {
    const url = new URL(`${runtime.outputs.IamFixture!.ApiUrl}calls`);
    const body = '{"call":"get"}';
    const signer = new SignatureV4({ service: 'execute-api', region: LOCAL_REGION, credentials, sha256: Sha256 });
    const signed = await signer.sign({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, headers: { host: url.host, 'content-type': 'application/json' }, body });
    const { host: _host, ...headers } = signed.headers;
    return fetch(url, { method: 'POST', headers, body });
  };

  it('serves a call signed by the admin local caller', async () => {
    const response = await signedPost(LOCAL_CREDENTIALS);
    expect(response.status).toBe(200);
  });

  it('answers a wrong signature with 403 and API Gateway\'s signature message', async () => {
    const response = await signedPost({ accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey: 'wrong' });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { message: string }).message).toMatch(/^The request signature we calculated does not match the signature you provided/);
  });

  it('answers a caller without execute-api:Invoke with 403 naming it, the action and the method ARN', async () => {
    const key = [...runtime.functions.keys()].find((k) => /^Caller[0-9A-F]{8}$/.test(k))!;
    const credentials = runtime.functionCredentials(key)!;
    const response = await signedPost(credentials);
    expect(response.status).toBe(403);
    expect(((await response.json()) as { message: string }).message).toMatch(
      /^User: arn:aws:sts::000000000000:assumed-role\/IamFixture-CallerServiceRole\S+ is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:000000000000:[a-z0-9]+\/test\/POST\/calls$/,
    );
  });
});

describe('one edge endpoint', () => {
  it('serves DynamoDB, DynamoDB Streams and SQS to SDK clients configured only with AWS_ENDPOINT_URL', async () => {
    const saved = { url: process.env.AWS_ENDPOINT_URL, key: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ENDPOINT_URL = runtime.endpoints.edge;
    process.env.AWS_ACCESS_KEY_ID = LOCAL_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = LOCAL_CREDENTIALS.secretAccessKey;
    const clients = [new DynamoDBClient({ region: LOCAL_REGION }), new DynamoDBStreamsClient({ region: LOCAL_REGION }), new SQSClient({ region: LOCAL_REGION })] as const;
    try {
      const tables = await clients[0].send(new ListTablesCommand({}));
      const streams = await clients[1].send(new ListStreamsCommand({}));
      const queues = await clients[2].send(new ListQueuesCommand({}));
      expect(tables.TableNames).toContain(runtime.outputs.IamFixture!.TableName);
      expect(streams.$metadata.httpStatusCode).toBe(200);
      expect(queues.QueueUrls).toContain(runtime.outputs.IamFixture!.OpenUrl);
    } finally {
      clients.forEach((client) => client.destroy());
      for (const [name, value] of [['AWS_ENDPOINT_URL', saved.url], ['AWS_ACCESS_KEY_ID', saved.key], ['AWS_SECRET_ACCESS_KEY', saved.secret]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('writes AWS_ENDPOINT_URL and the per-service variables, all on the edge origin, to the env file', () => {
    const env = readFileSync(runtime.files.env, 'utf8');
    for (const name of ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_DYNAMODB_STREAMS', 'AWS_ENDPOINT_URL_SQS']) {
      expect(env).toContain(`${name}=${runtime.endpoints.edge}\n`);
    }
  });
});

describe('least-privilege report', () => {
  it('lists the denied calls as used-but-not-granted and never-used grants, and writes json + markdown on stop', async () => {
    const report: UsageReport = runtime.iamUsage();
    const role = report.roles.find((r) => r.roleName.startsWith('IamFixture-CallerServiceRole'))!;
    expect(role.used).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'dynamodb:PutItem', granted: true })]));
    expect(usageProblems(report).join('\n')).toMatch(/used dynamodb:BatchGetItem on arn:aws:dynamodb:\S+ \(1 call\(s\)\) but the template does not grant it/);
    expect(role.grantedButUnused.map((g) => g.action)).toEqual(expect.arrayContaining(['sqs:GetQueueAttributes']));
  });

  it('fails `npm run iam-report` on the report written at stop, naming the call the template does not grant', async () => {
    await runtime.stop();
    const failed = await promisify(execFile)('npx', ['tsx', 'scripts/iam-report.ts', join(outDir, 'iam-usage.json')]).catch((e: { code: number; stderr: string }) => e);
    expect(failed).toMatchObject({ code: 1, stderr: expect.stringMatching(/FAIL: .*\n.*used dynamodb:BatchGetItem on arn:aws:dynamodb:/) });
    expect(readFileSync(join(outDir, 'iam-usage.md'), 'utf8')).toMatch(/\| dynamodb:BatchGetItem \| Items[0-9A-F]{8} \| 1 \| \*\*NO\*\* \|/);
  });
});

describe('mapping permissions are checked at start (C5)', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('fails start naming the role and the missing action when a mapping role lacks sqs:ReceiveMessage', async () => {
    // Prepare: a queue-triggered function whose role may delete and read attributes, but not receive.
    const dir = mkdtempSync(join(tmpdir(), 'iam-mapping-'));
    dirs.push(dir);
    mkdirSync(join(dir, 'asset.fn'));
    writeFileSync(join(dir, 'asset.fn', 'index.mjs'), 'export const handler = async () => ({});');
    const template = {
      Resources: {
        Jobs: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 30 } },
        WorkerRole: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: {} } },
        WorkerPolicy: {
          Type: 'AWS::IAM::Policy',
          Properties: {
            PolicyName: 'p',
            Roles: [{ Ref: 'WorkerRole' }],
            PolicyDocument: { Statement: [{ Effect: 'Allow', Action: ['sqs:DeleteMessage', 'sqs:GetQueueAttributes'], Resource: { 'Fn::GetAtt': ['Jobs', 'Arn'] } }] },
          },
        },
        Worker: {
          Type: 'AWS::Lambda::Function',
          Properties: { Code: { S3Key: 'fn.zip' }, Handler: 'index.handler', Runtime: 'nodejs24.x', Timeout: 5, Role: { 'Fn::GetAtt': ['WorkerRole', 'Arn'] } },
          Metadata: { 'aws:asset:path': 'asset.fn' },
        },
        WorkerJobs: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { FunctionName: { Ref: 'Worker' }, EventSourceArn: { 'Fn::GetAtt': ['Jobs', 'Arn'] } } },
      },
    };
    writeFileSync(join(dir, 'Mini.template.json'), JSON.stringify(template));
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({ version: '36.0.0', artifacts: { Mini: { type: 'aws:cloudformation:stack', environment: 'aws://000000000000/us-east-1', properties: { templateFile: 'Mini.template.json' } } } }),
    );
    // Act
    const error = await startLocalRuntime({ assembly: dir, ports: { api: 0, dynamodb: 0, edge: 0 }, quiet: true, outDir: join(dir, 'out') }).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(MappingValidationError);
    expect((error as Error).message).toMatch(
      /WorkerJobs \(C5\): the function's execution role arn:aws:iam::000000000000:role\/Mini-WorkerRole\S* is not allowed sqs:ReceiveMessage on arn:aws:sqs:us-east-1:000000000000:\S+ to read its event source/,
    );
    expect((error as Error).message).not.toMatch(/sqs:DeleteMessage on/);
  });
});
