/**
 * `npx tsx scripts/bench/iam-gateway.ts [--calls N] [--no-ready]`: what IAM enforcement costs the local stack
 * (issue 10: target < 1 ms median per authorized call, start-to-ready < 10 s).
 *
 * 1. Per call: the same GetItem and SendMessage, one at a time, (a) straight to DynamoDB Local / fauxqs, (b) through
 *    the gateway with IAM off, (c) through the gateway with IAM enforced, as a function principal with a CDK-style
 *    policy (SigV4 verified, C1 mapping, identity + resource policy evaluation). Prints median and p99 of each and
 *    the enforcement overhead (c − b) and gateway overhead (b − a).
 * 2. Start-to-ready of the basic fixture app with IAM on and with `--no-iam` (synthesized once, then reused).
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators } from '../../local/emulators.js';
import { startLocalGateway, type LocalGateway } from '../../local/gateway/local-gateway.js';
import { PrincipalRegistry } from '../../local/iam/principals.js';
import { TemplatePolicies } from '../../local/iam/template-policies.js';
import { startLocalRuntime } from '../../local/runtime.js';

const account = '000000000000';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { calls: { type: 'string', default: '2000' }, 'no-ready': { type: 'boolean', default: false } } });
  const calls = Number(values.calls);
  const emulators = await startEmulators({ dynamodbPort: 0, sqsPort: 0, sharedDb: true, fastJvmStartup: true, startTimeoutMs: 120_000 });
  const gateways: LocalGateway[] = [];
  const clients: { destroy(): void }[] = [];
  try {
    const tableName = `bench-${randomUUID()}`;
    const queueName = `bench-${randomUUID()}`;
    const tableArn = `arn:aws:dynamodb:us-east-1:${account}:table/${tableName}`;
    const queueArn = `arn:aws:sqs:us-east-1:${account}:${queueName}`;
    const direct = {
      ddb: new DynamoDBClient({ endpoint: emulators.dynamodbEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }),
      sqs: new SQSClient({ endpoint: emulators.sqsEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }),
    };
    clients.push(direct.ddb, direct.sqs);
    await direct.ddb.send(
      new CreateTableCommand({ TableName: tableName, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }),
    );
    await direct.ddb.send(new PutItemCommand({ TableName: tableName, Item: { pk: { S: 'k' }, v: { S: 'x'.repeat(200) } } }));
    const { QueueUrl } = await direct.sqs.send(new CreateQueueCommand({ QueueName: queueName }));

    const paths: { name: string; ddb: DynamoDBClient; sqs: SQSClient; queueUrl: string }[] = [{ name: 'direct to the emulator', ...direct, queueUrl: QueueUrl! }];
    for (const enforce of [false, true]) {
      const principals = new PrincipalRegistry({ accountId: account, partition: 'aws', callerCredentials: LOCAL_CREDENTIALS });
      const policies = new TemplatePolicies();
      // A policy shaped like CDK's grants: several statements, the match in the last one.
      const fn = principals.addFunction({
        functionName: 'bench',
        functionArn: `arn:aws:lambda:us-east-1:${account}:function:bench`,
        roleArn: `arn:aws:iam::${account}:role/BenchRole`,
        policies: [
          { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: '*' }] },
          {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'], Resource: [tableArn, `${tableArn}/index/*`] },
              { Effect: 'Allow', Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], Resource: queueArn },
              { Effect: 'Allow', Action: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query'], Resource: [tableArn, `${tableArn}/index/*`] },
            ],
          },
        ],
      });
      policies.resourcePolicies.set(queueArn, {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sqs:*', Resource: queueArn, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }],
      });
      const gateway = await startLocalGateway({ port: 0, enforce, principals, policies, dynamodbEndpoint: emulators.dynamodbEndpoint, sqsEndpoint: emulators.sqsEndpoint, region: 'us-east-1', accountId: account, partition: 'aws' });
      gateways.push(gateway);
      const credentials = { accessKeyId: fn.accessKeyId, secretAccessKey: fn.secretAccessKey! };
      const ddb = new DynamoDBClient({ endpoint: gateway.url, region: LOCAL_REGION, credentials });
      const sqs = new SQSClient({ endpoint: gateway.url, region: LOCAL_REGION, credentials });
      clients.push(ddb, sqs);
      paths.push({ name: `gateway, IAM ${enforce ? 'enforced' : 'off'}`, ddb, sqs, queueUrl: `${gateway.url}/${account}/${queueName}` });
    }

    const results: Record<string, { getItem: number[]; sendMessage: number[] }> = {};
    // Interleaved rounds so that machine load hits every path alike.
    for (const path of paths) results[path.name] = { getItem: [], sendMessage: [] };
    const warmUp = Math.min(200, calls / 10);
    for (let i = 0; i < calls + warmUp; i++) {
      for (const path of paths) {
        let t = performance.now();
        await path.ddb.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: 'k' } } }));
        const getItem = performance.now() - t;
        t = performance.now();
        await path.sqs.send(new SendMessageCommand({ QueueUrl: path.queueUrl, MessageBody: 'bench' }));
        const sendMessage = performance.now() - t;
        if (i >= warmUp) {
          results[path.name]!.getItem.push(getItem);
          results[path.name]!.sendMessage.push(sendMessage);
        }
      }
    }
    const row = (name: string, samples: number[]) => `  ${name.padEnd(28)} median ${fmt(quantile(samples, 0.5))}  p99 ${fmt(quantile(samples, 0.99))}`;
    console.log(`\nPer-call latency, ${calls} sequential calls per path (ms):`);
    for (const op of ['getItem', 'sendMessage'] as const) {
      console.log(`${op === 'getItem' ? 'GetItem' : 'SendMessage'}:`);
      for (const path of paths) console.log(row(path.name, results[path.name]![op]));
      const [a, b, c] = paths.map((p) => results[p.name]![op]);
      console.log(`  → gateway hop (off − direct): median ${fmt(quantile(b!, 0.5) - quantile(a!, 0.5))}; IAM enforcement (enforced − off): median ${fmt(quantile(c!, 0.5) - quantile(b!, 0.5))}, p99 ${fmt(quantile(c!, 0.99) - quantile(b!, 0.99))}`);
    }
  } finally {
    clients.forEach((client) => client.destroy());
    await Promise.all(gateways.map((gateway) => gateway.close()));
    await emulators.stop();
  }

  if (values['no-ready']) return;
  console.log('\nStart-to-ready of test/fixtures/apps/basic (assembly synthesized once, then reused):');
  const outDir = `.bench/iam-ready-${process.pid}`;
  try {
    for (const iam of [true, false, true, false]) {
      const runtime = await startLocalRuntime({ app: 'npx tsx test/fixtures/apps/basic/app.ts', outDir, ports: { api: 0, edge: 0, dynamodb: 0 }, quiet: true, iam });
      console.log(`  IAM ${iam ? 'enforced' : 'off     '}  ready in ${Math.round(runtime.readyMs)} ms`);
      await runtime.stop();
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

function quantile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function fmt(ms: number): string {
  return `${ms.toFixed(3)} ms`;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
